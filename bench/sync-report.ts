// Benchmark (not a test): syncReport over 10,000 rules against the simulator, next to the one
// router read it is built on. Run: `TEST_DATABASE_URL=postgresql://... npm run bench:sync`
// (without TEST_DATABASE_URL it uses an embedded PGlite, which is slower on the database side).
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Protocol } from '../src/domain/entities/protocol.js';
import { expectedRouterRule } from '../src/domain/rule-mapping.js';
import { takeSyncReport } from '../src/drift/sync-report.js';
import { NAT_DESTINATION_PATH, renderRule } from '../src/vyos/nat-rule.js';
import type { RouterCommand } from '../src/vyos/types.js';
import { ok, startTestApp } from '../test/support/app.js';

const RULES = Number(process.env.BENCH_RULES ?? 10_000);
const VMS = 100;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CHUNK = 1000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

async function main(): Promise<void> {
  const t = await startTestApp();
  try {
    const { config, orm } = t.app;
    const first = config.natRuleRange.first;
    const vmName = (i: number) => `bench-${i % VMS}`;
    const vmIp = (i: number) => `10.1.0.${(i % VMS) + 1}`;

    // The database: 100 VMs and RULES port rules, inserted by SQL.
    const em = orm.em.fork();
    await em.execute(
      `insert into vm (id, name, internal_ip, created_at, updated_at)
       select gen_random_uuid(), 'bench-' || i, '10.1.0.' || (i + 1), now(), now() from generate_series(0, ${VMS - 1}) i`,
    );
    await em.execute(
      `insert into port_rule (id, vm_id, rule_number, protocol, external_port, internal_port, enabled, tcp_port, needs_repair, created_at, updated_at)
       select gen_random_uuid(), v.id, ${first} + i, 'TCP', 20000 + i, 80, true, 20000 + i, false, now(), now()
         from generate_series(0, ${RULES - 1}) i join vm v on v.name = 'bench-' || (i % ${VMS})`,
    );

    // The router: the same rules, as an operator's commits, in chunks.
    const t0 = performance.now();
    for (let start = 0; start < RULES; start += CHUNK) {
      const commands: RouterCommand[] = [];
      for (let i = start; i < Math.min(start + CHUNK, RULES); i++) {
        const rule = expectedRouterRule(
          { ruleNumber: first + i, protocol: Protocol.TCP, externalPort: 20000 + i, internalPort: 80, enabled: true },
          { name: vmName(i), internalIp: vmIp(i) },
          config.wanInterface,
        );
        commands.push(...renderRule(rule, { syntax: '1.4' }));
      }
      t.sim.apply(commands);
    }
    console.log(`loaded ${RULES} rules into the simulator in ${ms(performance.now() - t0)}`);

    const drift = { config, coordinator: t.app.coordinator, router: t.app.router };
    const report = await takeSyncReport(drift);
    if (!report.inSync) throw new Error(`expected an in-sync report, got ${report.items.length} items (first: ${JSON.stringify(report.items[0])})`);

    const read = await time(() => t.app.router.showConfig([...NAT_DESTINATION_PATH]));
    const sync = await time(() => takeSyncReport(drift));
    const gql = await time(async () => ok(await t.gql(`{ syncReport { inSync items { kind } } }`)));

    // The same with 1% drift (descriptions changed by hand), so items are built and returned too.
    t.sim.apply(
      Array.from({ length: RULES / 100 }, (_, k): RouterCommand => ({ op: 'set', path: ['nat', 'destination', 'rule', String(first + k * 100), 'description', 'edited'] })),
    );
    const drifted = await time(async () => ok(await t.gql(`{ syncReport { inSync items { kind ruleNumber portRule { id } fields { field expected actual } } } }`)));

    const r = median(read);
    console.log(`\nsyncReport over ${RULES} rules (median of ${ROUNDS}, simulator over HTTP, ${process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite'})`);
    console.log(`  router read (showConfig nat destination): ${ms(r)}`);
    console.log(`  syncReport, in-process (lock + DB + read + diff): ${ms(median(sync))}  ratio ${(median(sync) / r).toFixed(2)}x`);
    console.log(`  syncReport over GraphQL, in sync:                 ${ms(median(gql))}  ratio ${(median(gql) / r).toFixed(2)}x`);
    console.log(`  syncReport over GraphQL, ${RULES / 100} DRIFTED items:      ${ms(median(drifted))}  ratio ${(median(drifted) / r).toFixed(2)}x`);
  } finally {
    await t.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
