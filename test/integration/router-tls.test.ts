// Router TLS is verified by default: the whole server against a simulator over HTTPS with a
// self-signed certificate made at test time. Refused without VYOS_CA_FILE, accepted with it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { errorCode, ok, startTestApp } from '../support/app.js';

const PROVISION = `mutation($name: String!) { provisionVm(input: { name: $name, portRules: [{ internalPort: 443 }] }) { id portRules { ruleNumber } } }`;

describe('TLS to the router', () => {
  let dir: string;
  let tls: { key: Buffer; cert: Buffer };
  let caFile: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmapi-tls-'));
    const keyFile = path.join(dir, 'key.pem');
    caFile = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', caFile], { stdio: 'ignore' });
    tls = { key: readFileSync(keyFile), cert: readFileSync(caFile) };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a self-signed router without VYOS_CA_FILE: provisionVm is ROUTER_UNAVAILABLE and nothing is stored', async () => {
    const t = await startTestApp({ sim: { tls, commitLatencyMs: 0 } });
    try {
      assert.match(t.sim.url, /^https:\/\//, 'the simulator speaks HTTPS');
      const res = await t.gql(PROVISION, { name: 'tls-refused' });
      assert.equal(errorCode(res), 'ROUTER_UNAVAILABLE', JSON.stringify(res));
      assert.equal(ok(await t.gql(`{ vms { totalCount } }`)).vms.totalCount, 0, 'the database kept nothing');
      assert.deepEqual(t.routerRules(), [], 'the router got nothing');
      assert.equal(t.sim.commitCount, 0);
    } finally {
      await t.close();
    }
  });

  test('the same router with its certificate as VYOS_CA_FILE: provisionVm reaches it', async () => {
    const t = await startTestApp({ sim: { tls, commitLatencyMs: 0 }, env: { VYOS_CA_FILE: caFile } });
    try {
      const vm = ok(await t.gql(PROVISION, { name: 'tls-trusted' })).provisionVm;
      assert.deepEqual(t.routerRules().map((r) => r.ruleNumber), [vm.portRules[0].ruleNumber]);
    } finally {
      await t.close();
    }
  });

  test('a CA that did not sign the router certificate is refused too', async () => {
    const otherDir = mkdtempSync(path.join(tmpdir(), 'vmapi-tls-other-'));
    const otherCa = path.join(otherDir, 'ca.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(otherDir, 'k.pem'), '-out', otherCa], { stdio: 'ignore' });
    const t = await startTestApp({ sim: { tls, commitLatencyMs: 0 }, env: { VYOS_CA_FILE: otherCa } });
    try {
      assert.equal(errorCode(await t.gql(PROVISION, { name: 'tls-wrong-ca' })), 'ROUTER_UNAVAILABLE');
      assert.deepEqual(t.routerRules(), []);
    } finally {
      await t.close();
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});
