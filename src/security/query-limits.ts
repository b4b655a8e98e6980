// Query depth and complexity limits as one GraphQL validation rule (graphql 16, no extra package).
// A request over either limit is refused before any resolver runs, on HTTP and WebSocket alike.
//
// Cost model (docs/security.md): every field costs 1 plus its selection times a multiplier:
//   - a field with a `first` argument multiplies by `first` (a variable counts as its default,
//     or as the largest page, MAX_PAGE_SIZE, when it has none: validation cannot see variables);
//   - `edges` of a connection is already counted by the connection's `first`: multiplier 1;
//   - any other list multiplies by LIST_FACTOR (a VM has a handful of rules, not hundreds);
//   - introspection (`__schema`, `__type`) is bounded by the schema, not the data: multiplier 1,
//     and it does not count towards the depth limit (it has its own, INTROSPECTION_MAX_DEPTH).
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
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
} from 'graphql';
import { MAX_PAGE_SIZE } from '../graphql/connection.js';

export const LIST_FACTOR = 10;
export const INTROSPECTION_MAX_DEPTH = 20;

export interface QueryCost {
  /** nesting of data fields (introspection excluded) */
  depth: number;
  /** nesting of all fields, introspection included */
  fullDepth: number;
  complexity: number;
}

export interface QueryLimits {
  maxDepth: number;
  maxComplexity: number;
}

/** Measures one operation of a document against the schema (pure). */
export function measureOperation(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): QueryCost {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const variableDefaults = new Map<string, ValueNode | undefined>(
    (operation.variableDefinitions ?? []).map((v) => [v.variable.name.value, v.defaultValue]),
  );

  const pageOf = (value: ValueNode): number => {
    const literal = value.kind === Kind.VARIABLE ? variableDefaults.get(value.name.value) : value;
    if (literal?.kind === Kind.INT) return Math.max(1, Math.min(Number(literal.value), MAX_PAGE_SIZE));
    return MAX_PAGE_SIZE;
  };

  const walk = (set: SelectionSetNode, type: GraphQLNamedType | undefined, introspection: boolean, visiting: Set<string>): QueryCost => {
    const total: QueryCost = { depth: 0, fullDepth: 0, complexity: 0 };
    const add = (c: QueryCost) => {
      total.depth = Math.max(total.depth, c.depth);
      total.fullDepth = Math.max(total.fullDepth, c.fullDepth);
      total.complexity += c.complexity;
    };
    for (const sel of set.selections) {
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const frag = fragments.get(sel.name.value);
        // An unknown or cyclic spread is reported by graphql's own rules; do not recurse forever.
        if (!frag || visiting.has(frag.name.value)) continue;
        const inner = new Set(visiting).add(frag.name.value);
        add(walk(frag.selectionSet, schema.getType(frag.typeCondition.name.value) ?? type, introspection, inner));
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) ?? type : type;
        add(walk(sel.selectionSet, t, introspection, visiting));
      } else {
        const name = sel.name.value;
        const intro = introspection || name.startsWith('__');
        const def = type && (isObjectType(type) || isInterfaceType(type)) ? type.getFields()[name] : undefined;
        const fieldType = def?.type ?? (name === '__schema' ? schema.getType('__Schema') : name === '__type' ? schema.getType('__Type') : undefined);
        const child = sel.selectionSet
          ? walk(sel.selectionSet, fieldType ? getNamedType(fieldType) : undefined, intro, visiting)
          : { depth: 0, fullDepth: 0, complexity: 0 };
        let multiplier = 1;
        const first = sel.arguments?.find((a) => a.name.value === 'first');
        if (first) multiplier = pageOf(first.value);
        else if (!intro && fieldType && isListType(getNullableType(fieldType)) && !(name === 'edges' && type?.name.endsWith('Connection'))) {
          multiplier = LIST_FACTOR;
        }
        add({
          depth: (intro ? 0 : 1) + child.depth,
          fullDepth: 1 + child.fullDepth,
          complexity: 1 + multiplier * child.complexity,
        });
      }
    }
    return total;
  };

  const root = schema.getRootType(operation.operation) ?? undefined;
  return walk(operation.selectionSet, root, false, new Set());
}

/** The validation rule enforcing `limits` on every operation of a document. */
export function queryLimitRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext) => ({
    OperationDefinition(node: OperationDefinitionNode) {
      const cost = measureOperation(context.getSchema(), context.getDocument(), node);
      const introLimit = Math.max(limits.maxDepth, INTROSPECTION_MAX_DEPTH);
      if (cost.depth > limits.maxDepth || cost.fullDepth > introLimit) {
        const [depth, limit] = cost.depth > limits.maxDepth ? [cost.depth, limits.maxDepth] : [cost.fullDepth, introLimit];
        context.reportError(
          new GraphQLError(`query depth ${depth} exceeds the limit of ${limit} (MAX_QUERY_DEPTH)`, {
            nodes: [node],
            extensions: { code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_DEEP', depth, limit },
          }),
        );
      }
      if (cost.complexity > limits.maxComplexity) {
        context.reportError(
          new GraphQLError(`query complexity ${cost.complexity} exceeds the limit of ${limits.maxComplexity} (MAX_QUERY_COMPLEXITY); ask for smaller pages or fewer nested lists`, {
            nodes: [node],
            extensions: { code: 'BAD_USER_INPUT', reason: 'QUERY_TOO_COMPLEX', complexity: cost.complexity, limit: limits.maxComplexity },
          }),
        );
      }
    },
  });
}
