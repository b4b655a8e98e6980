// Port ranges end to end (docs/operations.md "Port ranges"): a rule forwarding `portCount`
// consecutive ports is rendered as VyOS's `destination port a-b` with no `translation port`
// (vyos-api.md §5: the port-multi validator takes ranges), allocated as a contiguous free run,
// guarded by the database against overlap, and understood by drift, shadowing, import and reconcile.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { renderDelete, renderRule } from '../../src/vyos/nat-rule.js';
import type { RouterRule } from '../../src/vyos/types.js';
import { errorCode, ok, sql, startTestApp, type TestApp } from '../support/app.js';

const RULE = 'id ruleNumber protocol externalPort internalPort portCount';
const ADD = `mutation($vm: ID!, $input: PortRuleInput!) { addPortRule(vmId: $vm, input: $input) { ${RULE} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdatePortRuleInput!) { updatePortRule(id: $id, input: $input) { ${RULE} } }`;
const REMOVE = `mutation($id: ID!) { removePortRule(id: $id) }`;
const REPORT = `{ syncReport { inSync items { kind ruleNumber fields { field expected actual } } } }`;
const POOL = { first: 40000, last: 40999 };

type Rule = { id: string; ruleNumber: number; protocol: string; externalPort: number; internalPort: number; portCount: number };

for (const version of ['1.3', '1.4', 'rolling'] as const) {
  describe(`a port range on ${version}`, () => {
    let t: TestApp;
    let vm: { id: string; internalIp: string };
    before(async () => {
      t = await startTestApp({ sim: { version }, env: { EXTERNAL_PORT_RANGE: `${POOL.first}-${POOL.last}` } });
      vm = ok(await t.gql(`mutation { provisionVm(input: { name: "game" }) { id internalIp } }`)).provisionVm;
    });
    after(async () => {
      await t?.close();
    });

    test('is one rule with `destination port a-b` and no translation port, in one commit', async () => {
      const commits = t.sim.commitCount;
      const rule: Rule = ok(await t.gql(ADD, { vm: vm.id, input: { externalPort: 40100, portCount: 100, protocol: 'UDP' } })).addPortRule;
      assert.equal(t.sim.commitCount, commits + 1);
      assert.deepEqual([rule.externalPort, rule.internalPort, rule.portCount], [40100, 40100, 100]);
      const onRouter = t.routerRules().find((r) => r.ruleNumber === rule.ruleNumber);
      assert.equal(onRouter?.externalPort, '40100-40199');
      assert.equal(onRouter?.internalPort, undefined, 'no translation port: each port keeps its number');
      assert.equal(onRouter?.translationAddress, vm.internalIp);
      assert.equal(ok(await t.gql(REPORT)).syncReport.inSync, true);
      ok(await t.gql(REMOVE, { id: rule.id }));
      assert.deepEqual(t.routerRules(), []);
    });
  });
}

