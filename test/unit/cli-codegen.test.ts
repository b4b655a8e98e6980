import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GENERATED_FILE, renderTypedClient } from '../../src/cli/codegen.js';
import { EXIT, EXIT_BY_ERROR_CODE, exitCodeOf } from '../../src/cli/exit-codes.js';
import { ErrorCode } from '../../src/domain/errors.js';

test('src/cli/generated/graphql.ts is what codegen makes of schema.graphql and the CLI operations (run `npm run codegen`)', async () => {
  assert.equal(readFileSync(GENERATED_FILE, 'utf8'), await renderTypedClient());
});

test('every server error code has its own exit status, distinct from the CLI own ones', () => {
  assert.deepEqual(Object.keys(EXIT_BY_ERROR_CODE).sort(), Object.values(ErrorCode).sort());
  const statuses = Object.values(EXIT);
  assert.equal(new Set(statuses).size, statuses.length, 'exit statuses are distinct');
  assert.ok(statuses.every((s) => s >= 0 && s < 126), 'below the shell-reserved 126+');
  assert.equal(exitCodeOf({ code: 'FORBIDDEN', reason: 'RATE_LIMITED' }), EXIT.RATE_LIMITED);
  assert.equal(exitCodeOf({ code: 'INTERNAL_SERVER_ERROR' }), EXIT.ERROR);
  assert.equal(exitCodeOf(undefined), EXIT.ERROR);
});
