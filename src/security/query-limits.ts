// What one GraphQL document may cost, measured before anything runs (graphql 16, no extra package),
// on HTTP (an Apollo plugin) and WebSocket alike (docs/security.md#limits).
//
// Cost model: every field costs its own price plus its selection times a multiplier:
//   - its own price is 1, or the `complexity` its resolver declares (type-graphql's option, kept
//     in the field's extensions): the fields that call the router or take its lock
//     (ROUTER_READ_COST, ROUTER_WRITE_COST) and every mutation;
//   - a field with a `first` argument multiplies by `first`: the request's real value, else the
//     variable's default, else the argument's default, else the largest page (MAX_PAGE_SIZE);
//     with `last` given, by `last` (no default: a variable not sent counts as the largest page);
//   - `edges` of a connection is already counted by the connection's `first`: multiplier 1;
//   - any other list multiplies by LIST_FACTOR (a VM has a handful of rules, not hundreds);
//   - introspection (`__schema`, `__type`) is bounded by the schema, not the data: multiplier 1,
//     and it does not count towards the depth limit (it has its own, INTROSPECTION_MAX_DEPTH).
// Aliases and root mutation fields are counted too: root mutation fields run one after the other,
// each its own router commit, so a document may hold only a few.
// The rate limiter charges an operation its cost in units of COST_UNIT points (at least one).
import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  isInterfaceType,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { Config } from '../config.js';
import { MAX_PAGE_SIZE } from '../graphql/connection.js';

export const LIST_FACTOR = 10;
export const INTROSPECTION_MAX_DEPTH = 20;
/** Points per rate-limit unit: an operation is charged max(1, floor(cost / COST_UNIT)) units. */
export const COST_UNIT = 1000;
/** A change set (every mutation but the few below): it joins a shared, batched router commit. */
export const CHANGE_COST = COST_UNIT;
/** A few small router calls without the router lock (`health`). */
export const ROUTER_CHECK_COST = COST_UNIT;
/**
 * The router's whole NAT table (or configuration) read under the router lock, which waits for
 * every batch in flight: `syncReport`, `reconcile`, `importRouterRules`, snapshots taken or restored.
 */
export const ROUTER_SCAN_COST = 10 * COST_UNIT;

export interface QueryCost {
  /** nesting of data fields (introspection excluded) */
  depth: number;
  /** nesting of all fields, introspection included */
  fullDepth: number;
  complexity: number;
  /** fields with an alias, each spread of a fragment counted again */
  aliases: number;
  /** root mutation fields: each runs alone, one after the other */
  mutationFields: number;
}

export interface QueryLimits {
  maxDepth: number;
  maxComplexity: number;
  maxAliases: number;
  maxMutationFields: number;
}

/** The document limits of both transports (HTTP: queryLimitsPlugin; WebSocket: onSubscribe). */
export function queryLimits(config: Config): QueryLimits {
  return { maxDepth: config.maxQueryDepth, maxComplexity: config.maxQueryComplexity, maxAliases: config.maxQueryAliases, maxMutationFields: config.maxMutationFields };
}

type Variables = Readonly<Record<string, unknown>> | null | undefined;

const NOTHING: QueryCost = { depth: 0, fullDepth: 0, complexity: 0, aliases: 0, mutationFields: 0 };

/** A field's own price: the `complexity` its resolver declared, else 1. */
function ownCost(def: GraphQLField<unknown, unknown> | undefined): number {
  const declared = def?.extensions?.complexity;
  return typeof declared === 'number' && declared >= 0 ? declared : 1;
}

/**
 * Measures one operation of a document against the schema (pure). `variables` are the request's
 * (`{}` when it sent none); left out, a variable counts as its default, or as the largest page.
 */
