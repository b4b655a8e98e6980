import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isNonNullType } from 'graphql';
import { SCHEMA_FILE, renderSchema } from '../../src/graphql/emit-schema.js';

test('schema.graphql is what the code emits (run `npm run schema` after changing the API)', async () => {
  const committed = readFileSync(SCHEMA_FILE, 'utf8');
  assert.equal(committed, await renderSchema());
});

test('the schema keeps the contract names of design.md', async () => {
  const { createSchema } = await import('../../src/graphql/schema.js');
  const { createAppPubSub } = await import('../../src/changes/events.js');
  const schema = await createSchema(createAppPubSub());
  for (const name of ['Vm', 'PortRule', 'PortRuleInput', 'ProvisionVmInput', 'UpdatePortRuleInput', 'VmConnection', 'RollbackEvent', 'RollbackStage', 'RollbackOutcome', 'Health', 'ComponentHealth', 'IPv4', 'Port', 'DateTime', 'Protocol', 'SyncReport', 'DriftItem', 'DriftKind', 'ReconcileMode', 'ReconcileResult', 'FieldDrift', 'RouterRule', 'RouterCommand', 'DriftKind', 'RollbackEvent']) {
    assert.ok(schema.getType(name), `schema lacks ${name}`);
  }
  // The contract's arguments with their types; arguments added since must be optional, so every
  // call the contract allows still works.
  const signature = (type: 'Query' | 'Mutation' | 'Subscription', field: string, contractArgs: string[] = []) => {
    const f = (type === 'Query' ? schema.getQueryType() : type === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType())?.getFields()[field];
    assert.ok(f, `${type}.${field} is missing`);
    for (const a of f.args) if (!contractArgs.includes(a.name)) assert.ok(!isNonNullType(a.type), `${type}.${field}(${a.name}) is new and must be optional`);
    return `${f.args.filter((a) => contractArgs.includes(a.name)).map((a) => `${a.name}: ${String(a.type)}`).sort().join(', ')} -> ${String(f.type)}`;
  };
  assert.equal(signature('Query', 'vms', ['after', 'first']), 'after: String, first: Int -> VmConnection!');
  assert.equal(signature('Query', 'vm', ['id']), 'id: ID! -> Vm');
  assert.equal(signature('Query', 'portRule', ['id']), 'id: ID! -> PortRule');
  assert.equal(signature('Query', 'syncReport', []), ' -> SyncReport!');
  assert.equal(signature('Query', 'rollbackEvents', ['after', 'first']), 'after: String, first: Int -> RollbackEventConnection!');
  assert.equal(signature('Query', 'health', []), ' -> Health!');
  assert.equal(signature('Mutation', 'provisionVm', ['input']), 'input: ProvisionVmInput! -> Vm!');
  assert.equal(signature('Mutation', 'decommissionVm', ['id']), 'id: ID! -> ID!');
  assert.equal(signature('Mutation', 'addPortRule', ['input', 'vmId']), 'input: PortRuleInput!, vmId: ID! -> PortRule!');
  assert.equal(signature('Mutation', 'updatePortRule', ['id', 'input']), 'id: ID!, input: UpdatePortRuleInput! -> PortRule!');
  assert.equal(signature('Mutation', 'setPortRuleEnabled', ['enabled', 'id']), 'enabled: Boolean!, id: ID! -> PortRule!');
  assert.equal(signature('Mutation', 'removePortRule', ['id']), 'id: ID! -> ID!');
  assert.equal(signature('Mutation', 'reconcile', ['dryRun', 'mode']), 'dryRun: Boolean, mode: ReconcileMode -> ReconcileResult!');
  // Issue 17: the shape the `vmapi` CLI codes against.
  assert.equal(signature('Mutation', 'applyVm', ['dryRun', 'idempotencyKey', 'input']), 'dryRun: Boolean, idempotencyKey: String, input: ApplyVmInput! -> ApplyVmResult!');
  assert.equal(signature('Mutation', 'updateVm', ['dryRun', 'id', 'input']), 'dryRun: Boolean, id: ID!, input: UpdateVmInput! -> Vm!');
  const arg = (m: string, name: string) => String(schema.getMutationType()?.getFields()[m]?.args.find((a) => a.name === name)?.type);
  assert.equal(arg('addPortRule', 'idempotencyKey'), 'String');
  for (const m of ['provisionVm', 'decommissionVm', 'addPortRule', 'updatePortRule', 'setPortRuleEnabled', 'removePortRule', 'applyVm', 'updateVm']) {
    assert.equal(arg(m, 'dryRun'), 'Boolean', `${m} has dryRun`);
  }
  const fields = (name: string) => {
    const type = schema.getType(name) as unknown as { getFields(): Record<string, { type: unknown }> };
    return Object.entries(type.getFields()).map(([f, d]) => `${f}: ${String(d.type)}`);
  };
  const has = (name: string, wanted: string[]) => wanted.forEach((w) => assert.ok(fields(name).includes(w), `${name} lacks ${w}`));
  has('ApplyPortRuleInput', ['name: String!', 'internalPort: Port!', 'externalPort: Port', 'protocol: Protocol', 'sourceAddress: String', 'description: String', 'enabled: Boolean']);
  has('ApplyVmInput', ['name: String!', 'internalIp: IPv4', 'macAddress: String', 'portRules: [ApplyPortRuleInput!]!']);
  has('RuleChange', ['name: String!', 'change: RuleChangeKind!', 'ruleNumber: Int!', 'externalPort: Port!', 'portRule: PortRule']);
  has('ApplyVmResult', ['vm: Vm', 'created: Boolean!', 'changed: Boolean!', 'rules: [RuleChange!]!', 'commands: [RouterCommand!]!', 'dryRun: Boolean!']);
  has('UpdateVmInput', ['name: String', 'internalIp: IPv4', 'macAddress: String']);
  has('PortRule', ['name: String']);
  assert.deepEqual((schema.getType('RuleChangeKind') as unknown as { getValues(): { name: string }[] }).getValues().map((v) => v.name), ['CREATED', 'UPDATED', 'UNCHANGED', 'REMOVED']);
  assert.equal(signature('Subscription', 'rollbackEvents', []), ' -> RollbackEvent!');
  assert.equal(signature('Subscription', 'driftDetected', []), ' -> SyncReport!');
});
