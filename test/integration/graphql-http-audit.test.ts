// The GraphQL-over-HTTP audit suite of the graphql-http package against the live server: every
// MUST passes, and the SHOULDs that warn are exactly the ones docs/security.md explains.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { serverAudits, type AuditResult } from 'graphql-http';
import { startTestApp, type TestApp } from '../support/app.js';

/** SHOULDs this server knowingly does not meet (docs/security.md "GraphQL over HTTP"), by audit id: none. */
const KNOWN_WARNINGS: Readonly<Record<string, string>> = {};
/** MAYs it does not do, by audit id: plain GETs without a preflight header meet Apollo's CSRF prevention. */
const KNOWN_NOTICES: Readonly<Record<string, string>> = {
  '5A70': 'form-encoded GET without a preflight-forcing header',
  D6D5: 'GET with URL-encoded variables, without a preflight-forcing header',
  '6A70': 'GET with URL-encoded variables, without a preflight-forcing header',
};

describe('graphql-http server audits', () => {
  let t: TestApp;
  const results: AuditResult[] = [];
  before(async () => {
    t = await startTestApp();
    // The audits send no key: a wrapped fetch adds the admin key the way any client would.
    const fetchFn = (input: Parameters<typeof fetch>[0], init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${t.adminKey}`);
      return fetch(input, { ...init, headers });
    };
    for (const audit of serverAudits({ url: `${t.url}/graphql`, fetchFn })) results.push(await audit.fn());
  });
  after(async () => {
    await t?.close();
  });

  test('every MUST passes', () => {
    assert.ok(results.length > 30, `the suite ran (${results.length} audits)`);
    const failed = results.filter((r) => r.status === 'error').map((r) => `${r.id} ${r.name}: ${'reason' in r ? r.reason : ''}`);
    assert.deepEqual(failed, []);
  });

  test('the only SHOULDs that warn are the documented ones', () => {
    const warned = results.filter((r) => r.status === 'warn').map((r) => `${r.id} ${r.name}: ${'reason' in r ? r.reason : ''}`);
    assert.deepEqual(
      warned.map((w) => w.slice(0, 4)).sort(),
      Object.keys(KNOWN_WARNINGS).sort(),
      `warnings:\n${warned.join('\n')}`,
    );
  });

  test('the MAYs it does not do are the documented ones', () => {
    const noticed = results.filter((r) => r.status === 'notice').map((r) => r.id);
    assert.deepEqual(noticed.sort(), Object.keys(KNOWN_NOTICES).sort());
  });
});
