// What an audit row keeps of a request's arguments (pure): secrets redacted by name at any depth,
// API keys redacted wherever they appear, ids sorted into what they name.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateKey } from '../../src/domain/api-key-secret.js';
import { addResultIds, affectedByArguments, redactArguments, REDACTED } from '../../src/domain/audit-facts.js';

describe('audit arguments', () => {
  test('a field named like a key, secret, password or token is redacted at any depth, in any case', () => {
    const out = redactArguments({
      name: 'ci',
      idempotencyKey: 'retry-1',
      input: { portRules: [{ internalPort: 80, description: 'web', apiToken: 't0k3n' }], Password: 'hunter2', nested: { clientSecret: 's' } },
      missing: null,
    });
    assert.deepEqual(out, {
      name: 'ci',
      idempotencyKey: REDACTED,
      input: { portRules: [{ internalPort: 80, description: 'web', apiToken: REDACTED }], Password: REDACTED, nested: { clientSecret: REDACTED } },
      missing: null,
    });
  });

  test('an API key of this server is redacted wherever it appears, whatever the field is called', () => {
    const { key } = generateKey();
    const out = redactArguments({ input: { description: `key is ${key} ok`, tags: [key] } });
    assert.ok(!JSON.stringify(out).includes(key));
    assert.deepEqual(out, { input: { description: `key is ${REDACTED} ok`, tags: [REDACTED] } });
  });

  test('dates become ISO text; long text is cut', () => {
    const out = redactArguments({ expiresAt: new Date('2030-01-01T00:00:00Z'), note: 'x'.repeat(5000) });
    assert.equal(out.expiresAt, '2030-01-01T00:00:00.000Z');
    assert.equal((out.note as string).length, 1001);
  });
});

describe('audit affected ids', () => {
  const vm = '11111111-1111-4111-8111-111111111111';
  const rule = '22222222-2222-4222-8222-222222222222';
  test('arguments: vmId names a VM; id names what the mutation works on', () => {
    assert.deepEqual(affectedByArguments('addPortRule', { vmId: vm }), { vmIds: [vm], portRuleIds: [], apiKeyIds: [] });
    assert.deepEqual(affectedByArguments('removePortRule', { id: rule }), { vmIds: [], portRuleIds: [rule], apiKeyIds: [] });
    assert.deepEqual(affectedByArguments('decommissionVm', { id: vm }), { vmIds: [vm], portRuleIds: [], apiKeyIds: [] });
    assert.deepEqual(affectedByArguments('removePortRule', { id: 'not-a-uuid' }), { vmIds: [], portRuleIds: [], apiKeyIds: [] });
  });
  test('results: an id, or an object with id, vmId or apiKey', () => {
    const a = affectedByArguments('provisionVm', {});
    addResultIds(a, 'provisionVm', vm);
    addResultIds(a, 'provisionVm', { id: vm });
    assert.deepEqual(a.vmIds, [vm], 'once');
    const k = affectedByArguments('createApiKey', {});
    addResultIds(k, 'createApiKey', { apiKey: { id: rule } });
    assert.deepEqual(k.apiKeyIds, [rule]);
  });
});
