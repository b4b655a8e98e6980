// Planned reads (docs/performance.md "Planned reads"): the VM list, the read dashboards and
// automation repeat most, answered without graphql-js. A document is planned once: when its
// operation is a `vms` page whose every field is a column (or a Relay field of the page), the plan
// is one SQL statement in which PostgreSQL writes each node's JSON, and the answer is those texts
// joined into the envelope. Anything else (fragments, directives, fields with resolvers, errors of
// any kind) is not planned and takes the full pipeline, so a planned answer is always the one
// graphql-js would give, byte for byte (test/integration/read-plans.test.ts compares them).
// Pure: planning and rendering; read-plans-http.ts runs plans.
import {
  getNamedType,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { selectOperation } from './audit.js';
import type { Page } from './connection.js';

/** Each planned Vm field's SQL (table `vm`); `portRules` is planned apart. */
const VM_FIELDS: Record<string, string> = {
  id: 'vm.id',
  name: 'vm.name',
  router: 'vm.router',
  internalIp: 'vm.internal_ip',
  macAddress: 'vm.mac_address',
  createdAt: isoTime('vm.created_at'),
  updatedAt: isoTime('vm.updated_at'),
};

/** Each planned PortRule field's SQL (table alias `"$rule"`); `hairpin` (a setting applies) and `vm` are not planned. */
const RULE = '"$rule"';
const RULE_FIELDS: Record<string, string> = {
  id: `${RULE}.id`,
  name: `${RULE}.name`,
  ruleNumber: `${RULE}.rule_number`,
  protocol: `${RULE}.protocol`,
  externalPort: `${RULE}.external_port`,
  internalPort: `${RULE}.internal_port`,
  portCount: `${RULE}.port_count`,
  sourceAddress: `${RULE}.source_address`,
  description: `${RULE}.description`,
  enabled: `${RULE}.enabled`,
  needsRepair: `${RULE}.needs_repair`,
  createdAt: isoTime(`${RULE}.created_at`),
  updatedAt: isoTime(`${RULE}.updated_at`),
};

/** The fields planned as columns, by type: a test checks none of them has a resolver of its own but `Vm.router`, which reads the column too. */
export const PLANNED_COLUMNS: Readonly<Record<'Vm' | 'PortRule', readonly string[]>> = { Vm: Object.keys(VM_FIELDS), PortRule: Object.keys(RULE_FIELDS) };

const PAGE_INFO_FIELDS = new Set(['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor', '__typename']);

/** DateTime as graphql-scalars writes a JavaScript Date: UTC, milliseconds (truncated, as `new Date` reads PostgreSQL's microseconds). */
function isoTime(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** A response key PostgreSQL keeps as it is: GraphQL names are [_A-Za-z][_0-9A-Za-z]*, and identifiers longer than 63 bytes are cut. */
const MAX_KEY = 63;

type PageInfoField = 'hasNextPage' | 'hasPreviousPage' | 'startCursor' | 'endCursor' | '__typename';
type EdgePart = { key: string; field: 'node' | 'cursor' | '__typename' };
type ConnectionPart =
  | { key: string; field: 'edges'; edge: EdgePart[] }
  | { key: string; field: 'pageInfo'; info: { key: string; field: PageInfoField }[] }
  | { key: string; field: 'totalCount' | '__typename' };

export interface ReadPlan {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** the `vms` field: its arguments are read per request (getArgumentValues) */
  field: FieldNode;
  fieldDef: GraphQLField<unknown, unknown>;
  /** the root selections in order: the page (under its response key) and any `__typename` */
  root: { key: string; page: boolean }[];
  connection: ConnectionPart[];
  /** the select list: each VM's node as JSON text, in "_node" */
  nodeSelect: string;
  withCount: boolean;
  queryType: string;
  connectionType: string;
  edgeType: string;
}

/** The fields of a selection set, or null when it holds anything a plan does not: fragments, directives, arguments, a response key twice. */
function plainFields(set: SelectionSetNode | undefined, allowArgs = false): FieldNode[] | null {
  if (!set) return null;
  const keys = new Set<string>();
  const fields: FieldNode[] = [];
  for (const s of set.selections) {
    if (s.kind !== Kind.FIELD || s.directives?.length || (!allowArgs && s.arguments?.length)) return null;
    const key = s.alias?.value ?? s.name.value;
    if (keys.has(key) || key.length > MAX_KEY) return null;
    keys.add(key);
    fields.push(s);
  }
  return fields;
}

const keyOf = (f: FieldNode) => f.alias?.value ?? f.name.value;
const ident = (key: string) => `"${key}"`;

/** One JSON object of columns: `row_to_json` writes it compactly, keys in selection order. */
function objectSql(parts: string[]): string {
  return `(select row_to_json("$o") from (select ${parts.join(', ')}) "$o")`;
}

function nodeSql(fields: FieldNode[], typeName: string): string | null {
  const parts: string[] = [];
  for (const f of fields) {
    const name = f.name.value;
    if (name === '__typename') parts.push(`text '${typeName}' as ${ident(keyOf(f))}`);
    else if (name === 'portRules') {
      const rules = rulesSql(plainFields(f.selectionSet));
      if (!rules) return null;
      parts.push(`${rules} as ${ident(keyOf(f))}`);
    } else if (name in VM_FIELDS && !f.selectionSet) parts.push(`${VM_FIELDS[name]} as ${ident(keyOf(f))}`);
    else return null;
  }
  return parts.length ? objectSql(parts) : null;
}

/** A VM's rules by rule number (port_rule_vm_id_index), as a JSON array. */
function rulesSql(fields: FieldNode[] | null): string | null {
  if (!fields?.length) return null;
  const parts: string[] = [];
  for (const f of fields) {
    const name = f.name.value;
    if (name === '__typename') parts.push(`text 'PortRule' as ${ident(keyOf(f))}`);
    else if (name in RULE_FIELDS && !f.selectionSet) parts.push(`${RULE_FIELDS[name]} as ${ident(keyOf(f))}`);
    else return null;
  }
  return `(select coalesce(array_to_json(array_agg(row_to_json("$o") order by ${RULE}.rule_number)), '[]'::json) from port_rule ${RULE} cross join lateral (select ${parts.join(', ')}) "$o" where ${RULE}.vm_id = vm.id)`;
}

function connectionParts(fields: FieldNode[]): { parts: ConnectionPart[]; node: string | null; withCount: boolean } | null {
  const parts: ConnectionPart[] = [];
  let node: string | null = null;
  let withCount = false;
  for (const f of fields) {
    const key = keyOf(f);
    switch (f.name.value) {
      case 'edges': {
        const edge: EdgePart[] = [];
        for (const e of plainFields(f.selectionSet) ?? []) {
          const name = e.name.value;
          if (name === 'node') {
            if (node !== null) return null;
            node = nodeSql(plainFields(e.selectionSet) ?? [], 'Vm');
            if (!node) return null;
          } else if (name !== 'cursor' && name !== '__typename') return null;
          edge.push({ key: keyOf(e), field: name });
        }
        if (!edge.length) return null;
        parts.push({ key, field: 'edges', edge });
        break;
      }
      case 'pageInfo': {
        const info = (plainFields(f.selectionSet) ?? []).map((i) => ({ key: keyOf(i), field: i.name.value as PageInfoField }));
        if (!info.length || info.some((i) => !PAGE_INFO_FIELDS.has(i.field))) return null;
        parts.push({ key, field: 'pageInfo', info });
        break;
      }
      case 'totalCount':
        withCount = true;
        parts.push({ key, field: 'totalCount' });
        break;
      case '__typename':
        parts.push({ key, field: '__typename' });
        break;
      default:
        return null;
    }
  }
  return { parts, node, withCount };
}

/**
 * The plan of a request's document and operation name, or null when it has none: it does not
 * parse or validate (the full pipeline says why), or it asks for anything but one `vms` page of
 * planned fields. One `edges { node }` at most; a page without nodes still reads their ids.
 */
export function planRead(schema: GraphQLSchema, query: string, operationName: string | null): ReadPlan | null {
  let document: DocumentNode;
  try {
    document = parse(query, { noLocation: true });
  } catch {
    return null;
  }
  const operation = selectOperation(document, operationName);
  if (!operation || operation.operation !== 'query' || operation.directives?.length) return null;
  if (document.definitions.some((d) => d.kind === Kind.FRAGMENT_DEFINITION)) return null;
  const queryType = schema.getQueryType();
  const fieldDef = queryType?.getFields().vms;
  if (!queryType || !fieldDef) return null;
  const rootFields = plainFields(operation.selectionSet, true);
  if (!rootFields) return null;
  const pages = rootFields.filter((f) => f.name.value === 'vms');
  if (pages.length !== 1 || rootFields.some((f) => f.name.value !== 'vms' && (f.name.value !== '__typename' || f.arguments?.length))) return null;
  const [field] = pages;
  const fields = plainFields(field.selectionSet);
  const conn = fields && connectionParts(fields);
  if (!conn || !conn.parts.length) return null;
  const connectionType = getNamedType(fieldDef.type) as GraphQLObjectType;
  const edgeType = getNamedType(connectionType.getFields().edges?.type) as GraphQLObjectType | undefined;
  if (!edgeType) return null;
  // Only now, for the documents that could be planned: validation is the one costly step.
  if (validate(schema, document).length) return null;
  return {
    document,
    operation,
    field,
    fieldDef,
    root: rootFields.map((f) => ({ key: keyOf(f), page: f === field })),
    connection: conn.parts,
    nodeSelect: `${conn.node ?? 'null'}::text as "_node"`,
    withCount: conn.withCount,
    queryType: queryType.name,
    connectionType: connectionType.name,
    edgeType: edgeType.name,
  };
}

/** A page row of a plan: the node's JSON as PostgreSQL wrote it. */
export interface PlannedRow {
  _node: string;
}

const str = (s: string | null) => (s === null ? 'null' : JSON.stringify(s));

/** The HTTP body of a plan's answer, as Apollo writes `{ data }` (read-cache.ts answerBody). */
export function renderAnswer(plan: ReadPlan, page: Page<PlannedRow>): string {
  const conn: string[] = [];
  for (const part of plan.connection) {
    let value: string;
    if (part.field === 'edges') {
      const edges = page.edges.map((e) => {
        const members = part.edge.map((p) => `"${p.key}":${p.field === 'node' ? e.node._node : p.field === 'cursor' ? str(e.cursor) : `"${plan.edgeType}"`}`);
        return `{${members.join(',')}}`;
      });
      value = `[${edges.join(',')}]`;
    } else if (part.field === 'pageInfo') {
      const info = page.pageInfo;
      value = `{${part.info.map((i) => `"${i.key}":${i.field === '__typename' ? '"PageInfo"' : i.field === 'startCursor' || i.field === 'endCursor' ? str(info[i.field]) : String(info[i.field])}`).join(',')}}`;
    } else if (part.field === 'totalCount') value = String(page.totalCount);
    else value = `"${plan.connectionType}"`;
    conn.push(`"${part.key}":${value}`);
  }
  const connection = `{${conn.join(',')}}`;
  const root = plan.root.map((r) => `"${r.key}":${r.page ? connection : `"${plan.queryType}"`}`);
  return `{"data":{${root.join(',')}}}\n`;
}
