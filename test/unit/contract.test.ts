// Every type, field and enum value the design's contract names is in the schema the code builds.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { isEnumType, isInputObjectType, isObjectType } from 'graphql';
import { createAppPubSub } from '../../src/changes/events.js';
import { createSchema } from '../../src/graphql/schema.js';

const CONTRACT = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'design-contract.graphql');

test('the schema keeps every name of the design contract (types, fields, enum values)', async () => {
  const schema = await createSchema(createAppPubSub());
  const contract = readFileSync(CONTRACT, 'utf8').replace(/#.*$/gm, '');
  const problems: string[] = [];
  let declarations = 0;
  for (const [, kind, name, body] of contract.matchAll(/(type|input|enum)\s+(\w+)\s*\{([^}]*)\}/g)) {
    declarations++;
    const type = schema.getType(name);
    if (!type) {
      problems.push(`missing ${kind} ${name}`);
    } else if (kind === 'enum') {
      const values = isEnumType(type) ? type.getValues().map((v) => v.name) : [];
      for (const v of body.trim().split(/\s+/)) if (!values.includes(v)) problems.push(`${name} lacks ${v}`);
    } else {
      const fields = isObjectType(type) || isInputObjectType(type) ? type.getFields() : {};
      for (const [, field] of body.matchAll(/(\w+)\s*(?:\([^)]*\))?\s*:/g)) if (!fields[field]) problems.push(`${name} lacks ${field}`);
    }
  }
  for (const [, scalar] of contract.matchAll(/scalar\s+(\w+)/g)) if (!schema.getType(scalar)) problems.push(`missing scalar ${scalar}`);
  assert.ok(declarations >= 20, `the contract fixture was read (${declarations} declarations)`);
  assert.deepEqual(problems, []);
});
