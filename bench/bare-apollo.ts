// The yardstick for read throughput: Apollo Server 5 on express 5 answering a constant, nothing
// else. Started as its own process by read-throughput.ts; prints `listening <port>` when ready.
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import type { AddressInfo } from 'node:net';

async function main(): Promise<void> {
  const apollo = new ApolloServer({ typeDefs: `type Query { hello: String! }`, resolvers: { Query: { hello: () => 'world' } } });
  await apollo.start();
  const web = express();
  web.use('/graphql', express.json(), expressMiddleware(apollo));
  const server = web.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
  process.on('SIGTERM', () => void apollo.stop().then(() => server.close(() => process.exit(0))));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
