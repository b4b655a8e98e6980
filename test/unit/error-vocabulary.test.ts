// The closed error vocabulary: what anything thrown maps to, and how loudly each code is logged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { AppError, ERROR_LOG_LEVELS, ErrorCode, INTERNAL_ERROR_CODE, badInput, logLevelOf, toClientError } from '../../src/domain/errors.js';
import { mostSevere } from '../../src/observability/logger.js';
import { RouterError, RouterErrorKind } from '../../src/vyos/types.js';

/** A unique violation as MikroORM wraps PostgreSQL's (the query, then the server's message). */
const violation = (constraint: string) =>
  new UniqueConstraintViolationException(new Error(`insert into "t" ... - duplicate key value violates unique constraint "${constraint}"`));

function asAppError(e: Error): AppError {
  assert.ok(e instanceof AppError, `${e.name}: ${e.message} is not an AppError`);
  return e;
}

test('each unique constraint maps to CONFLICT naming the input field it guards', () => {
  const cases: [string, string][] = [
    ['vm_name_unique', 'name'],
    ['vm_internal_ip_unique', 'internalIp'],
    ['vm_idempotency_key_unique', 'idempotencyKey'],
    ['port_rule_tcp_port_unique', 'externalPort'],
    ['port_rule_udp_port_unique', 'externalPort'],
    ['port_rule_rule_number_unique', 'ruleNumber'],
  ];
  for (const [constraint, field] of cases) {
    const e = asAppError(toClientError(violation(constraint)));
    assert.equal(e.code, ErrorCode.CONFLICT, constraint);
    assert.equal(e.extensions.field, field, constraint);
    assert.match(e.message, new RegExp(`^${field}: `), constraint);
    assert.doesNotMatch(e.message, /insert into|duplicate key/, 'no SQL reaches the client');
  }
  const unknown = asAppError(toClientError(violation('some_future_unique')));
  assert.equal(unknown.code, ErrorCode.CONFLICT);
  assert.equal(unknown.extensions.field, undefined);
});

test('a router rejection is ROUTER_REJECTED with the router\'s own message', () => {
  const e = asAppError(toClientError(new RouterError(RouterErrorKind.REJECTED, 'HTTP 400', { status: 400, routerMessage: 'Commit failed: port 80 is in use\n' })));
  assert.equal(e.code, ErrorCode.ROUTER_REJECTED);
  assert.equal(e.extensions.routerMessage, 'Commit failed: port 80 is in use\n');
  assert.match(e.message, /port 80 is in use$/);
  const bare = asAppError(toClientError(new RouterError(RouterErrorKind.REJECTED, 'configure refused')));
  assert.equal(bare.extensions.routerMessage, 'configure refused', 'without a router message, the error\'s own');
});

test('a router we could not use is ROUTER_UNAVAILABLE (retryable), whatever the reason', () => {
  for (const kind of [RouterErrorKind.UNAUTHORIZED, RouterErrorKind.UNREACHABLE, RouterErrorKind.OUTCOME_UNKNOWN, RouterErrorKind.TIMEOUT, RouterErrorKind.SERVER_ERROR, RouterErrorKind.PROTOCOL]) {
    const e = asAppError(toClientError(new RouterError(kind, `${kind} happened`)));
    assert.equal(e.code, ErrorCode.ROUTER_UNAVAILABLE, kind);
  }
  const unauthorized = toClientError(new RouterError(RouterErrorKind.UNAUTHORIZED, 'HTTP 401', { status: 401 }));
  assert.match(unauthorized.message, /refused our API key/, 'the operator learns it is the key, not the network');
});

test('an AppError passes through unchanged; anything else is left to be masked', () => {
  const input = badInput('name', 'must be a DNS label');
  assert.equal(toClientError(input), input);
  const bug = new TypeError('x is undefined');
  assert.equal(toClientError(bug), bug);
  assert.ok(!(toClientError(bug) instanceof AppError));
  const thrown = toClientError('a string was thrown');
  assert.ok(thrown instanceof Error && !(thrown instanceof AppError));
  assert.equal(thrown.message, 'a string was thrown');
});

test('log levels: the caller\'s mistakes quietly, the router\'s trouble as warnings, a half-changed router and our own bugs as errors', () => {
  assert.deepEqual(ERROR_LOG_LEVELS, {
    BAD_USER_INPUT: 'debug',
    NOT_FOUND: 'debug',
    CONFLICT: 'info',
    UNAUTHENTICATED: 'info',
    FORBIDDEN: 'info',
    POOL_EXHAUSTED: 'warn',
    ROUTER_UNAVAILABLE: 'warn',
    ROUTER_REJECTED: 'warn',
    ROLLBACK_FAILED: 'error',
  });
  for (const code of Object.values(ErrorCode)) assert.equal(new AppError(code, 'x').logLevel, ERROR_LOG_LEVELS[code]);
  assert.equal(logLevelOf(ErrorCode.BAD_USER_INPUT), 'debug');
  assert.equal(logLevelOf(INTERNAL_ERROR_CODE), 'error');
  assert.equal(logLevelOf('SOMETHING_ELSE'), 'error');
  assert.equal(logLevelOf(undefined), 'error');
  // The APQ protocol's replies are not failures (issue 15, finding 5).
  assert.equal(logLevelOf('PERSISTED_QUERY_NOT_FOUND'), 'debug');
  assert.equal(logLevelOf('PERSISTED_QUERY_NOT_SUPPORTED'), 'debug');
});

test('a line about several errors is as loud as the worst', () => {
  assert.equal(mostSevere('info'), 'info');
  assert.equal(mostSevere('info', 'debug'), 'info');
  assert.equal(mostSevere('debug', 'warn', 'info'), 'warn');
  assert.equal(mostSevere('info', 'error', 'warn'), 'error');
});
