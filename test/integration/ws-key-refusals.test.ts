// A WebSocket refused for its key is closed with 4403 and a reason that says what is wrong with the
// key: none given, unknown, expired or revoked (at connect, and at a later subscribe).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, ok, startTestApp, type TestApp } from '../support/app.js';
import { wsClient, wsOperation, type WsOutcome } from '../support/ws-operation.js';

async function once(t: TestApp, key: string | null, params?: Record<string, unknown>): Promise<WsOutcome> {
  const client = wsClient(t.url, key, params);
  try {
    return await wsOperation(client, `{ health { status } }`);
  } finally {
    await client.dispose();
  }
}

describe('WebSocket key refusals name the problem', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('no key at all', async () => {
    const out = await once(t, null);
    assert.equal(out.closeCode, 4403, JSON.stringify(out));
    assert.match(out.closeReason ?? '', /no API key/i);
    assert.match(out.closeReason ?? '', /connectionParams\.authorization/);
  });

  test('an authorization value that is not a key', async () => {
    const out = await once(t, null, { authorization: 'Bearer two words' });
    assert.equal(out.closeCode, 4403, JSON.stringify(out));
    assert.match(out.closeReason ?? '', /no API key/i);
  });

  test('an unknown key, and a known prefix with the wrong secret, both read "unknown"', async () => {
    const unknown = await once(t, 'vmk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(unknown.closeCode, 4403);
    assert.match(unknown.closeReason ?? '', /unknown API key/i);
    const real = await createKey(t, 'VIEWER');
    const guessed = await once(t, `${real.slice(0, real.lastIndexOf('_'))}_${'B'.repeat(32)}`);
    assert.equal(guessed.closeCode, 4403);
    assert.equal(guessed.closeReason, unknown.closeReason, 'a wrong secret for a real prefix says no more than an unknown key');
  });

  test('an expired key', async () => {
    const key = await createKey(t, 'VIEWER', { expiresAt: new Date(Date.now() - 60_000) });
    const out = await once(t, key);
    assert.equal(out.closeCode, 4403);
    assert.match(out.closeReason ?? '', /expired/i);
    assert.doesNotMatch(out.closeReason ?? '', /revoked/i);
  });

  test('a revoked key', async () => {
    const key = await createKey(t, 'VIEWER', { revokedAt: new Date() });
    const out = await once(t, key);
    assert.equal(out.closeCode, 4403);
    assert.match(out.closeReason ?? '', /revoked/i);
    assert.doesNotMatch(out.closeReason ?? '', /expired/i);
  });

  test('a key revoked while its socket is open: the next subscribe closes it, saying revoked', async () => {
    const created = ok(await t.gql(`mutation { createApiKey(name: "ws-revoke", role: VIEWER) { secret apiKey { id } } }`)).createApiKey;
    const client = wsClient(t.url, created.secret);
    try {
      assert.equal((await wsOperation(client, `{ health { status } }`)).errors, undefined);
      ok(await t.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: created.apiKey.id }));
      const out = await wsOperation(client, `{ health { status } }`);
      assert.equal(out.closeCode, 4403, JSON.stringify(out));
      assert.match(out.closeReason ?? '', /revoked/i);
    } finally {
      await client.dispose();
    }
  });
});
