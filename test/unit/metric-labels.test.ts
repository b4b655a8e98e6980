// The pure parts of observability: label bounding, outcomes, request ids.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSchema, parse, type OperationDefinitionNode } from 'graphql';
import { operationLabel, rootFieldsOf } from '../../src/observability/graphql-plugin.js';
import { acceptRequestId } from '../../src/observability/http.js';
import { errorCodeLabel, operationOutcome } from '../../src/observability/metrics.js';

const schema = buildSchema(`
  type Query { vms: Int vm(id: ID!): Int health: Int }
  type Mutation { provisionVm: Int }
  type Subscription { rollbackEvents: Int }
`);
const roots = rootFieldsOf(schema);
const op = (doc: string) => parse(doc).definitions[0] as OperationDefinitionNode;

test('an operation is labelled by the one root field it calls, whatever the client named it', () => {
  assert.equal(operationLabel(op('query AnyNameAtAll { vms }'), roots), 'vms');
  assert.equal(operationLabel(op('{ a: vm(id: 1) b: vm(id: 2) __typename }'), roots), 'vm');
  assert.equal(operationLabel(op('mutation { provisionVm }'), roots), 'provisionVm');
  assert.equal(operationLabel(op('subscription S { rollbackEvents }'), roots), 'rollbackEvents');
});

test('unknown fields, several root fields, fragments, introspection and no operation fold into "other"', () => {
  assert.equal(operationLabel(op('{ noSuchField }'), roots), 'other');
  assert.equal(operationLabel(op('{ vms health }'), roots), 'other');
  assert.equal(operationLabel(op('{ ... on Query { vms } }'), roots), 'other');
  assert.equal(operationLabel(op('{ __schema { types { name } } }'), roots), 'other');
  assert.equal(operationLabel(op('mutation { vms }'), roots), 'other', 'a query field is not a mutation');
  assert.equal(operationLabel(undefined, roots), 'other');
});

test('outcomes: client mistakes are client_error, anything else is server_error', () => {
  assert.equal(operationOutcome([]), 'success');
  assert.equal(operationOutcome(['NOT_FOUND', 'BAD_USER_INPUT']), 'client_error');
  assert.equal(operationOutcome(['NOT_FOUND', 'ROUTER_UNAVAILABLE']), 'server_error');
  assert.equal(operationOutcome(['INTERNAL_SERVER_ERROR']), 'server_error');
  assert.equal(errorCodeLabel('ROLLBACK_FAILED'), 'ROLLBACK_FAILED');
  assert.equal(errorCodeLabel('SOMETHING_A_CLIENT_MADE_UP'), 'other');
  assert.equal(errorCodeLabel(undefined), 'other');
});

test('a client request id is kept only when it is one short token of visible ASCII', () => {
  assert.equal(acceptRequestId('deploy-42'), 'deploy-42');
  assert.equal(acceptRequestId('x'.repeat(100)), 'x'.repeat(100));
  assert.equal(acceptRequestId('x'.repeat(101)), null);
  assert.equal(acceptRequestId('has spaces'), null);
  assert.equal(acceptRequestId(''), null);
  assert.equal(acceptRequestId(['a', 'b']), null);
  assert.equal(acceptRequestId('naïve'), null);
});
