import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Protocol } from '../../src/domain/entities/protocol.js';
import { ruleDifferences, type KnownRule } from '../support/in-sync.js';
import { RANGE, rule } from '../support/router-rules.js';

const vm = { name: 'web', internalIp: '192.168.64.100' };
const known = (n: number, extra: Partial<KnownRule['rule']> = {}): KnownRule => ({
  id: `id-${n}`,
  rule: { ruleNumber: n, protocol: Protocol.TCP, externalPort: 32000 + (n % 1000), internalPort: 80, description: null, sourceAddress: null, enabled: true, ...extra },
  vm,
});

describe('ruleDifferences (the in-sync check shared by tests and the chaos run)', () => {
  it('is empty when the managed range holds exactly the known rules; rules outside the range do not count', () => {
    assert.deepEqual(ruleDifferences([known(10000), known(10001)], [rule(10000), rule(10001), rule(50)], RANGE, 'eth0'), []);
  });

  it('names a missing rule, a differing field and a rule the database does not know', () => {
    const diffs = ruleDifferences([known(10000), known(10001, { enabled: false })], [rule(10001), rule(10002)], RANGE, 'eth0');
    assert.deepEqual(
      diffs.map((d) => [d.kind, d.ruleNumber]),
      [
        ['MISSING_ON_ROUTER', 10000],
        ['DIFFERS', 10001],
        ['UNKNOWN_TO_DATABASE', 10002],
      ],
    );
    assert.deepEqual(diffs[1].kind === 'DIFFERS' && diffs[1].fields, [{ field: 'enabled', expected: 'false', actual: 'true' }]);
  });
});
