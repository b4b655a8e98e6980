// The router client against the simulator over real HTTP(S): no mocked fetch.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import fetch from 'node-fetch';
import { SIMULATOR_PROFILES } from '../../src/simulator/profiles';
import { startSimulator, type Simulator } from '../../src/simulator/simulator';
import { VyosClient, type RouterCallEvent, type VyosClientOptions } from '../../src/vyos/client';
import { parseNatDestination, renderDelete, renderReplace, renderRule } from '../../src/vyos/nat-rule';
import { RouterError, RouterErrorKind, type NatSyntax, type RouterRule } from '../../src/vyos/types';

const KEY = 'sim-key';
const NAT = ['nat', 'destination'];


const rule = (ruleNumber: number, extra: Partial<RouterRule> = {}): RouterRule => ({
  ruleNumber,
  description: `vm web ${ruleNumber}`,
  protocol: 'tcp',
  externalPort: String(32000 + (ruleNumber % 1000)),
  inboundInterface: 'eth0',
  translationAddress: '192.168.64.100',
  internalPort: '8080',
  disabled: false,
  ...extra,
});

async function rejectsWith(promise: Promise<unknown>, kind: RouterErrorKind): Promise<RouterError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RouterError, `expected a RouterError, got ${String(err)}`);
    assert.equal(err.kind, kind, `expected ${kind}, got ${err.kind}: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${kind}, but the call succeeded`);
}

/** The router's own `error` text for a raw request, to check the client passes it on verbatim. */
async function rawError(url: string, endpoint: string, body: object): Promise<string> {
  const res = await fetch(url + endpoint, { method: 'POST', body: JSON.stringify({ key: KEY, ...body }) });
  const json = (await res.json()) as { success: boolean; error: string };
  assert.equal(json.success, false);
  return json.error;
}

async function withSim<T>(opts: Parameters<typeof startSimulator>[0], fn: (sim: Simulator) => Promise<T>): Promise<T> {
  const sim = await startSimulator(opts);
  try {
    return await fn(sim);
  } finally {
    await sim.close();
  }
}

const clientFor = (sim: Simulator, opts: Partial<VyosClientOptions> = {}): VyosClient =>
  new VyosClient({ url: sim.url, key: KEY, timeoutMs: 2000, writeTimeoutMs: 5000, ...opts });

// ---------------------------------------------------------------------------------------------

