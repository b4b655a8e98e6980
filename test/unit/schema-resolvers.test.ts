// Plain fields are read by graphql-js's default resolver: type-graphql otherwise wraps every field
// of every object in a middleware-chain resolver, a call and an allocation per field of every row
// (issue 16: it was a tenth of an uncached page's CPU). No field has middleware or field-level auth
// to lose by it; a new @ObjectType without `simpleResolvers: true` fails here.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isObjectType } from 'graphql';
import { getMetadataStorage } from 'type-graphql';
import { createAppPubSub } from '../../src/changes/events.js';
import { createSchema } from '../../src/graphql/schema.js';

test('every object field without a @FieldResolver has no resolver of its own', async () => {
  const schema = await createSchema(createAppPubSub());
  const storage = getMetadataStorage();
  // a class may carry another name in the schema (`@ObjectType('Router')`)
  const schemaName = new Map<unknown, string>(storage.objectTypes.map((o) => [o.target, o.name]));
  const withResolver = new Set(storage.fieldResolvers.map((r) => `${schemaName.get(r.getObjectType?.()) ?? r.getObjectType?.()?.name}.${r.schemaName}`));
  const wrapped: string[] = [];
  let plain = 0;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__') || ['Query', 'Mutation', 'Subscription'].includes(type.name)) continue;
    for (const field of Object.values(type.getFields())) {
      if (withResolver.has(`${type.name}.${field.name}`)) continue;
      plain++;
      if (field.resolve) wrapped.push(`${type.name}.${field.name}`);
    }
  }
  assert.ok(plain > 100, `precondition: the plain fields were found (${plain})`);
  assert.deepEqual(wrapped, []);
});
