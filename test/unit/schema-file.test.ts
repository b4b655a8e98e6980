import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
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
  const signature = (type: 'Query' | 'Mutation' | 'Subscription', field: string) => {
    const f = (type === 'Query' ? schema.getQueryType() : type === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType())?.getFields()[field];
    assert.ok(f, `${type}.${field} is missing`);
    return `${f.args.map((a) => `${a.name}: ${String(a.type)}`).sort().join(', ')} -> ${String(f.type)}`;
  };
  assert.equal(signature('Query', 'vms'), 'after: String, first: Int -> VmConnection!');
  assert.equal(signature('Query', 'vm'), 'id: ID! -> Vm');
  assert.equal(signature('Query', 'portRule'), 'id: ID! -> PortRule');
  assert.equal(signature('Query', 'syncReport'), ' -> SyncReport!');
  assert.equal(signature('Query', 'rollbackEvents'), 'after: String, first: Int -> RollbackEventConnection!');
  assert.equal(signature('Query', 'health'), ' -> Health!');
  assert.equal(signature('Mutation', 'provisionVm'), 'input: ProvisionVmInput! -> Vm!');
  assert.equal(signature('Mutation', 'decommissionVm'), 'id: ID! -> ID!');
  assert.equal(signature('Mutation', 'addPortRule'), 'input: PortRuleInput!, vmId: ID! -> PortRule!');
  assert.equal(signature('Mutation', 'updatePortRule'), 'id: ID!, input: UpdatePortRuleInput! -> PortRule!');
  assert.equal(signature('Mutation', 'setPortRuleEnabled'), 'enabled: Boolean!, id: ID! -> PortRule!');
  assert.equal(signature('Mutation', 'removePortRule'), 'id: ID! -> ID!');
  assert.equal(signature('Mutation', 'reconcile'), 'dryRun: Boolean, mode: ReconcileMode -> ReconcileResult!');
  assert.equal(signature('Subscription', 'rollbackEvents'), ' -> RollbackEvent!');
  assert.equal(signature('Subscription', 'driftDetected'), ' -> SyncReport!');
});
