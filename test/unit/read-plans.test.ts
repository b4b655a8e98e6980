// Which documents get a read plan (graphql/read-plans.ts): only a `vms` page of columns and Relay
// fields, written plainly. Everything a plan would answer differently from graphql-js must get
// none; test/integration/read-plans.test.ts compares the answers of those that do.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { GraphQLSchema } from 'graphql';
import { createAppPubSub } from '../../src/changes/events.js';
import { numberedPlaceholders } from '../../src/database/prepared-reads.js';
import { PLANNED_COLUMNS, planRead } from '../../src/graphql/read-plans.js';
import { createSchema } from '../../src/graphql/schema.js';

let schema: GraphQLSchema;
before(async () => {
  schema = await createSchema(createAppPubSub());
});

const plans = (query: string, operationName: string | null = null) => planRead(schema, query, operationName) !== null;

describe('read plans', () => {
  test('the VM page with columns, rules, Relay fields, aliases, variables and __typename is planned', () => {
    assert.ok(plans('{ vms(first: 50) { edges { node { id name internalIp portRules { ruleNumber externalPort } } } } }'));
    assert.ok(plans('query P($n: Int, $f: VmFilter) { __typename list: vms(first: $n, filter: $f) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { n: name } } } }'));
    assert.ok(plans('query A { vms { totalCount } } query B { health { status } }', 'A'), 'the operation named, beside another');
  });

  test('anything a plan does not answer exactly as graphql-js is left to the full pipeline', () => {
    const none: [string, string][] = [
      ['a fragment', '{ vms { edges { node { ...F } } } } fragment F on Vm { id }'],
      ['an inline fragment', '{ vms { edges { node { ... on Vm { id } } } } }'],
      ['a directive', '{ vms { edges { node { id @include(if: true) } } } }'],
      ['a field with its own resolver (hairpin)', '{ vms { edges { node { portRules { hairpin } } } } }'],
      ['a relation (PortRule.vm)', '{ vms { edges { node { portRules { vm { id } } } } } }'],
      ['a second root field', '{ vms { totalCount } health { status } }'],
      ['two pages', '{ a: vms { totalCount } b: vms { totalCount } }'],
      ['a response key twice (graphql-js merges them)', '{ vms { edges { node { id id } } } }'],
      ['a response key PostgreSQL would cut (over 63 bytes)', `{ vms { edges { node { ${'a'.repeat(64)}: id } } } }`],
      ['a document that does not validate', '{ vms { edges { node { nope } } } }'],
      ['a document that does not parse', '{ vms { '],
      ['a mutation', 'mutation { decommissionVm(id: "x") }'],
      ['no operation named so', '{ vms { totalCount } }'],
      ['another list', '{ portRules { totalCount } }'],
    ];
    for (const [what, query] of none) assert.equal(plans(query, what === 'no operation named so' ? 'Other' : null), false, what);
  });

  test('every field planned as a column is one graphql-js reads plainly, but Vm.router, whose resolver reads the same column', () => {
    for (const [type, fields] of Object.entries(PLANNED_COLUMNS)) {
      const def = schema.getType(type) as { getFields(): Record<string, { resolve?: unknown }> };
      for (const f of fields) {
        assert.ok(def.getFields()[f], `${type}.${f} exists`);
        if (`${type}.${f}` !== 'Vm.router') assert.equal(def.getFields()[f].resolve, undefined, `${type}.${f} has a resolver of its own: plan it apart, or not at all`);
      }
    }
  });

  test('placeholders become numbered parameters in order', () => {
    assert.equal(numberedPlaceholders('select ? as a where x = ?::int and y @> ?'), 'select $1 as a where x = $2::int and y @> $3');
  });
});