// Every generation the simulator models (src/simulator/profiles.ts): the version comes from
// GET /info where the build has it (§2, March 2025 on) or `/show version`; commit-confirm from the
// probe, never from the name.
for (const profile of SIMULATOR_PROFILES) {
  const version = profile.name;
  describe(`VyosClient against simulator ${version} (VyOS ${profile.image})`, () => {
    let sim: Simulator;
    let client: VyosClient;
    let syntax: NatSyntax;

    before(async () => {
      sim = await startSimulator({ version, commitLatencyMs: 0, minuteMs: 300 });
      client = clientFor(sim, profile.generation === '1.3' ? { syntax: '1.3' } : {});
      syntax = (await client.capabilities()).syntax;
    });
    after(() => sim.close());

    it('§2 §4 capabilities: the image name, commit-confirm from the probe, NAT syntax from the generation', async () => {
      const caps = await clientFor(sim).capabilities();
      assert.equal(caps.version, profile.image);
      assert.equal(caps.commitConfirm, profile.commitConfirm);
      assert.equal(caps.commitConfirmBasis, 'probe');
      assert.equal(caps.syntax, profile.generation === '1.3' ? '1.3' : '1.4');
    });

    it('§2 info: GET /info where the build has it, null (nginx 404) before', async () => {
      const info = await client.info();
      if (profile.info) {
        assert.ok(info);
        assert.equal(info.version, profile.image);
        assert.equal(typeof info.hostname, 'string');
      } else {
        assert.equal(info, null);
      }
    });

    it('§3 showConfig on an empty path gives null', async () => {
      assert.equal(await client.showConfig(NAT), null);
    });

    it('§1 configure commits one batch; §3 showConfig reads it back and parses to the same rule', async () => {
      const r = rule(10000, { sourceAddress: '203.0.113.0/24', disabled: true });
      const commitsBefore = sim.commitCount;
      const data = await client.configure(renderRule(r, { syntax }));
      assert.ok(data === null || typeof data === 'string');
      assert.equal(sim.commitCount, commitsBefore + 1, 'one /configure call = one commit');
      const json = await client.showConfig(NAT);
      assert.deepEqual(parseNatDestination(json), [r]);
      const ruleNode = (json as { rule: Record<string, Record<string, unknown>> }).rule['10000'];
      if (syntax === '1.3') assert.equal(ruleNode['inbound-interface'], 'eth0');
      else assert.deepEqual(ruleNode['inbound-interface'], { name: 'eth0' });
      assert.deepEqual(ruleNode['disable'], {});
    });

    it('§3 showConfig of a leaf path gives {leaf: value}', async () => {
      assert.deepEqual(await client.showConfig([...NAT, 'rule', '10000', 'protocol']), { protocol: 'tcp' });
    });

    it('§2 exists: true for a configured path (with a trailing value), false otherwise', async () => {
      assert.equal(await client.exists([...NAT, 'rule', '10000']), true);
      assert.equal(await client.exists([...NAT, 'rule', '10000', 'protocol', 'tcp']), true);
      assert.equal(await client.exists([...NAT, 'rule', '10999']), false);
    });

    it('§1 replace (delete + set in one batch) removes stale leaves', async () => {
      const r = rule(10000, { internalPort: '9090' });
      await client.configure(renderReplace(r, { syntax }));
      assert.deepEqual(parseNatDestination(await client.showConfig(NAT)), [r]);
    });

    it('§2 showCommands lists flat set commands', async () => {
      const text = await client.showCommands();
      assert.match(text, /set nat destination rule 10000 translation port '?9090'?/);
    });

    it('§1 a rejected batch is REJECTED with the router message verbatim, and nothing changes', async () => {
      const bad = renderRule(rule(10001, { protocol: 'bogus' }), { syntax }); // §5 ip-protocol validator, every version
      const expected = await rawError(sim.url, '/configure', { commands: bad });
      const err = await rejectsWith(client.configure(bad), RouterErrorKind.REJECTED);
      assert.equal(err.details.routerMessage, expected);
      assert.equal(err.details.status, 400);
      assert.equal(await client.exists([...NAT, 'rule', '10001']), false);
    });

    it('§3 an invalid showConfig path is REJECTED, not null', async () => {
      await rejectsWith(client.showConfig(['nat', 'no-such-node']), RouterErrorKind.REJECTED);
    });

    it('§2 /config-file save and load', async () => {
      const saved = await client.saveConfigFile('/config/vyos-vm-api-test.boot');
      assert.equal(typeof saved, 'string');
      await client.configure([renderDelete(10000)]);
      assert.equal(await client.showConfig(NAT), null);
      const loaded = await client.loadConfigFile('/config/vyos-vm-api-test.boot');
      assert.ok(loaded === null || typeof loaded === 'string');
      assert.equal(await client.exists([...NAT, 'rule', '10000']), true);
      await client.configure([renderDelete(10000)]);
    });

    if (profile.commitConfirm) {
      it('§4 commit-confirm: confirm_time arms the timer, confirm stops it', async () => {
        const data = await client.configure(renderRule(rule(10002), { syntax }), { confirmMinutes: 1 });
        assert.match(data ?? '', /commit-confirm/);
        assert.equal(sim.confirmPending(), true);
        assert.match(await client.confirm(), /timer stopped/);
        assert.equal(sim.confirmPending(), false);
        assert.match(await client.confirm(), /No confirm pending/);
        assert.equal(await client.exists([...NAT, 'rule', '10002']), true);
      });

      it('§4 commit-confirm: without a confirm the router reverts by itself', async () => {
        await client.configure(renderRule(rule(10003), { syntax }), { confirmMinutes: 1 });
        assert.equal(await client.exists([...NAT, 'rule', '10003']), true);
        await new Promise((r) => setTimeout(r, 300 * 2));
        assert.equal(await client.exists([...NAT, 'rule', '10003']), false);
      });

      it('§4 a second confirm_time while one is pending is BUSY (wait and retry), not REJECTED', async () => {
        await client.configure(renderRule(rule(10004), { syntax }), { confirmMinutes: 1 });
        await rejectsWith(client.configure(renderRule(rule(10005), { syntax }), { confirmMinutes: 1 }), RouterErrorKind.BUSY);
        await client.confirm();
      });
    } else {
      it('§1 confirm is not a valid operation before 2025 rolling: REJECTED', async () => {
        await rejectsWith(client.confirm(), RouterErrorKind.REJECTED);
      });
    }

    it('§3 round trip over HTTP: render -> configure -> showConfig -> parse equals the rule', async () => {
      const port = fc.integer({ min: 1, max: 65535 }).map(String);
      const safeChar = fc
        .integer({ min: 0x20, max: 0x7e })
        .map((c) => String.fromCharCode(c))
        // quotes are refused by the router; a backslash does not round-trip (vyos-api.md §5), and our inputs refuse it
        .filter((c) => c !== '"' && c !== "'" && c !== '\\');
      const arb = fc.record(
        {
          ruleNumber: fc.integer({ min: 10000, max: 19999 }),
          description: fc.string({ unit: safeChar, minLength: 1, maxLength: 80 }),
          protocol: fc.constantFrom('tcp', 'udp', 'tcp_udp'),
          externalPort: port,
          internalPort: port,
          translationAddress: fc.ipV4(),
          sourceAddress: fc.ipV4(),
          inboundInterface: fc.constant('eth0'),
          disabled: fc.boolean(),
        },
        { noNullPrototype: true, requiredKeys: ['ruleNumber', 'protocol', 'externalPort', 'internalPort', 'translationAddress', 'inboundInterface', 'disabled'] },
      );
      await fc.assert(
        fc.asyncProperty(arb, async (r) => {
          await client.configure(renderReplace(r, { syntax }));
          try {
            const parsed = parseNatDestination(await client.showConfig(NAT));
            assert.deepEqual(parsed.find((p) => p.ruleNumber === r.ruleNumber), r);
          } finally {
            await client.configure([renderDelete(r.ruleNumber)]);
          }
        }),
        { numRuns: 25 },
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------

describe('faults: each injected fault gives its typed error (§1, RouterErrorKind)', () => {
  let sim: Simulator;
  let client: VyosClient;
  const syntax: NatSyntax = '1.4';

  before(async () => {
    sim = await startSimulator({ version: 'rolling', commitLatencyMs: 0, minuteMs: 60_000 });
    client = clientFor(sim, { timeoutMs: 300, writeTimeoutMs: 300 });
  });
  after(() => sim.close());

  it('§5 rejectNextCommit -> REJECTED with the commit message verbatim; batch discarded', async () => {
    sim.faults.rejectNextCommit('Commit failed (injected)');
    const err = await rejectsWith(client.configure(renderRule(rule(11000), { syntax })), RouterErrorKind.REJECTED);
    assert.match(err.details.routerMessage ?? '', /Commit failed \(injected\)/);
    assert.equal(await client.exists([...NAT, 'rule', '11000']), false);
  });

  it('§4 failNextConfirm -> REJECTED on confirm', async () => {
    await client.configure(renderRule(rule(11001), { syntax }), { confirmMinutes: 1 });
    sim.faults.failNextConfirm('confirm failed (injected)');
    const err = await rejectsWith(client.confirm(), RouterErrorKind.REJECTED);
    assert.match(err.details.routerMessage ?? '', /confirm failed \(injected\)/);
    sim.faults.clear();
    await client.confirm();
  });

  it('§6 loseNextReply -> OUTCOME_UNKNOWN on configure, and the rule IS on the router', async () => {
    sim.faults.loseNextReply();
    await rejectsWith(client.configure(renderRule(rule(11002), { syntax })), RouterErrorKind.OUTCOME_UNKNOWN);
    assert.equal(await client.exists([...NAT, 'rule', '11002']), true);
  });

  it('§1 answer500 -> SERVER_ERROR (reads and writes)', async () => {
    sim.faults.answer500(2);
    const err = await rejectsWith(client.showConfig(NAT), RouterErrorKind.SERVER_ERROR);
    assert.equal(err.details.status, 500);
    await rejectsWith(client.configure([renderDelete(11002)]), RouterErrorKind.SERVER_ERROR);
    assert.equal(await client.exists([...NAT, 'rule', '11002']), true);
  });

  it('setUnreachable -> UNREACHABLE for reads and writes (nothing was sent), then recovers', async () => {
    await sim.faults.setUnreachable(true);
    try {
      await rejectsWith(client.showConfig(NAT), RouterErrorKind.UNREACHABLE);
      await rejectsWith(client.configure([renderDelete(11002)]), RouterErrorKind.UNREACHABLE);
    } finally {
      await sim.faults.setUnreachable(false);
    }
    assert.equal(await client.exists([...NAT, 'rule', '11002']), true);
  });

  it('slow beyond timeoutMs: TIMEOUT on a read, OUTCOME_UNKNOWN on a write', async () => {
    sim.faults.slow(1000, 1);
    await rejectsWith(client.showConfig(NAT), RouterErrorKind.TIMEOUT);
    sim.faults.slow(1000, 1);
    await rejectsWith(client.configure(renderRule(rule(11003), { syntax })), RouterErrorKind.OUTCOME_UNKNOWN);
    sim.faults.clear();
    await new Promise((r) => setTimeout(r, 1100)); // let the slowed write finish before reading
    assert.equal(await client.exists([...NAT, 'rule', '11003']), true);
  });

  it('§7 a wrong key -> UNAUTHORIZED, and the key never appears in the error', async () => {
    const wrong = new VyosClient({ url: sim.url, key: 'not-the-key-s3cret' });
    const err = await rejectsWith(wrong.showConfig(NAT), RouterErrorKind.UNAUTHORIZED);
    assert.equal(err.details.status, 401);
    assert.doesNotMatch(err.message + (err.details.routerMessage ?? ''), /s3cret/);
    await rejectsWith(wrong.configure(renderRule(rule(11004), { syntax })), RouterErrorKind.UNAUTHORIZED);
  });

  it('onCall reports endpoint, op, outcome and duration for every call', async () => {
    const events: RouterCallEvent[] = [];
    const watched = clientFor(sim, { onCall: (e) => events.push(e) });
    await watched.showConfig(NAT);
    sim.faults.answer500(1);
    await rejectsWith(watched.exists(NAT), RouterErrorKind.SERVER_ERROR);
    assert.deepEqual(
      events.map(({ endpoint, op, outcome }) => ({ endpoint, op, outcome })),
      [
        { endpoint: '/retrieve', op: 'showConfig', outcome: 'ok' },
        { endpoint: '/retrieve', op: 'exists', outcome: 'SERVER_ERROR' },
      ],
    );
    for (const e of events) assert.ok(e.durationMs >= 0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('capability overrides', () => {
  it('§4 commitConfirm and syntax overrides win over detection', async () => {
    await withSim({ version: 'rolling', commitLatencyMs: 0 }, async (sim) => {
      const caps = await clientFor(sim, { commitConfirm: 'off', syntax: '1.3' }).capabilities();
      assert.deepEqual({ commitConfirm: caps.commitConfirm, syntax: caps.syntax }, { commitConfirm: false, syntax: '1.3' });
    });
    await withSim({ version: '1.4', commitLatencyMs: 0 }, async (sim) => {
      const caps = await clientFor(sim, { commitConfirm: 'on' }).capabilities();
      assert.deepEqual({ commitConfirm: caps.commitConfirm, syntax: caps.syntax }, { commitConfirm: true, syntax: '1.4' });
    });
  });

  it('capabilities are cached after the first detection, and a failed detection is retried', async () => {
    await withSim({ version: 'rolling', commitLatencyMs: 0 }, async (sim) => {
      const events: RouterCallEvent[] = [];
      const client = clientFor(sim, { onCall: (e) => events.push(e) });
      await sim.faults.setUnreachable(true);
      await rejectsWith(client.capabilities(), RouterErrorKind.UNREACHABLE);
      await sim.faults.setUnreachable(false);
      const first = await client.capabilities();
      const calls = events.length;
      assert.deepEqual(await client.capabilities(), first);
      assert.equal(events.length, calls, 'no further calls once detected');
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('replies that are not the VyOS envelope (§1), from a plain HTTP server', () => {
  let server: http.Server;
  let url: string;
  let reply: { status: number; body: string } = { status: 404, body: '{"detail":"Not Found"}' };

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (reply.status === 0) return void req.socket.destroy(); // a reset: no reply at all
        res.writeHead(reply.status, { 'content-type': 'text/html; charset=utf-8' });
        res.end(reply.body.replace('$BODY', JSON.stringify(body)));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("§2 FastAPI's {detail} 404/405 is PROTOCOL; info() on a 404 is null", async () => {
    const client = new VyosClient({ url, key: KEY });
    reply = { status: 404, body: '{"detail":"Not Found"}' };
    await rejectsWith(client.showConfig(NAT), RouterErrorKind.PROTOCOL);
    assert.equal(await client.info(), null);
    reply = { status: 405, body: '{"detail":"Method Not Allowed"}' };
    await rejectsWith(client.configure([renderDelete(1)]), RouterErrorKind.PROTOCOL);
  });

  it('§1 an nginx HTML 503/504 page is SERVER_ERROR; HTML with 200 is PROTOCOL', async () => {
    const client = new VyosClient({ url, key: KEY });
    reply = { status: 503, body: '<html><body>503 Service Temporarily Unavailable</body></html>' };
    await rejectsWith(client.showConfig(NAT), RouterErrorKind.SERVER_ERROR);
    reply = { status: 200, body: '<html>hello</html>' };
    await rejectsWith(client.showConfig(NAT), RouterErrorKind.PROTOCOL);
  });

  it('a connection reset: TIMEOUT on a read, OUTCOME_UNKNOWN on a write', async () => {
    const client = new VyosClient({ url, key: KEY });
    reply = { status: 0, body: '' };
    await rejectsWith(client.showConfig(NAT), RouterErrorKind.TIMEOUT);
    await rejectsWith(client.confirm(), RouterErrorKind.OUTCOME_UNKNOWN);
    await rejectsWith(client.loadConfigFile('/config/x.boot'), RouterErrorKind.OUTCOME_UNKNOWN);
  });

  it('§1 a text/html content type with a JSON envelope is parsed as the envelope', async () => {
    const client = new VyosClient({ url, key: KEY });
    reply = { status: 200, body: '{"success": true, "data": {"rule": {}}, "error": null}' };
    assert.deepEqual(await client.showConfig(NAT), { rule: {} });
  });

  it('§1 sends the key inside a raw JSON body; a router message echoing it (pydantic input) is masked', async () => {
    const client = new VyosClient({ url, key: 'very-s3cret-key' });
    reply = { status: 400, body: '{"success": false, "error": $BODY, "data": null}' };
    const err = await rejectsWith(client.configure([renderDelete(1)]), RouterErrorKind.REJECTED);
    const echoed = JSON.parse((err.details.routerMessage ?? '').replaceAll('***', 'MASKED')) as Record<string, unknown>;
    assert.deepEqual(echoed, { key: 'MASKED', commands: [{ op: 'delete', path: ['nat', 'destination', 'rule', '1'] }] });
    assert.doesNotMatch(err.message, /s3cret/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('TLS with a self-signed certificate', () => {
  let dir: string;
  let sim: Simulator;
  let caFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vyos-tls-'));
    caFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', keyFile, '-out', caFile,
    ], { stdio: 'ignore' });
    sim = await startSimulator({
      version: '1.4',
      commitLatencyMs: 0,
      host: '127.0.0.1',
      tls: { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(caFile, 'utf8') },
    });
    assert.match(sim.url, /^https:/);
  });
  after(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is refused without caFile (UNREACHABLE: nothing was sent)', async () => {
    const err = await rejectsWith(new VyosClient({ url: sim.url, key: KEY }).showConfig(NAT), RouterErrorKind.UNREACHABLE);
    assert.match(err.message, /self[- ]signed|certificate/i);
  });

  it('is accepted with caFile', async () => {
    assert.equal(await new VyosClient({ url: sim.url, key: KEY, caFile }).showConfig(NAT), null);
  });

  it('is accepted with tlsInsecure, which warns in the log', async () => {
    const warnings: string[] = [];
    const logger = { warn: (_o: object, msg?: string) => warnings.push(msg ?? ''), debug: () => undefined };
    const client = new VyosClient({ url: sim.url, key: KEY, tlsInsecure: true, logger });
    assert.equal(await client.showConfig(NAT), null);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /NOT verified/);
  });
});
