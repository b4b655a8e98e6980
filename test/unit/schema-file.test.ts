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
  const sdl = await renderSchema();
  for (const name of ['type Vm ', 'type PortRule ', 'input PortRuleInput', 'input ProvisionVmInput', 'input UpdatePortRuleInput', 'type VmConnection', 'type RollbackEvent ', 'enum RollbackStage', 'enum RollbackOutcome', 'type Health ', 'type ComponentHealth', 'scalar IPv4', 'scalar Port', 'scalar DateTime']) {
    assert.ok(sdl.includes(name), `schema lacks ${name}`);
  }
  for (const field of ['provisionVm(input: ProvisionVmInput!): Vm!', 'decommissionVm(id: ID!): ID!', 'addPortRule(input: PortRuleInput!, vmId: ID!): PortRule!', 'removePortRule(id: ID!): ID!', 'setPortRuleEnabled(enabled: Boolean!, id: ID!): PortRule!']) {
    assert.ok(sdl.includes(field), `schema lacks ${field}`);
  }
});
