import 'reflect-metadata';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildSchema } from 'graphql';
import { ErrorCode } from '../../src/domain/errors.js';
import { API_REFERENCE_FILE, buildApiReference, missingDescriptions, renderApiReference } from '../../src/graphql/api-reference.js';
import { createSchema } from '../../src/graphql/schema.js';
import { createAppPubSub } from '../../src/changes/events.js';

test('docs/api-reference.md is what the schema renders (run `npm run docs` after changing the API)', async () => {
  assert.equal(readFileSync(API_REFERENCE_FILE, 'utf8'), await buildApiReference());
});

test('every type, field, argument, input field and enum value of the API has a description', async () => {
  assert.deepEqual(missingDescriptions(await createSchema(createAppPubSub())), []);
});

test('the reference documents every error code and the role each operation needs', async () => {
  const md = await buildApiReference();
  for (const code of Object.values(ErrorCode)) assert.match(md, new RegExp(`\\| \`${code}\` \\| \\w`), `${code} is documented`);
  assert.match(md, /### Mutation\.provisionVm[\s\S]*?Needs a key with the \*\*OPERATOR\*\* role/);
  assert.match(md, /### Query\.vms[\s\S]*?Needs a key with the \*\*VIEWER\*\* role/);
});

const SMALL = buildSchema(`
  "A thing."
  type Thing { "Its id." id: ID! "Price | currency." price(
    "Currency code." currency: String = "EUR"): Int color: Color }
  "Colours."
  enum Color { "Red." RED GREEN }
  type Query { "Things by name." things(name: String!): [Thing!]! }
`);

test('missingDescriptions names exactly what is undocumented', () => {
  assert.deepEqual(missingDescriptions(SMALL), ['Color.GREEN', 'Query.things(name)', 'Thing.color']);
});

test('the renderer: signatures, linked types, roles, defaults, escaped table cells, error table', () => {
  const md = renderApiReference({ schema: SMALL, roles: new Map([['Query.things', 'VIEWER']]), errorCodes: { NOT_FOUND: 'No such | thing.' } });
  assert.match(md, /```graphql\nthings\(name: String!\): \[Thing!\]!\n```/);
  assert.match(md, /Returns \[`\[Thing!\]!`\]\(#thing\)\. Needs a key with the \*\*VIEWER\*\* role/);
  assert.match(md, /\| `price\(currency = "EUR"\)` \| `Int` \| Price \\\| currency\. `currency`: Currency code\. \|/);
  assert.match(md, /\| `RED` \| Red\. \|/);
  assert.match(md, /\| `NOT_FOUND` \| No such \\\| thing\. \|/);
  assert.doesNotMatch(md, /### Query\n/, 'root types are listed as operations, not as types');
  assert.ok(md.endsWith('\n') && !md.includes('\n\n\n'));
});