describe('port ranges', () => {
  let t: TestApp;
  let vm: { id: string; internalIp: string };
  const add = (input: Record<string, unknown>) => t.gql(ADD, { vm: vm.id, input });
  const dbRules = async () => (await sql(t, 'select rule_number, external_port, port_count, tcp_port, udp_port from port_rule order by external_port')).rows;
  const clear = async () => {
    for (const r of (await sql(t, 'select id from port_rule')).rows) ok(await t.gql(REMOVE, { id: r.id }));
  };
  before(async () => {
    t = await startTestApp({ sim: { version: '1.4' }, env: { EXTERNAL_PORT_RANGE: `${POOL.first}-${POOL.last}` } });
    vm = ok(await t.gql(`mutation { provisionVm(input: { name: "media" }) { id internalIp } }`)).provisionVm;
  });
  after(async () => {
    await t?.close();
  });

  test('30 concurrent requests get contiguous runs from the bottom of the pool, none overlapping, on the router as in the database', async () => {
    const sizes = Array.from({ length: 30 }, (_, i) => [1, 10, 3, 25, 1, 7][i % 6]);
    const results = await Promise.all(sizes.map((portCount, i) => add({ portCount, protocol: i % 3 === 0 ? 'TCP_UDP' : 'TCP' })));
    const rules: Rule[] = results.map((r) => ok(r).addPortRule);
    // TCP claims: every rule here claims TCP, so their runs tile the pool's start without a gap
    const runs = rules.map((r) => [r.externalPort, r.externalPort + r.portCount - 1]).sort((a, b) => a[0] - b[0]);
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.equal(runs[0][0], POOL.first, 'the lowest run starts the pool');
    for (let i = 1; i < runs.length; i++) assert.equal(runs[i][0], runs[i - 1][1] + 1, `run ${i} follows run ${i - 1} without overlap or gap`);
    assert.equal(runs[runs.length - 1][1], POOL.first + total - 1);
    assert.deepEqual(rules.map((r) => r.portCount).sort(), [...sizes].sort(), 'each got the size it asked for');
    for (const r of rules) assert.equal(r.internalPort, r.externalPort);
    // the router holds each rule's exact run
    const onRouter = new Map(t.routerRules().map((r) => [r.ruleNumber, r.externalPort]));
    for (const r of rules) assert.equal(onRouter.get(r.ruleNumber), r.portCount === 1 ? String(r.externalPort) : `${r.externalPort}-${r.externalPort + r.portCount - 1}`);
    assert.equal(ok(await t.gql(REPORT)).syncReport.inSync, true);
    // capacity counts ports, not rules
    const capacity = ok(await t.gql(`{ health { capacity { pool used } } }`)).health.capacity;
    assert.equal(capacity.find((p: { pool: string }) => p.pool === 'external_port_tcp').used, total);
    assert.equal(capacity.find((p: { pool: string }) => p.pool === 'external_port_udp').used, rules.filter((r) => r.protocol === 'TCP_UDP').reduce((a, r) => a + r.portCount, 0));
    await clear();
  });

  test('the database refuses overlapping runs by itself (the exclusion constraint), whoever writes', async () => {
    const rule: Rule = ok(await add({ externalPort: 40500, portCount: 50 })).addPortRule;
    const insert = (external: number, count: number, udp: boolean) =>
      sql(
        t,
        `insert into port_rule (id, vm_id, rule_number, protocol, external_port, internal_port, port_count, tcp_port, udp_port, enabled, needs_repair, created_at, updated_at)
         values (gen_random_uuid(), $1, $2, $3, $4, $4, $5, $6, $7, true, false, now(), now())`,
        [vm.id, 19000 + count, udp ? 'UDP' : 'TCP', external, count, udp ? null : external, udp ? external : null],
      );
    await assert.rejects(insert(40540, 20, false), /port_rule_tcp_ports_excl/);
    await assert.rejects(insert(40490, 11, false), /port_rule_tcp_ports_excl/);
    await insert(40490, 10, false); // ends at 40499: touches, does not overlap
    await insert(40500, 50, true); // the same ports on UDP are free
    await sql(t, 'delete from port_rule where rule_number >= 19000');
    ok(await t.gql(REMOVE, { id: rule.id }));
  });

  test('a run overlapping a rule of ours or a foreign rule is a CONFLICT and changes nothing', async () => {
    const single: Rule = ok(await add({ externalPort: 40620, internalPort: 22 })).addPortRule;
    const before = { rules: await dbRules(), router: t.routerRules(), commits: t.sim.commitCount };
    const refused = await add({ externalPort: 40600, portCount: 30 });
    assert.equal(errorCode(refused), 'CONFLICT');
    assert.match(refused.errors![0].message, /range 40600-40629 is already forwarded/);
    // a hand-made rule catching one port inside the run, seen by the next sync
    const foreign: RouterRule = { ruleNumber: 100, protocol: 'tcp', externalPort: '40705', translationAddress: '10.0.0.9', inboundInterface: 'eth0', disabled: false };
    t.sim.apply(renderRule(foreign, { syntax: '1.4' }));
    ok(await t.gql(REPORT));
    const commits = t.sim.commitCount;
    assert.equal(errorCode(await add({ externalPort: 40700, portCount: 10 })), 'CONFLICT');
    assert.deepEqual([await dbRules(), t.sim.commitCount], [before.rules, commits]);
    assert.deepEqual(t.routerRules().filter((r) => r.ruleNumber !== 100), before.router);
    t.sim.apply([renderDelete(100)]);
    ok(await t.gql(REMOVE, { id: single.id }));
  });

  test('allocation steps around a foreign rule inside the pool', async () => {
    // a hand-made rule catches 40003: a run of 5 cannot start below 40004
    t.sim.apply(renderRule({ ruleNumber: 100, protocol: 'tcp', externalPort: '40003', translationAddress: '10.0.0.9', inboundInterface: 'eth0', disabled: false }, { syntax: '1.4' }));
    ok(await t.gql(REPORT));
    const got: Rule = ok(await add({ portCount: 5 })).addPortRule;
    assert.equal(got.externalPort, 40004);
    t.sim.apply([renderDelete(100)]);
    await clear();
  });

  test('allocation skips a gap too small for the run', async () => {
    // ports 40000-40004 free, 40005 taken, then free: a run of 10 starts at 40006
    ok(await add({ externalPort: 40005 }));
    const got: Rule = ok(await add({ portCount: 10 })).addPortRule;
    assert.equal(got.externalPort, 40006);
    const small: Rule = ok(await add({ portCount: 5 })).addPortRule;
    assert.equal(small.externalPort, 40000, 'a run that fits the gap takes it');
    await clear();
  });

  test('is found by the port filters and portOwners through any of its ports', async () => {
    const rule: Rule = ok(await add({ externalPort: 40300, portCount: 100, protocol: 'TCP' })).addPortRule;
    const ids = (r: { edges: { node: { id: string } }[] }) => r.edges.map((e) => e.node.id);
    assert.deepEqual(ids(ok(await t.gql(`{ portRules(filter: { externalPort: 40350 }) { edges { node { id } } } }`)).portRules), [rule.id]);
    assert.deepEqual(ids(ok(await t.gql(`{ portRules(filter: { externalPort: 40400 }) { edges { node { id } } } }`)).portRules), []);
    assert.deepEqual(ids(ok(await t.gql(`{ vms(filter: { externalPort: 40399 }) { edges { node { id } } } }`)).vms), [vm.id]);
    assert.deepEqual(ok(await t.gql(`{ portOwners(externalPort: 40399, protocol: TCP) { id } }`)).portOwners, [{ id: rule.id }]);
    assert.deepEqual(ok(await t.gql(`{ portOwners(externalPort: 40399, protocol: UDP) { id } }`)).portOwners, []);
    await clear();
  });

  test('is changed in place: grown, shrunk, moved; a shifted internal port is refused', async () => {
    const rule: Rule = ok(await add({ externalPort: 40800, portCount: 10 })).addPortRule;
    const n = rule.ruleNumber;
    const onRouter = () => t.routerRules().find((r) => r.ruleNumber === n);
    const grown: Rule = ok(await t.gql(UPDATE, { id: rule.id, input: { portCount: 20 } })).updatePortRule;
    assert.deepEqual([grown.ruleNumber, grown.externalPort, grown.portCount], [n, 40800, 20]);
    assert.equal(onRouter()?.externalPort, '40800-40819');
    const moved: Rule = ok(await t.gql(UPDATE, { id: rule.id, input: { externalPort: 40900 } })).updatePortRule;
    assert.deepEqual([moved.externalPort, moved.internalPort, moved.portCount], [40900, 40900, 20]);
    assert.equal(onRouter()?.externalPort, '40900-40919');
    const one: Rule = ok(await t.gql(UPDATE, { id: rule.id, input: { portCount: 1, internalPort: 8080 } })).updatePortRule;
    assert.deepEqual([one.externalPort, one.internalPort, one.portCount], [40900, 8080, 1]);
    assert.deepEqual([onRouter()?.externalPort, onRouter()?.internalPort], ['40900', '8080']);
    const again = await t.gql(UPDATE, { id: rule.id, input: { portCount: 5 } });
    assert.equal(errorCode(again), 'BAD_USER_INPUT', 'a range cannot keep internal port 8080 for external 40900');
    assert.match(again.errors![0].message, /input\.internalPort: a port range keeps its port numbers/);
    const shifted = await add({ externalPort: 40950, portCount: 10, internalPort: 8000 });
    assert.equal(errorCode(shifted), 'BAD_USER_INPUT');
    assert.match(shifted.errors![0].message, /VyOS cannot shift a range/);
    assert.equal(onRouter()?.externalPort, '40900', 'the refused change left the router alone');
    await clear();
  });

  test('bad sizes are refused before anything is touched', async () => {
    const commits = t.sim.commitCount;
    const rows = await dbRules();
    for (const [input, pattern] of [
      [{ portCount: 0 }, /input\.portCount: must be a whole number of ports, at least 1/],
      [{ externalPort: 65500, portCount: 100 }, /would end past port 65535 \(at most 36\)/],
      [{ portCount: 2000 }, /EXTERNAL_PORT_RANGE/],
    ] as const) {
      const res = await add(input);
      assert.match(res.errors?.[0]?.message ?? '', pattern, JSON.stringify(input));
    }
    assert.equal(errorCode(await add({ portCount: 2000 })), 'POOL_EXHAUSTED');
    assert.deepEqual([t.sim.commitCount, await dbRules()], [commits, rows]);
  });

  test('drift: a run changed by hand is DRIFTED, a foreign rule catching one of its ports SHADOWS it, reconcile repairs it', async () => {
    const rule: Rule = ok(await add({ externalPort: 40200, portCount: 50 })).addPortRule;
    const n = String(rule.ruleNumber);
    t.sim.apply([{ op: 'set', path: ['nat', 'destination', 'rule', n, 'destination', 'port', '40200-40248'] }]);
    const drifted = ok(await t.gql(REPORT)).syncReport;
    assert.deepEqual(drifted.items, [{ kind: 'DRIFTED', ruleNumber: rule.ruleNumber, fields: [{ field: 'externalPort', expected: '40200-40249', actual: '40200-40248' }] }]);
    ok(await t.gql(`mutation { reconcile { applied } }`));
    assert.equal(t.routerRules().find((r) => r.ruleNumber === rule.ruleNumber)?.externalPort, '40200-40249');
    t.sim.apply(renderRule({ ruleNumber: 100, protocol: 'tcp_udp', externalPort: '40249', translationAddress: '10.0.0.9', inboundInterface: 'eth0', disabled: false }, { syntax: '1.4' }));
    const shadowed = ok(await t.gql(REPORT)).syncReport;
    assert.deepEqual(shadowed.items.map((i: { kind: string; ruleNumber: number }) => [i.kind, i.ruleNumber]), [['SHADOWED', 100]]);
    t.sim.apply([renderDelete(100)]);
    assert.equal(ok(await t.gql(REPORT)).syncReport.inSync, true);
    await clear();
  });

  test('import adopts a hand-made range that keeps its ports and rewrites it to our rendering', async () => {
    const n = 10_500;
    t.sim.apply(renderRule({ ruleNumber: n, protocol: 'udp', externalPort: '40400-40409', internalPort: '40400-40409', translationAddress: vm.internalIp, inboundInterface: 'eth0', disabled: false }, { syntax: '1.4' }));
    t.sim.apply(renderRule({ ruleNumber: n + 1, protocol: 'udp', externalPort: '40410-40419', internalPort: '5000', translationAddress: vm.internalIp, inboundInterface: 'eth0', disabled: false }, { syntax: '1.4' }));
    const result = ok(await t.gql(`mutation { importRouterRules { adopted { ruleNumber portRule { ${RULE} } } skipped { ruleNumber reason } } }`)).importRouterRules;
    assert.deepEqual(
      result.adopted.map((a: { ruleNumber: number; portRule: Rule }) => [a.ruleNumber, a.portRule.protocol, a.portRule.externalPort, a.portRule.portCount]),
      [[n, 'UDP', 40400, 10]],
    );
    assert.deepEqual(result.skipped.map((s: { ruleNumber: number }) => s.ruleNumber), [n + 1]);
    assert.match(result.skipped[0].reason, /translation port 5000 with destination port range 40410-40419 does not keep each port/);
    const adopted = t.routerRules().find((r) => r.ruleNumber === n);
    assert.deepEqual([adopted?.externalPort, adopted?.internalPort], ['40400-40409', undefined]);
    // the adopted range now blocks allocation inside it for UDP
    assert.equal(errorCode(await add({ externalPort: 40405, protocol: 'UDP' })), 'CONFLICT');
    t.sim.apply([renderDelete(n + 1)]);
    await clear();
  });
});
