// The HTTP surface: POST /graphql (and graphql-ws on the same path), /health, /ready, /metrics.
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type Express } from 'express';
import { type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { keyFromHeaders, resolveKey } from './graphql/auth.js';
import type { AppServices, GraphQLContext } from './graphql/context.js';
import { auditPlugin } from './graphql/audit.js';
import { dryRunPlugin } from './graphql/dry-run.js';
import { formatError } from './graphql/errors.js';
import { graphqlOverHttpPlugin } from './graphql/graphql-over-http.js';
import { PersistedQueryStore } from './graphql/persisted-queries.js';
import { createReadLoaders } from './graphql/read-model.js';
import { answerFromReadCache, readCachePlugin } from './graphql/read-cache-http.js';
import { answerFromReadPlan, ReadPlans } from './graphql/read-plans-http.js';
import { graphqlIde } from './graphql/ide.js';
import { wsExecution } from './graphql/ws-execution.js';
import { checkHealth, checkReadiness } from './observability/health.js';
import { graphqlObservabilityPlugin } from './observability/graphql-plugin.js';
import { bindRequestContext, metricsEndpoint, noteRequestKey, observeRequests, observeSockets, resumeRequestContext } from './observability/http.js';
import { applyHttpHardening, clientAddress, graphqlGuard, httpErrorHandler, requestAuth } from './security/http-guard.js';
import { queryLimits, queryLimitsPlugin } from './security/query-limits.js';
import { PgBucketStore, RateLimiter } from './security/rate-limit.js';
import { socketClientAddress, wsGuard, type WsExtra } from './security/ws-guard.js';
import { Shutdown } from './shutdown.js';

export interface HttpServer {
  url: string;
  port: number;
  express: Express;
  server: Server;
  /** graceful shutdown: begin() stops taking work, idle() waits for what runs (app.ts stop()) */
  shutdown: Shutdown;
  close(): Promise<void>;
}

export async function startHttpServer(schema: GraphQLSchema, app: AppServices): Promise<HttpServer> {
  const { config, orm, logger } = app;
  const web = express();
  // First, so every request (even a CORS preflight) gets an id, a log line and a metric sample (docs/monitoring.md).
  const { metrics } = app;
  web.use(observeRequests(metrics, logger));
  // Counts running requests; once shutdown has begun, refuses new ones (503, Connection: close).
  const shutdown = new Shutdown();
  web.use(shutdown.gate());
  // Security headers, CORS allow-list, trusted proxies; limits and key checks (docs/security.md).
  applyHttpHardening(web, config);
  // Counted in PostgreSQL: every replica spends the same budgets (docs/security.md#rate-limits).
  const limiter = new RateLimiter(new PgBucketStore(orm, logger), { writesPerMinute: config.rateLimitWritesPerMinute, readsPerMinute: config.rateLimitReadsPerMinute }, logger);
  const limits = queryLimits(config);
  // With introspection off, error messages must not hint at the schema either (docs/security.md).
  const formatErrors = formatError(logger, { hideSchemaHints: !config.graphqlIntrospection });
  const persistedQueries = new PersistedQueryStore();
  const ws = wsGuard({ orm, schema, config, logger, limiter, keys: app.keys, formatError: formatErrors, draining: () => shutdown.isDraining });
  const sockets = observeSockets(metrics, logger);
  const execution = wsExecution(orm);
  const server = createServer(web);

  const wsServer = new WebSocketServer({ server, path: '/graphql' });
  const wsCleanup = useServer<{ authorization?: string; 'x-api-key'?: string }, WsExtra>(
    {
      schema,
      ...ws.options,
      // Each operation under its log context; each subscription event with fresh loaders.
      ...execution,
      // Queries and mutations count as running work until their result is ready (graceful shutdown).
      execute: (args) => shutdown.track(() => execution.execute(args)),
      // A subscription socket must present a valid key up front (closed with 4403 and the reason otherwise).
      onConnect: async (ctx) => {
        if (shutdown.isDraining) {
          ctx.extra.socket.close(1001, 'Going away: the server is shutting down');
          return false;
        }
        const { auth, refusal } = await ws.authenticate(ctx);
        if (!auth) {
          sockets.refused(refusal);
          return false;
        }
        if (!ws.admit(ctx, auth)) return false;
        ctx.extra.auth = auth;
        sockets.opened(auth);
        return true;
      },
      onDisconnect: (ctx, code) => sockets.closed(ctx.extra.auth, code),
      // Per operation; a subscription's events each get a fresh unit of work (ws-execution.ts).
      context: (ctx): GraphQLContext => {
        const em = orm.em.fork();
        const address = socketClientAddress(ctx.extra.request, config.trustProxyHops);
        return { em, auth: ctx.extra.auth ?? null, app, requestId: randomUUID(), loaders: createReadLoaders(em), transport: 'ws', clientAddress: address };
      },
    },
    wsServer,
  );

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError: formatErrors,
    // formatError drops stack traces too; this keeps Apollo from computing them (its default
    // follows NODE_ENV, which neither `npm start` nor the systemd unit sets).
    includeStacktraceInErrorResponses: false,
    introspection: config.graphqlIntrospection,
    // Automatic persisted queries, in this process's memory (docs/security.md "Persisted queries").
    persistedQueries: { cache: persistedQueries },
    allowBatchedHttpRequests: false,
    // main.ts owns SIGTERM/SIGINT and shuts everything down in order.
    stopOnTerminationSignals: false,
    plugins: [
      // By the time Apollo stops, app.ts has waited for running work (Shutdown.idle): what is left
      // are idle sockets, or requests past the drain deadline, cut after this grace.
      ApolloServerPluginDrainHttpServer({ httpServer: server, stopGracePeriodMillis: 2000 }),
      { async serverWillStart() { return { async drainServer() { await wsCleanup.dispose(); } }; } },
      ApolloServerPluginLandingPageDisabled(),
      // We send no cache hints; the plugin would otherwise wrap every field of every response.
      ApolloServerPluginCacheControlDisabled(),
      // Document limits with the request's variables, before the read cache and execution.
      queryLimitsPlugin(limits),
      graphqlObservabilityPlugin(metrics),
      readCachePlugin(app.readCache, metrics),
      auditPlugin(logger),
      graphqlOverHttpPlugin(),
      dryRunPlugin(),
    ],
  });
  await apollo.start();

  web.get('/health', async (_req, res) => {
    const report = await checkHealth(app.health);
    res.status(report.status === 'down' ? 503 : 200).json(report);
  });
  web.get('/metrics', metricsEndpoint(metrics, config.metricsToken));
  // Liveness: the process answers. No dependency is checked, so a router or database outage
  // never makes an orchestrator restart healthy replicas (that is what /health and /ready are for).
  web.get('/live', (_req, res) => {
    res.json({ live: true });
  });
  // Readiness: the database only, within READY_TIMEOUT_MS; never the router (docs/deploy.md).
  web.get('/ready', async (_req, res) => {
    const database = await checkReadiness(orm);
    const ready = database.status !== 'down';
    res.status(ready ? 200 : 503).json(ready ? { ready, database: database.status } : { ready, database: database.status, detail: database.detail });
  });

  // Browsers get the offline IDE at GET /graphql; GraphQL requests fall through to Apollo.
  if (config.graphqlIde && config.graphqlIntrospection) web.use(graphqlIde());

  web.use(
    '/graphql',
    express.json({ limit: config.maxBodyBytes }),
    resumeRequestContext(),
    graphqlGuard({ orm, schema, limits, limiter, logger, keys: app.keys, persistedQueries }),
    answerFromReadCache(app.readCache, metrics),
    // The VM list without graphql-js, when its document has a plan (docs/performance.md "Planned reads").
    ...(config.readPlans ? [answerFromReadPlan({ orm, plans: new ReadPlans(schema), limits, cache: app.readCache, metrics })] : []),
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<GraphQLContext> => {
        const em = orm.em.fork();
        const requestId = (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].slice(0, 100)) || randomUUID();
        const known = requestAuth(res);
        const auth = known !== undefined ? known : await resolveKey(() => em, keyFromHeaders(req.headers.authorization, req.headers['x-api-key']), app.keys);
        noteRequestKey(res, auth?.keyId ?? null);
        return bindRequestContext(res, { em, auth, app, requestId, loaders: createReadLoaders(em), transport: 'http', clientAddress: clientAddress(req) });
      },
    }),
  );
  web.use(httpErrorHandler({ logger, maxBodyBytes: config.maxBodyBytes }));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return {
    url: `http://${host}:${port}`,
    port,
    express: web,
    server,
    shutdown,
    async close() {
      await apollo.stop();
      wsServer.close();
    },
  };
}
