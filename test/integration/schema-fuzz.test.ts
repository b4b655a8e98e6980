// A bounded schema-driven fuzz run (issue 15): ~20 s of random documents and variables from the
// server's own introspection, over HTTP and WebSocket; no 5xx, no unmasked or unknown error, no
// stack trace, no reply that contradicts the schema. A finding prints its seed: FUZZ_SEED=<seed>
// FUZZ_SECONDS=1 replays it. The longer run is bench/fuzz.ts (`npm run bench:fuzz`).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, ok, startTestApp, type TestApp } from '../support/app.js';
import { fuzz } from '../support/schema-fuzz.js';

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 20);
const SEED = Number(process.env.FUZZ_SEED ?? 0x15f022);

describe('schema-driven fuzz', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { LAN_POOL: '192.168.64.100-192.168.64.199', EXTERNAL_PORT_RANGE: '32000-33000' } });
    // Something to find: VMs with rules, so ids and nested fields resolve.
    for (const name of ['fz-a', 'fz-b']) ok(await t.gql(`mutation { provisionVm(input: { name: "${name}", portRules: [{ internalPort: 22 }, { internalPort: 80, protocol: TCP_UDP }] }) { id } }`));
  });
  after(async () => {
    await t?.close();
  });

  test(`${SECONDS} s of random documents: every reply is clean`, { timeout: (SECONDS + 60) * 1000 }, async () => {
    const report = await fuzz({ url: t.url, adminKey: t.adminKey, viewerKey: await createKey(t, 'VIEWER'), seed: SEED, durationMs: SECONDS * 1000 });
    const shown = report.findings.slice(0, 5).map((f) => `seed ${f.seed} (${f.transport}): ${f.problem}\n  ${f.query}\n  variables ${JSON.stringify(f.variables)}\n  reply ${f.reply.slice(0, 500)}`);
    assert.deepEqual(shown, [], `${report.findings.length} findings in ${report.requests} requests`);
    assert.ok(report.requests >= 50, `only ${report.requests} requests`);
    // The run reached both sides of the schema: data came back, and the server refused things.
    assert.ok((report.succeeded.query ?? 0) > 0 && (report.succeeded.mutation ?? 0) > 0, JSON.stringify(report.succeeded));
    assert.ok((report.byCode.BAD_USER_INPUT ?? 0) > 0, JSON.stringify(report.byCode));
  });
});
