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
  // The contract's signatures. Compatible growth only: a contract argument keeps its name and its
  // type, or relaxes a non-null type to the nullable one (every query that was valid stays valid);
  // an argument the contract does not name must be optional (nullable); the result type is the same.
  const contract: [type: 'Query' | 'Mutation' | 'Subscription', field: string, args: string, result: string][] = [
    ['Query', 'vms', 'after: String, first: Int', 'VmConnection!'],
    ['Query', 'vm', 'id: ID!', 'Vm'],
    ['Query', 'portRule', 'id: ID!', 'PortRule'],
    ['Query', 'syncReport', '', 'SyncReport!'],
    ['Query', 'rollbackEvents', 'after: String, first: Int', 'RollbackEventConnection!'],
    ['Query', 'health', '', 'Health!'],
    ['Mutation', 'provisionVm', 'input: ProvisionVmInput!', 'Vm!'],
    ['Mutation', 'decommissionVm', 'id: ID!', 'ID!'],
    ['Mutation', 'addPortRule', 'input: PortRuleInput!, vmId: ID!', 'PortRule!'],
    ['Mutation', 'updatePortRule', 'id: ID!, input: UpdatePortRuleInput!', 'PortRule!'],
    ['Mutation', 'setPortRuleEnabled', 'enabled: Boolean!, id: ID!', 'PortRule!'],
    ['Mutation', 'removePortRule', 'id: ID!', 'ID!'],
    ['Mutation', 'reconcile', 'dryRun: Boolean, mode: ReconcileMode', 'ReconcileResult!'],
    ['Subscription', 'rollbackEvents', '', 'RollbackEvent!'],
    ['Subscription', 'driftDetected', '', 'SyncReport!'],
  ];
  for (const [type, field, args, result] of contract) {
    const f = (type === 'Query' ? schema.getQueryType() : type === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType())?.getFields()[field];
    assert.ok(f, `${type}.${field} is missing`);
    assert.equal(String(f.type), result, `${type}.${field} returns ${result}`);
    const wanted = new Map(args ? args.split(', ').map((a) => a.split(': ') as [string, string]) : []);
    for (const [name, t] of wanted) {
      const arg = f.args.find((a) => a.name === name);
      assert.ok(arg, `${type}.${field} keeps its argument ${name}`);
      assert.ok(String(arg.type) === t || `${String(arg.type)}!` === t, `${type}.${field}(${name}:) is ${t} or its nullable form, not ${String(arg.type)}`);
    }
    for (const arg of f.args) {
      if (!wanted.has(arg.name)) assert.ok(!isNonNullType(arg.type), `${type}.${field}(${arg.name}:) is new, so it must be optional`);
    }
  }
  // Issue 17: the shape the `vmapi` CLI codes against.
  const sig = (m: string) => { const fl = schema.getMutationType()!.getFields()[m]; return `${fl.args.map((a) => `${a.name}: ${String(a.type)}`).sort().join(', ')} -> ${String(fl.type)}`; };
  assert.equal(sig('applyVm'), 'dryRun: Boolean, idempotencyKey: String, input: ApplyVmInput! -> ApplyVmResult!');
  assert.equal(sig('updateVm'), 'dryRun: Boolean, id: ID!, input: UpdateVmInput! -> Vm!');
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
  // internalPort relaxed to nullable for port ranges (issue 19: omitted means the external port), compatible growth as above
  has('ApplyPortRuleInput', ['name: String!', 'internalPort: Port', 'portCount: Int', 'externalPort: Port', 'protocol: Protocol', 'sourceAddress: String', 'description: String', 'enabled: Boolean']);
  has('ApplyVmInput', ['name: String!', 'internalIp: IPv4', 'macAddress: String', 'portRules: [ApplyPortRuleInput!]!']);
  has('RuleChange', ['name: String!', 'change: RuleChangeKind!', 'ruleNumber: Int!', 'externalPort: Port!', 'portRule: PortRule']);
  has('ApplyVmResult', ['vm: Vm', 'created: Boolean!', 'changed: Boolean!', 'rules: [RuleChange!]!', 'commands: [RouterCommand!]!', 'dryRun: Boolean!']);
  has('UpdateVmInput', ['name: String', 'internalIp: IPv4', 'macAddress: String']);
  has('PortRule', ['name: String', 'portCount: Int!']);
  has('PortRuleInput', ['internalPort: Port', 'externalPort: Port', 'portCount: Int']);
  has('UpdatePortRuleInput', ['portCount: Int']);
  assert.deepEqual((schema.getType('RuleChangeKind') as unknown as { getValues(): { name: string }[] }).getValues().map((v) => v.name), ['CREATED', 'UPDATED', 'UNCHANGED', 'REMOVED']);
});
