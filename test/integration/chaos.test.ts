// The chaos run, short (one seed per commit path, ~20 s each): bench/chaos.ts runs the same code
// over several seeds. Black-box: two server processes, the simulator, a fresh database.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatChaosResult, runChaos, type CommitPath } from '../support/chaos-run.js';

const SECONDS = Number(process.env.CHAOS_SECONDS ?? 20);
const SEED = Number(process.env.CHAOS_SEED ?? 1);

describe('chaos: mutations at two replicas under router faults and a SIGKILL', { skip: !process.env.TEST_DATABASE_URL && 'needs PostgreSQL (TEST_DATABASE_URL): two server processes share it' }, () => {
  for (const path of ['rolling', '1.4'] as CommitPath[]) {
    test(`seed ${SEED}, ${path}: the API's rules equal the router's, syncReport in sync, every journal row finished`, { timeout: (SECONDS + 150) * 1000 }, async () => {
      const r = await runChaos({ seed: SEED, path, seconds: SECONDS });
      console.log(formatChaosResult(r));
      assert.ok(r.mutations.ok > 0, 'some mutations succeeded');
      assert.deepEqual(r.differences, [], `seed ${SEED}/${path} (replay: CHAOS_SEED=${SEED} CHAOS_PATH=${path} npm run bench:chaos)`);
    });
  }
});
