// The last-line allow-list before /configure (pure).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AppError, ErrorCode } from '../../src/domain/errors.js';
import { renderDelete, renderReplace, renderRule } from '../../src/vyos/nat-rule.js';
import { assertSafeCommands, unsafeReason } from '../../src/vyos/path-guard.js';
import type { RouterCommand, RouterRule } from '../../src/vyos/types.js';

const rule: RouterRule = {
  ruleNumber: 10000,
  description: 'vm web-1 · http (café)',
  protocol: 'tcp_udp',
  externalPort: '32000',
  internalPort: '80',
  translationAddress: '192.168.64.100',
  sourceAddress: '203.0.113.0/24',
  inboundInterface: 'eth0.100',
  disabled: true,
};
const set = (...path: string[]): RouterCommand => ({ op: 'set', path: ['nat', 'destination', 'rule', '10000', ...path] });

describe('path guard', () => {
  test('everything we render for a valid rule passes, in both syntaxes, with deletes', () => {
    for (const syntax of ['1.3', '1.4'] as const) {
      assert.doesNotThrow(() => assertSafeCommands([...renderReplace(rule, { syntax }), renderDelete(19999)]));
    }
  });

  test('refuses quotes, newlines, control characters and whitespace in tag values and leaves', () => {
    const bad: RouterCommand[] = [
      set('description', 'x"; delete nat'),
      set('description', "it's"),
      set('description', 'two\nlines'),
      set('description', 'bell\u0007'),
      set('description', 'sep\u2028arator'),
      set('description', ' padded '),
      set('description', ''),
      set('protocol', 'tcp '),
      set('protocol', 'icmp'),
      set('destination', 'port', '80 81'),
      set('destination', 'port', '0080'),
      set('destination', 'port', '-1'),
      set('destination', 'port', '65536'),
      set('destination', 'port', '1e3'),
      set('destination', 'port', 'NaN'),
      set('destination', 'port', '90-80'),
      set('destination', 'port', '80-80'),
      set('destination', 'port', '80-090'),
      set('destination', 'port', '80-90-100'),
      set('destination', 'port', '80-65536'),
      set('destination', 'port', '80,90'),
      set('translation', 'port', '-90'),
      set('translation', 'address', '192.168.064.1'),
      set('translation', 'address', '1.2.3.4 ; reboot'),
      set('translation', 'port', '$(reboot)'),
      set('source', 'address', '10.0.0.0/33'),
      set('source', 'address', '10.0.0.0/8/8'),
      set('source', 'address', '::1'),
      set('inbound-interface', 'name', 'eth0 eth1'),
      set('inbound-interface', 'eth0\n'),
      set('disable', 'now'),
      set('log'),
      set('translation', 'address'),
      { op: 'set', path: ['nat', 'destination', 'rule', '010000', 'protocol', 'tcp'] },
      { op: 'set', path: ['nat', 'destination', 'rule', '1000000', 'protocol', 'tcp'] },
      { op: 'set', path: ['nat', 'destination', 'rule', '10 1', 'protocol', 'tcp'] },
      { op: 'set', path: ['nat', 'source', 'rule', '10', 'protocol', 'tcp'] },
      { op: 'set', path: ['system', 'host-name', 'pwned'] },
      { op: 'delete', path: ['nat'] },
      { op: 'delete', path: ['nat', 'destination', 'rule'] },
      { op: 'comment', path: ['nat', 'destination', 'rule', '10000'] },
      { op: 'set', path: ['nat', 'destination', 'rule', 10000 as unknown as string, 'protocol', 'tcp'] },
    ];
    for (const command of bad) {
      assert.notEqual(unsafeReason(command), null, `refused: ${JSON.stringify(command)}`);
      assert.throws(
        () => assertSafeCommands([set('protocol', 'tcp'), command]),
        (e: unknown) => e instanceof AppError && e.code === ErrorCode.BAD_USER_INPUT && /refused before reaching the router/.test(e.message),
      );
    }
  });

  test('accepts the edges of the allowed values', () => {
    for (const command of [
      set('destination', 'port', '1'),
      set('destination', 'port', '65535'),
      set('destination', 'port', '1-65535'), // a port range rule (docs/operations.md "Port ranges")
      set('translation', 'port', '30000-30099'), // an imported range's translation, restored by an undo
      set('source', 'address', '0.0.0.0/0'),
      set('source', 'address', '255.255.255.255/32'),
      set('description', 'a'),
      set('description', 'x'.repeat(255)),
      set('description', 'prix 5 € ; 100% (ok) [x] {y} <z> #1 $x'),
      { op: 'delete', path: ['nat', 'destination', 'rule', '1', 'source', 'address'] } as RouterCommand,
    ]) {
      assert.equal(unsafeReason(command), null, JSON.stringify(command));
    }
    assert.notEqual(unsafeReason(set('description', 'x'.repeat(256))), null);
  });

  test('property: any string with a quote, a control character or a line break never passes as any value', () => {
    const poison = fc.constantFrom('"', "'", '\n', '\r', '\t', '\u0000', '\u001b', '\u007f', '\u0085', '\u2028', '\u2029');
    const hostile = fc.tuple(fc.string(), poison, fc.string()).map(([a, p, b]) => a + p + b);
    const places = [
      (v: string) => set('description', v),
      (v: string) => set('protocol', v),
      (v: string) => set('destination', 'port', v),
      (v: string) => set('translation', 'address', v),
      (v: string) => set('translation', 'port', v),
      (v: string) => set('source', 'address', v),
      (v: string) => set('inbound-interface', 'name', v),
      (v: string): RouterCommand => ({ op: 'delete', path: ['nat', 'destination', 'rule', v] }),
    ];
    fc.assert(
      fc.property(hostile, fc.integer({ min: 0, max: places.length - 1 }), (value, i) => unsafeReason(places[i](value)) !== null),
      { numRuns: 2000 },
    );
  });

  test('property: rendered rules from valid facts always pass', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const ip = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
    const valid = fc.record({
      ruleNumber: fc.integer({ min: 1, max: 999_999 }),
      protocol: fc.constantFrom('tcp', 'udp', 'tcp_udp'),
      externalPort: fc.integer({ min: 1, max: 65_535 }).map(String),
      internalPort: fc.integer({ min: 1, max: 65_535 }).map(String),
      translationAddress: ip,
      sourceAddress: fc.option(ip, { nil: undefined }),
      description: fc.stringMatching(/^[a-z0-9][a-z0-9 ._-]{0,40}[a-z0-9]$/),
      inboundInterface: fc.constantFrom('eth0', 'eth1.20', 'bond0'),
      disabled: fc.boolean(),
    });
    fc.assert(
      fc.property(valid, fc.constantFrom('1.3', '1.4'), (r, syntax) => {
        assertSafeCommands(renderRule(r as RouterRule, { syntax: syntax as '1.3' | '1.4' }));
      }),
      { numRuns: 500 },
    );
  });
});
