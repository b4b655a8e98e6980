// The pure parts of capacity: which pools a configuration has, and their arithmetic.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readBuildInfo } from '../../src/observability/build-info.js';
import { poolCapacity, poolRanges } from '../../src/observability/capacity.js';

const config = { natRuleRange: { first: 10000, last: 19999 }, externalPortRange: { first: 32000, last: 33000 }, lanPool: { first: '192.168.64.100', last: '192.168.65.99' } };

test('a configuration has four pools; ports count per transport; a LAN range may cross an octet', () => {
  const pools = poolRanges(config).map((r) => poolCapacity(r, 0));
  assert.deepEqual(
    pools.map((p) => [p.pool, p.range, p.total]),
    [
      ['rule_number', '10000-19999', 10000],
      ['external_port_tcp', '32000-33000', 1001],
      ['external_port_udp', '32000-33000', 1001],
      ['lan_address', '192.168.64.100-192.168.65.99', 256],
    ],
  );
});

test('free is what is left, never below zero', () => {
  const [rules] = poolRanges(config);
  assert.deepEqual(poolCapacity(rules, 9999), { pool: 'rule_number', range: '10000-19999', total: 10000, used: 9999, free: 1 });
  assert.equal(poolCapacity(rules, 10000).free, 0);
  assert.equal(poolCapacity(rules, 10001).free, 0);
});

test('build info: the version from package.json, the commit only from a valid build stamp', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'build-info-'));
  writeFileSync(path.join(root, 'package.json'), JSON.stringify({ version: '9.8.7' }));
  assert.deepEqual(readBuildInfo(root), { version: '9.8.7', node_version: process.version });
  mkdirSync(path.join(root, 'dist'));
  writeFileSync(path.join(root, 'dist', 'build-info.json'), JSON.stringify({ commit: 'not a commit' }));
  assert.equal(readBuildInfo(root).commit, undefined);
  const commit = 'a'.repeat(40);
  writeFileSync(path.join(root, 'dist', 'build-info.json'), JSON.stringify({ commit }));
  assert.equal(readBuildInfo(root).commit, commit);
});