export function measureOperation(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables?: Variables): QueryCost {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const variableDefaults = new Map<string, ValueNode | undefined>(
    (operation.variableDefinitions ?? []).map((v) => [v.variable.name.value, v.defaultValue]),
  );
  const mutationType = schema.getMutationType();
  const page = (n: unknown): number | null => (typeof n === 'number' && Number.isInteger(n) ? Math.max(1, Math.min(n, MAX_PAGE_SIZE)) : null);

  const pageOf = (value: ValueNode | undefined, def: GraphQLField<unknown, unknown> | undefined): number => {
    const argumentDefault = page(def?.args.find((a) => a.name === 'first')?.defaultValue) ?? MAX_PAGE_SIZE;
    if (!value) return argumentDefault;
    if (value.kind === Kind.INT) return page(Number(value.value)) ?? MAX_PAGE_SIZE;
    if (value.kind !== Kind.VARIABLE) return MAX_PAGE_SIZE;
    const name = value.name.value;
    if (variables && Object.hasOwn(variables, name)) return page(variables[name]) ?? MAX_PAGE_SIZE;
    const fallback = variableDefaults.get(name);
    if (fallback) return fallback.kind === Kind.INT ? page(Number(fallback.value)) ?? MAX_PAGE_SIZE : MAX_PAGE_SIZE;
    // Not sent and no default: the argument's own default applies; unknown variables: the worst case.
    return variables ? argumentDefault : MAX_PAGE_SIZE;
  };

  // A fragment costs the same wherever it is spread: measured once (a fragment that spreads
  // another twice, and so on, would otherwise take exponential time to price).
  const fragmentCosts = new Map<string, QueryCost>();

  const walk = (set: SelectionSetNode, type: GraphQLNamedType | undefined, introspection: boolean, visiting: Set<string>): QueryCost => {
    const total: QueryCost = { ...NOTHING };
    const add = (c: QueryCost) => {
      total.depth = Math.max(total.depth, c.depth);
      total.fullDepth = Math.max(total.fullDepth, c.fullDepth);
      total.complexity += c.complexity;
      total.aliases += c.aliases;
      total.mutationFields += c.mutationFields;
    };
    for (const sel of set.selections) {
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const frag = fragments.get(sel.name.value);
        // An unknown or cyclic spread is reported by graphql's own rules; do not recurse forever.
        if (!frag || visiting.has(frag.name.value)) continue;
        const memo = `${introspection}:${frag.name.value}`;
        let cost = fragmentCosts.get(memo);
        if (!cost) {
          const inner = new Set(visiting).add(frag.name.value);
          cost = walk(frag.selectionSet, schema.getType(frag.typeCondition.name.value) ?? type, introspection, inner);
          fragmentCosts.set(memo, cost);
        }
        add(cost);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) ?? type : type;
        add(walk(sel.selectionSet, t, introspection, visiting));
      } else {
        const name = sel.name.value;
        const intro = introspection || name.startsWith('__');
        const def = type && (isObjectType(type) || isInterfaceType(type)) ? type.getFields()[name] : undefined;
        const fieldType = def?.type ?? (name === '__schema' ? schema.getType('__Schema') : name === '__type' ? schema.getType('__Type') : undefined);
        const child = sel.selectionSet ? walk(sel.selectionSet, fieldType ? getNamedType(fieldType) : undefined, intro, visiting) : NOTHING;
        let multiplier = 1;
        const first = sel.arguments?.find((a) => a.name.value === 'first');
        const last = sel.arguments?.find((a) => a.name.value === 'last');
        // `last` has no default: when given, it is the page size (the largest page when it is a variable not sent)
        if (last) multiplier = Math.max(pageOf(last.value, undefined), first ? pageOf(first.value, def) : 0);
        else if (first || def?.args.some((a) => a.name === 'first')) multiplier = pageOf(first?.value, def);
        else if (!intro && fieldType && isListType(getNullableType(fieldType)) && !(name === 'edges' && type?.name.endsWith('Connection'))) {
          multiplier = LIST_FACTOR;
        }
        add({
          depth: (intro ? 0 : 1) + child.depth,
          fullDepth: 1 + child.fullDepth,
          complexity: (intro ? 1 : ownCost(def)) + multiplier * child.complexity,
          aliases: (sel.alias ? 1 : 0) + child.aliases,
          mutationFields: (mutationType && type === mutationType ? 1 : 0) + child.mutationFields,
        });
      }
    }
    return total;
  };

  const root = schema.getRootType(operation.operation) ?? undefined;
  return walk(operation.selectionSet, root, false, new Set());
}

/** The operation's rate-limit charge in units (docs/security.md#rate-limits). */
export function costUnits(cost: Pick<QueryCost, 'complexity'>): number {
  return Math.max(1, Math.floor(cost.complexity / COST_UNIT));
}

/** Refusals of a measured operation, in the closed vocabulary (BAD_USER_INPUT with a reason). */
export function limitErrors(cost: QueryCost, limits: QueryLimits): GraphQLError[] {
  const errors: GraphQLError[] = [];
  const refuse = (message: string, extensions: Record<string, unknown>) =>
    errors.push(new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', ...extensions } }));
  const introLimit = Math.max(limits.maxDepth, INTROSPECTION_MAX_DEPTH);
  if (cost.depth > limits.maxDepth || cost.fullDepth > introLimit) {
    const [depth, limit] = cost.depth > limits.maxDepth ? [cost.depth, limits.maxDepth] : [cost.fullDepth, introLimit];
    refuse(`query depth ${depth} exceeds the limit of ${limit} (MAX_QUERY_DEPTH)`, { reason: 'QUERY_TOO_DEEP', depth, limit });
  }
  if (cost.complexity > limits.maxComplexity) {
    refuse(`query complexity ${cost.complexity} exceeds the limit of ${limits.maxComplexity} (MAX_QUERY_COMPLEXITY); ask for smaller pages, fewer nested lists or fewer router reads`, {
      reason: 'QUERY_TOO_COMPLEX',
      complexity: cost.complexity,
      limit: limits.maxComplexity,
    });
  }
  if (cost.aliases > limits.maxAliases) {
    refuse(`${cost.aliases} aliases exceed the limit of ${limits.maxAliases} per document (MAX_QUERY_ALIASES)`, { reason: 'TOO_MANY_ALIASES', aliases: cost.aliases, limit: limits.maxAliases });
  }
  if (cost.mutationFields > limits.maxMutationFields) {
    refuse(`${cost.mutationFields} mutation fields exceed the limit of ${limits.maxMutationFields} per document (MAX_MUTATION_FIELDS); send concurrent requests instead, they share router commits`, {
      reason: 'TOO_MANY_MUTATIONS',
      mutationFields: cost.mutationFields,
      limit: limits.maxMutationFields,
    });
  }
  return errors;
}

/**
 * HTTP: measures the operation Apollo resolved, with the request's variables, and refuses it
 * (HTTP 400, nothing runs) when it is over a limit. Runs before the read cache and execution.
 */
export function queryLimitsPlugin(limits: QueryLimits): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return;
          const [error] = limitErrors(measureOperation(schema, document, operation, request.variables ?? {}), limits);
          if (error) throw new GraphQLError(error.message, { nodes: [operation], extensions: { ...error.extensions, http: { status: 400 } } });
        },
      };
    },
  };
}
