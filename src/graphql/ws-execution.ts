// How operations run over graphql-ws. Each runs under its log context (logger.ts), as HTTP
// requests do. Each subscription event is executed with a fresh unit of work and fresh loaders:
// a subscription lives for hours, and its events' nested fields must show the data as it is when
// the event is delivered (a loader cache kept for the subscription would also grow without bound).
import type { MikroORM } from '@mikro-orm/postgresql';
import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { withLogContext, type LogContext } from '../observability/logger.js';
import type { GraphQLContext } from './context.js';
import { withDryRuns } from './dry-run.js';
import { createReadLoaders } from './read-model.js';

const logOf = (ctx: GraphQLContext): LogContext => ({ requestId: ctx.requestId, keyId: ctx.auth?.keyId ?? null });

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> => v != null && typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';

/** graphql-ws's `execute` and `subscribe` options. */
export function wsExecution(orm: MikroORM) {
  /** The context one event is executed with: the subscription's, with its own unit of work. */
  const forEvent = (ctx: GraphQLContext): GraphQLContext => {
    const em = orm.em.fork();
    return { ...ctx, em, loaders: createReadLoaders(em) };
  };

  return {
    // A dry-run mutation's plan goes in the result's extensions, as over HTTP (dry-run.ts).
    execute: (args: ExecutionArgs) => withLogContext(logOf(args.contextValue as GraphQLContext), async () => withDryRuns(await execute(args), args.contextValue as GraphQLContext)),

    // graphql-js's own subscribe, except that each event gets forEvent()'s context.
    subscribe: async (args: ExecutionArgs): Promise<ExecutionResult | AsyncIterableIterator<ExecutionResult>> => {
      const ctx = args.contextValue as GraphQLContext;
      const stream = await withLogContext(logOf(ctx), () => createSourceEventStream(args));
      if (!isAsyncIterable(stream)) return stream as ExecutionResult;
      const source = stream[Symbol.asyncIterator]();
      // A hand-written iterator, not an async generator: return() must reach the source at once,
      // even while it waits for the next event (graphql-ws calls it when the client completes).
      const events: AsyncIterableIterator<ExecutionResult> = {
        async next() {
          const item = await source.next();
          if (item.done) return { done: true, value: undefined };
          const eventCtx = forEvent(ctx);
          const value = await withLogContext(logOf(eventCtx), () => execute({ ...args, rootValue: item.value, contextValue: eventCtx }));
          return { done: false, value };
        },
        async return() {
          await source.return?.();
          return { done: true, value: undefined };
        },
        async throw(error: unknown) {
          await source.return?.();
          throw error;
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      };
      return events;
    },
  };
}
