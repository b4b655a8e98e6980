// Where the read cache meets HTTP. Apollo computes an answer and the plugin keeps it; the next
// identical request is answered at the HTTP edge, after the guard (key check, rate limit) and
// before Apollo: no parse, no execution, no serialization. What Apollo would have said is exactly
// what is kept, so only what the pipeline would repeat is skipped; the request still gets its
// metrics and its log line.
import type { ApolloServerPlugin } from '@apollo/server';
import type { Request, RequestHandler, Response } from 'express';
import { rootFieldsOf, operationLabel, type RootFields } from '../observability/graphql-plugin.js';
import { requestRecordOf } from '../observability/http.js';
import type { AppMetrics } from '../observability/metrics.js';
import type { AuthInfo, GraphQLContext } from './context.js';
import { requestAuth } from '../security/http-guard.js';
import { answerBody, answerContentType, cacheKey, forbidsStoring, isCacheable, wantsFreshAnswer, type CacheOutcome, type ReadCache } from './read-cache.js';

export const MAX_OPERATION_NAME = 100;

/** Computes and keeps answers to cacheable queries sent as JSON POSTs. */
export function readCachePlugin(cache: ReadCache, metrics: AppMetrics): ApolloServerPlugin<GraphQLContext> {
  let roots: RootFields = { query: new Set(), mutation: new Set(), subscription: new Set() };
  return {
    async serverWillStart({ schema }) {
      roots = rootFieldsOf(schema);
    },
    async requestDidStart() {
      let key: string | null = null;
      let generation = 0;
      let label = '';
      return {
        async responseForOperation({ contextValue, operation, request }) {
          const http = request.http;
          const cacheable =
            contextValue.auth !== null &&
            cache.active &&
            http?.method === 'POST' &&
            typeof request.query === 'string' &&
            !forbidsStoring(http.headers.get('cache-control')) &&
            isCacheable(operation);
          contextValue.readCache = cacheable ? 'miss' : 'bypass';
          if (cacheable) {
            key = cacheKey(contextValue.auth!.role, request.query!, request.operationName, request.variables);
            label = operationLabel(operation, roots);
            // Taken before execution: an answer is kept only if nothing changed while it was computed.
            generation = cache.generation;
          }
          return null;
        },
        async willSendResponse({ contextValue, response }) {
          if (contextValue.readCache) metrics.readCacheRequest(contextValue.readCache);
          if (!key || response.body.kind !== 'single' || response.http.status !== undefined && response.http.status !== 200) return;
          const { data, errors, extensions } = response.body.singleResult;
          if (data && !errors && !extensions) cache.set(key, generation, { body: answerBody(data), operation: label });
        },
      };
    },
  };
}

function lookup(cache: ReadCache, req: Request, res: Response) {
  if (req.method !== 'POST' || !cache.active || wantsFreshAnswer(req.headers['cache-control'])) return undefined;
  const auth = requestAuth(res);
  const body = req.body as { query?: unknown; operationName?: unknown; variables?: unknown } | undefined;
  if (!auth || !body || typeof body.query !== 'string' || Array.isArray(body)) return undefined;
  const answer = cache.get(cacheKey(auth.role, body.query, body.operationName, body.variables));
  if (!answer) return undefined;
  // A type Apollo would refuse (406) is Apollo's to refuse.
  const contentType = answerContentType(req.headers.accept);
  if (!contentType) return undefined;
  return { answer, auth, contentType, operationName: typeof body.operationName === 'string' ? body.operationName.slice(0, MAX_OPERATION_NAME) : null };
}

/** Express middleware after the guard: answers a request the cache holds, or passes it on to Apollo. */
export function answerFromReadCache(cache: ReadCache, metrics: AppMetrics): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const hit = lookup(cache, req, res);
    if (!hit) return next();
    const { answer, auth, contentType, operationName } = hit;
    sendAnswer(res, metrics, { ...answer, auth, contentType, operationName, readCache: 'hit', started });
  };
}

/**
 * A successful query's answer computed at the HTTP edge (a cache hit, a planned read), with what
 * Apollo's plugins would have recorded: the read cache outcome, the operation metric, the log line's details.
 */
export function sendAnswer(
  res: Response,
  metrics: AppMetrics,
  a: { body: string; operation: string; operationName: string | null; auth: AuthInfo; contentType: string; readCache: CacheOutcome; started: number; planned?: boolean },
): void {
  metrics.readCacheRequest(a.readCache);
  metrics.graphqlOperation(a.operation, 'query', [], (performance.now() - a.started) / 1000);
  const record = requestRecordOf(res);
  if (record) record.graphql = { operation: a.operation, operationName: a.operationName, type: 'query', errorCodes: [], auth: a.auth, readCache: a.readCache, ...(a.planned ? { planned: true } : {}) };
  res.status(200).setHeader('content-type', a.contentType);
  res.send(a.body);
}
