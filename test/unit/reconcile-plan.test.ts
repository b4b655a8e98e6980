import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byRuleNumber, planCommands } from '../../src/changes/change-plan';
import { diffDrift, type ExpectedRule } from '../../src/drift/drift-diff';
import { needsRepair, planReconcile, ReconcileMode } from '../../src/drift/reconcile-plan';
import { twinOf } from '../../src/domain/hairpin.js';
import { RANGE, rule } from '../support/router-rules.js';


// The database: 10001 (missing on the router), 10002 (drifted), 10003 (fine), 10004 (shadowed by rule 50).
const expected = [rule(10001), rule(10002), rule(10003), rule(10004, { externalPort: '32500' })];
const router = [
  rule(50, { externalPort: '32500', translationAddress: '10.0.0.5' }), // foreign, shadows 10004
  rule(9000, { translationAddress: '10.0.0.6' }), // foreign, harmless
  rule(10002, { internalPort: '8080', description: 'edited by hand' }),
  rule(10003),
  rule(10004, { externalPort: '32500' }),
  rule(10010, { translationAddress: '192.168.64.150' }), // unmanaged, inside the range
];
const db: ExpectedRule[] = expected.map((e) => ({ portRuleId: `id-${e.ruleNumber}`, expected: e }));
const items = diffDrift(db, router, RANGE, 'eth0');
const plan = (mode: ReconcileMode) => planReconcile(items, byRuleNumber(expected), mode, RANGE);

describe('planReconcile', () => {
  it('MERGED creates what is missing and nothing else', () => {
    assert.deepEqual(plan(ReconcileMode.MERGED), [{ ruleNumber: 10001, desired: expected[0] }]);
  });

  it('REPLACED also rewrites drifted rules', () => {
    assert.deepEqual(plan(ReconcileMode.REPLACED), [
      { ruleNumber: 10001, desired: expected[0] },
      { ruleNumber: 10002, desired: expected[1] },
    ]);
  });

  it('OVERRIDDEN also deletes unmanaged rules inside the range', () => {
    assert.deepEqual(plan(ReconcileMode.OVERRIDDEN), [
      { ruleNumber: 10001, desired: expected[0] },
      { ruleNumber: 10002, desired: expected[1] },
      { ruleNumber: 10010, desired: null },
    ]);
  });

  it('no mode ever plans a rule outside the range, the shadowing one included', () => {
    for (const mode of Object.values(ReconcileMode)) {
      const numbers = plan(mode).map((i) => i.ruleNumber);
      assert.ok(numbers.every((n) => n >= RANGE.first && n <= RANGE.last), `${mode}: ${numbers}`);
      const commands = planCommands(plan(mode), byRuleNumber(router), '1.4');
      for (const c of commands) assert.ok(!['50', '9000'].includes(c.path[3]), `${mode} touches a foreign rule: ${c.path.join(' ')}`);
    }
  });

  it('a database row left outside a narrowed range is not repaired (the range is the fence)', () => {
    const outside = rule(5000);
    const found = diffDrift([{ portRuleId: 'x', expected: outside }], [], RANGE, 'eth0');
    assert.equal(found.length, 1);
    assert.deepEqual(planReconcile(found, byRuleNumber([outside]), ReconcileMode.OVERRIDDEN, RANGE), []);
  });

  it('the commands: a drifted rule is deleted and set again in the same batch, an unmanaged one deleted', () => {
    const commands = planCommands(plan(ReconcileMode.OVERRIDDEN), byRuleNumber(router), '1.4');
    const lines = commands.map((c) => `${c.op} ${c.path.slice(3).join(' ')}`);
    assert.deepEqual(lines.filter((l) => l.startsWith('delete')), ['delete 10002', 'delete 10010']);
    assert.ok(lines.includes('set 10001 translation port 80'));
    assert.ok(lines.includes('set 10002 translation port 80'));
    assert.ok(lines.indexOf('delete 10002') < lines.indexOf('set 10002 translation port 80'));
  });

  it('needsRepair says whether a mode has anything to do', () => {
    const shadowOnly = items.filter((i) => i.kind === 'SHADOWED');
    assert.equal(needsRepair(shadowOnly, ReconcileMode.OVERRIDDEN, RANGE), false);
    assert.equal(needsRepair(items, ReconcileMode.MERGED, RANGE), true);
  });
});

describe('planReconcile with hairpin twins (VYOS_HAIRPIN)', () => {
  const hairpin = { lanInterface: 'eth1', publicAddress: '203.0.113.10', lanSubnet: '192.168.64.0/24', ruleOffset: 100_000, snatRule: 9000, byDefault: true };
  const withTwins: ExpectedRule[] = [rule(10001), rule(10002)].flatMap((r) => [
    { portRuleId: `id-${r.ruleNumber}`, expected: r },
    { portRuleId: `id-${r.ruleNumber}`, expected: twinOf(r, hairpin), twin: true },
  ]);
  // both rules in place; 10001's twin missing, 10002's twin edited by hand
  const onRouter = [rule(10001), rule(10002), { ...twinOf(rule(10002), hairpin), destinationAddress: '198.51.100.1' }];
  const twinItems = diffDrift(withTwins, onRouter, RANGE, 'eth0');

  it('a twin finding is repaired through its rule (the runner plans the twin beside it); MERGED only creates', () => {
    assert.deepEqual(twinItems.map((i) => [i.kind, i.ruleNumber]), [['MISSING_ON_ROUTER', 110001], ['DRIFTED', 110002]]);
    const byNumber = byRuleNumber([rule(10001), rule(10002)]);
    assert.deepEqual(planReconcile(twinItems, byNumber, ReconcileMode.REPLACED, RANGE, hairpin).map((i) => i.ruleNumber), [10001, 10002]);
    assert.deepEqual(planReconcile(twinItems, byNumber, ReconcileMode.MERGED, RANGE, hairpin).map((i) => i.ruleNumber), [10001]);
    assert.deepEqual(planReconcile(twinItems, byNumber, ReconcileMode.REPLACED, RANGE), [], 'without hairpin they are not ours');
  });

  it('twin-only drift needs repair (AUTO_RECONCILE)', () => {
    assert.equal(needsRepair(twinItems, ReconcileMode.REPLACED, RANGE, hairpin), true);
    assert.equal(needsRepair(twinItems, ReconcileMode.REPLACED, RANGE), false);
  });
});
