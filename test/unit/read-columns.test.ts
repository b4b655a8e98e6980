// Which columns a vms page reads for its rules (issue 16: a page's rules carry only what the
// selection needs) and which fields a selection names at a path, fragments and aliases included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kind, parse, type FragmentDefinitionNode, type GraphQLResolveInfo, type OperationDefinitionNode, type FieldNode } from 'graphql';
import { fieldsAt, selects } from '../../src/graphql/connection.js';
import { RULE_COLUMNS, VM_COLUMNS, ruleColumnsFor, vmColumnsFor } from '../../src/graphql/read-model.js';

/** The info a resolver of the operation's first root field sees. */
function infoOf(source: string): GraphQLResolveInfo {
  const doc = parse(source);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const fragments = Object.fromEntries(doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  return { fieldNodes: [op.selectionSet.selections[0] as FieldNode], fragments } as unknown as GraphQLResolveInfo;
}

test('fieldsAt: the union over aliases, named and inline fragments; nothing for a path not selected', () => {
  const info = infoOf(`
    fragment R on PortRule { description ... on PortRule { portCount } }
    { vms { edges { node { a: portRules { ruleNumber } b: portRules { ...R } ... on Vm { portRules { vm { name } } } } } } }`);
  assert.deepEqual([...fieldsAt(info, ['edges', 'node', 'portRules'])].sort(), ['description', 'portCount', 'ruleNumber', 'vm']);
  assert.deepEqual([...fieldsAt(info, ['edges', 'node', 'portRules', 'vm'])], ['name']);
  assert.deepEqual([...fieldsAt(info, ['pageInfo'])], []);
  assert.equal(fieldsAt(info, ['edges', 'node']).has('portRules'), true);
  assert.equal(fieldsAt(info, ['edges', 'node']).has('internalIp'), false);
  assert.equal(selects(info, 'edges'), true);
  assert.equal(selects(info, 'totalCount'), false);
});

test('ruleColumnsFor: the key, the VM and the order always; `vm` reads vm_id; an unknown field reads every column', () => {
  assert.equal(ruleColumnsFor(['externalPort']), 'id, vm_id as "vmId", rule_number as "ruleNumber", external_port as "externalPort"');
  assert.equal(ruleColumnsFor(['__typename', 'vm']), 'id, vm_id as "vmId", rule_number as "ruleNumber"');
  assert.equal(ruleColumnsFor(['hairpin', 'createdAt']), 'id, vm_id as "vmId", rule_number as "ruleNumber", hairpin, created_at as "createdAt"');
  assert.equal(ruleColumnsFor(['externalPort', 'somethingNew']), RULE_COLUMNS);
  for (const column of ['internal_port', 'port_count', 'source_address', 'needs_repair', 'updated_at']) assert.match(RULE_COLUMNS, new RegExp(column));
});

test('vmColumnsFor: the id always; portRules has its own column; an unknown field reads every column', () => {
  assert.equal(vmColumnsFor(['name', 'portRules', '__typename']), 'id, name');
  assert.equal(vmColumnsFor(['createdAt', 'internalIp']), 'id, internal_ip as "internalIp", created_at as "createdAt"');
  assert.equal(vmColumnsFor(['name', 'somethingNew']), VM_COLUMNS);
});
