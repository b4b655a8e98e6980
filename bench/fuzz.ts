// Schema-driven fuzz run (not a unit of the test suite): a few minutes of random documents and
// variables from the server's own introspection against a fresh server and the simulator.
// Reports every reply that is a 5xx, an unmasked or unknown error, a stack trace or data that
// contradicts the schema, with the seed that replays it; exits 1 when there is one.
// Run: `TEST_DATABASE_URL=postgresql://... npm run bench:fuzz` (FUZZ_SECONDS=180, FUZZ_SEED=1).
import 'reflect-metadata';
import { createKey, ok, startTestApp } from '../test/support/app.js';
import { fuzz } from '../test/support/schema-fuzz.js';
import { benchDatabase } from './database.js';

const SECONDS = Math.min(Number(process.env.FUZZ_SECONDS ?? 180), 600);
const SEED = Number(process.env.FUZZ_SEED ?? 1);

async function main(): Promise<void> {
  const db = await benchDatabase();
  const t = await startTestApp({ db });
  try {
    for (const name of ['fz-a', 'fz-b', 'fz-c']) ok(await t.gql(`mutation { provisionVm(input: { name: "${name}", portRules: [{ internalPort: 22 }, { internalPort: 443 }] }) { id } }`));
    const started = Date.now();
    const report = await fuzz({ url: t.url, adminKey: t.adminKey, viewerKey: await createKey(t, 'VIEWER'), seed: SEED, durationMs: SECONDS * 1000 });
    const seconds = (Date.now() - started) / 1000;
    console.log(`fuzz: ${report.requests} requests in ${seconds.toFixed(0)} s (seed ${SEED})`);
    console.log(`HTTP status: ${JSON.stringify(report.byStatus)}`);
    console.log(`error codes: ${JSON.stringify(report.byCode)}`);
    console.log(`succeeded (data, no error): ${JSON.stringify(report.succeeded)}`);
    const byProblem = new Map<string, number>();
    for (const f of report.findings) byProblem.set(f.problem, (byProblem.get(f.problem) ?? 0) + 1);
    for (const [problem, n] of byProblem) console.log(`  ${n} x ${problem}`);
    for (const f of report.findings.slice(0, 10)) console.log(JSON.stringify(f));
    console.log(report.findings.length === 0 ? 'fuzz: no findings' : `fuzz: ${report.findings.length} findings`);
    process.exitCode = report.findings.length === 0 ? 0 : 1;
  } finally {
    await t.close();
    await db.drop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
