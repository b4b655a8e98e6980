// Where read plans meet HTTP: after the guard (key check, rate limit) and the read cache, before
// Apollo. A request whose document has a plan (read-plans.ts) is answered here in one SQL
// statement; every other request, and a planned one that would not succeed exactly as planned
// (a variable or argument refused, a limit exceeded, the database failing), goes on to Apollo,
// which answers it, errors included, the usual way.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { RequestHandler } from 'express';
import { getArgumentValues, getVariableValues, type GraphQLSchema } from 'graphql';
import { PreparedReads } from '../database/prepared-reads.js';
import { Role, roleAllows } from '../domain/entities/index.js';
import { operationLabel, rootFieldsOf } from '../observability/graphql-plugin.js';
import type { AppMetrics } from '../observability/metrics.js';
import { requestAuth } from '../security/http-guard.js';
import { limitErrors, measureOperation, type QueryLimits } from '../security/query-limits.js';
import { keysetPage, pageRequest, type PageArgs } from './connection.js';
import { checkVmFilter } from './filters.js';
import { MAX_OPERATION_NAME, sendAnswer } from './read-cache-http.js';
import { answerContentType, cacheKey, forbidsStoring, type ReadCache } from './read-cache.js';
import { VM_KEYSET, vmSource, type VmFilterValues } from './read-pages.js';
import { planRead, renderAnswer, type PlannedRow, type ReadPlan } from './read-plans.js';

/** Documents longer than this are not planned (nor remembered): the plans' memory stays bounded. */
const MAX_PLANNED_QUERY = 16_384;
const MAX_PLANS = 500;

/** Plans by document and operation name, least recently used out first; "no plan" is remembered too. */
export class ReadPlans {
  private readonly plans = new Map<string, ReadPlan | null>();
  private readonly roots: ReturnType<typeof rootFieldsOf>;

  constructor(readonly schema: GraphQLSchema) {
    this.roots = rootFieldsOf(schema);
  }

  get(query: string, operationName: string | null): ReadPlan | null {
    if (query.length > MAX_PLANNED_QUERY) return null;
    const key = `${operationName ?? ''}\n${query}`;
    let plan = this.plans.get(key);
    if (plan === undefined) {
      plan = planRead(this.schema, query, operationName);
      if (this.plans.size >= MAX_PLANS) this.plans.delete(this.plans.keys().next().value!);
    } else this.plans.delete(key);
    this.plans.set(key, plan);
    return plan;
  }

  label(plan: ReadPlan): string {
    return operationLabel(plan.operation, this.roots);
  }
}

export function answerFromReadPlan(deps: { orm: MikroORM; plans: ReadPlans; limits: QueryLimits; cache: ReadCache; metrics: AppMetrics }): RequestHandler {
  const { orm, plans, limits, cache, metrics } = deps;
  const schema = plans.schema;
  const reads = new PreparedReads(orm);
  return async (req, res, next) => {
    const started = performance.now();
    const body = req.body as { query?: unknown; operationName?: unknown; variables?: unknown; extensions?: unknown } | undefined;
    // Apollo's own checks of a POST body come first: anything unusual is Apollo's to answer.
    if (req.method !== 'POST' || !body || typeof body !== 'object' || Array.isArray(body) || typeof body.query !== 'string') return next();
    // A persisted query is Apollo's to check and keep; other extensions (a client's name) change nothing.
    const extensions = body.extensions;
    if (extensions != null && (typeof extensions !== 'object' || Array.isArray(extensions) || 'persistedQuery' in extensions)) return next();
    const operationName = body.operationName ?? null;
    const variables = body.variables ?? {};
    if ((operationName !== null && typeof operationName !== 'string') || typeof variables !== 'object' || Array.isArray(variables)) return next();
    const auth = requestAuth(res);
    const contentType = answerContentType(req.headers.accept);
    // `vms` asks for VIEWER; a request without a valid key hears why from Apollo.
    if (!auth || !roleAllows(auth.role, Role.VIEWER) || !contentType) return next();
    const plan = plans.get(body.query, operationName);
    if (!plan) return next();

    const decline = () => {
      metrics.readPlanRequests.labels('declined').inc();
      next();
    };
    const values = variables as Record<string, unknown>;
    const coerced = getVariableValues(schema, plan.operation.variableDefinitions ?? [], values);
    if (coerced.errors || limitErrors(measureOperation(schema, plan.document, plan.operation, values), limits).length) return decline();
    let args: PageArgs & { filter?: VmFilterValues | null };
    let request: ReturnType<typeof pageRequest>;
    let filter: VmFilterValues | null;
    try {
      args = getArgumentValues(plan.fieldDef, plan.field, coerced.coerced) as typeof args;
      request = pageRequest(VM_KEYSET, args, { fieldNodes: [plan.field] } as never);
      filter = checkVmFilter(args.filter as never);
    } catch {
      return decline();
    }

    // As readCachePlugin decides: kept unless the request says no-store.
    const cacheable = cache.active && !forbidsStoring(req.headers['cache-control']);
    const generation = cache.generation;
    let text: string;
    try {
      const page = await keysetPage<PlannedRow>(reads, VM_KEYSET, vmSource(filter, null, plan.nodeSelect), request, plan.withCount);
      text = renderAnswer(plan, page);
    } catch {
      // the full pipeline runs it again and reports the failure as every read does
      return decline();
    }
    const operation = plans.label(plan);
    if (cacheable) cache.set(cacheKey(auth.role, body.query, body.operationName, body.variables), generation, { body: text, operation });
    // as the observability plugin names it: the operation's own name, else the one the request gave
    const name = (plan.operation.name?.value ?? operationName)?.slice(0, MAX_OPERATION_NAME) ?? null;
    metrics.readPlanRequests.labels('planned').inc();
    sendAnswer(res, metrics, { body: text, operation, operationName: name, auth, contentType, readCache: cacheable ? 'miss' : 'bypass', started, planned: true });
  };
}
