// vmapi as a shell user or an Ansible `command` task runs it: the built binary as its own process
// (node dist/src/cli/vmapi.js), against a live server with PostgreSQL and the simulator over HTTP.
// Its stdout is not a terminal here, so it answers in JSON unless told otherwise.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.js';
import { createKey, errorCode, ok, startTestApp, type TestApp } from '../support/app.js';
import { freePort } from '../support/server-process.js';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli', 'vmapi.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function vmapi(args: string[], env: Record<string, string | undefined>, onStderr?: (text: string) => void): { done: Promise<Run>; kill(): void } {
  // Only what the test gives: no VMAPI_* of the person running the tests leaks in.
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    onStderr?.(stderr);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<Run>((resolve) => child.on('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr }))));
  return { done, kill: () => child.kill('SIGKILL') };
}

describe('vmapi, the built binary, against a live server', () => {
  let t: TestApp;
  let operatorKey: string;
  let viewerKey: string;
  let env: Record<string, string>;
  let dir: string;

  const run = (args: string[], extra: Record<string, string | undefined> = {}) => vmapi(args, { ...env, ...extra }).done;
  /** Runs and expects exit 0 and JSON on stdout. */
  async function runJson<T = any>(args: string[], extra: Record<string, string | undefined> = {}): Promise<T> {
    const r = await run(args, extra);
    assert.equal(r.code, 0, `vmapi ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  before(async () => {
    t = await startTestApp();
    operatorKey = await createKey(t, 'OPERATOR');
    viewerKey = await createKey(t, 'VIEWER');
    // A bare server address: vmapi adds /graphql.
    env = { VMAPI_URL: t.url, VMAPI_KEY: operatorKey };
    dir = mkdtempSync(path.join(tmpdir(), 'vmapi-'));
  });
  after(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let vmId = '';
  test('vm list answers JSON when stdout is not a terminal, a table with -o table', async () => {
    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "cli-web", portRules: [{ internalPort: 22 }] }) { id } }`)).provisionVm;
    vmId = vm.id;
    const list = await runJson<{ id: string; name: string; portRules: { internalPort: number }[] }[]>(['vm', 'list']);
    const web = list.find((v) => v.name === 'cli-web');
    assert.equal(web?.id, vmId);
    assert.deepEqual(web?.portRules.map((r) => r.internalPort), [22]);

    const tableRun = await run(['vm', 'list', '-o', 'table']);
    assert.equal(tableRun.code, 0, tableRun.stderr);
    assert.match(tableRun.stdout, /^ID\s+NAME\s+INTERNAL IP\s+MAC\s+RULES$/m);
    assert.match(tableRun.stdout, new RegExp(`^${vmId}\\s+cli-web\\s+192\\.168\\.\\d+\\.\\d+\\s+-\\s+1$`, 'm'));
  });

  test('vm get by id and by name give the same VM', async () => {
    const byId = await runJson(['vm', 'get', vmId]);
    const byName = await runJson(['vm', 'get', 'cli-web']);
    assert.equal(byId.name, 'cli-web');
    assert.deepEqual(byName, byId);
  });

  let ruleId = '';
  let ruleNumber = 0;
  test('rule add puts the rule on the router, with a progress line on stderr while it waits', async () => {
    const r = await run(['rule', 'add', 'cli-web', '--internal-port', '8080', '--external-port', '32080', '--protocol', 'udp', '--description', 'from the cli'], { VMAPI_PROGRESS_AFTER_MS: '0' });
    assert.equal(r.code, 0, r.stderr);
    const rule = JSON.parse(r.stdout);
    assert.equal(rule.protocol, 'UDP');
    assert.equal(rule.externalPort, 32080);
    assert.equal(rule.vm.name, 'cli-web');
    assert.equal(r.stderr, 'vmapi: addPortRule: waiting for the router…\n');
    const onRouter = t.routerRules().find((x) => x.ruleNumber === rule.ruleNumber);
    assert.equal(onRouter?.protocol, 'udp');
    assert.equal(onRouter?.externalPort, '32080');
    assert.equal(onRouter?.internalPort, '8080');
    assert.equal(onRouter?.description, 'from the cli');
    ruleId = rule.id;
    ruleNumber = rule.ruleNumber;

    const quiet = await run(['vm', 'list', '--quiet'], { VMAPI_PROGRESS_AFTER_MS: '0' });
    assert.equal(quiet.stderr, '', 'reads that do not wait on the router print no progress line');
  });

  test('rule add --count forwards a port range, shown as a-b in the table', async () => {
    const r = await run(['rule', 'add', 'cli-web', '--external-port', '32500', '--count', '10', '--protocol', 'udp']);
    assert.equal(r.code, 0, r.stderr);
    const rule = JSON.parse(r.stdout);
    assert.deepEqual([rule.externalPort, rule.internalPort, rule.portCount], [32500, 32500, 10]);
    assert.equal(t.routerRules().find((x) => x.ruleNumber === rule.ruleNumber)?.externalPort, '32500-32509');
    const table = await run(['vm', 'get', 'cli-web', '-o', 'table']);
    assert.match(table.stdout, /UDP\s+32500-32509\s+32500-32509/);
    assert.equal((await run(['rule', 'rm', rule.id])).code, 0);
  });

  test('rule add --hairpin: off is the rule\'s own choice; on needs VYOS_HAIRPIN=on on the server (BAD_USER_INPUT, exit 10)', async () => {
    const off = await run(['rule', 'add', 'cli-web', '--internal-port', '8443', '--hairpin', 'off']);
    assert.equal(off.code, 0, off.stderr);
    assert.equal(JSON.parse(off.stdout).hairpin, false);
    const on = await run(['rule', 'add', 'cli-web', '--internal-port', '8444', '--hairpin', 'on']);
    assert.equal(on.code, EXIT.BAD_USER_INPUT, on.stderr);
    assert.match(on.stderr, /hairpin needs VYOS_HAIRPIN=on/);
    assert.equal((await run(['rule', 'add', 'cli-web', '--internal-port', '8445', '--hairpin', 'maybe'])).code, EXIT.USAGE);
    assert.equal((await run(['rule', 'rm', JSON.parse(off.stdout).id])).code, 0);
  });

  test('rule enable --disable, then rule enable', async () => {
    const off = await runJson(['rule', 'enable', ruleId, '--disable']);
    assert.equal(off.enabled, false);
    assert.equal(t.routerRules().find((x) => x.ruleNumber === ruleNumber)?.disabled, true);
    const on = await runJson(['rule', 'enable', ruleId]);
    assert.equal(on.enabled, true);
    assert.equal(t.routerRules().find((x) => x.ruleNumber === ruleNumber)?.disabled, false);
  });

  test('rule rm takes the rule off the router', async () => {
    assert.deepEqual(await runJson(['rule', 'rm', ruleId]), { id: ruleId });
    assert.equal(t.routerRules().some((x) => x.ruleNumber === ruleNumber), false);
  });

  test('drift report shows a rule deleted by hand; reconcile --dry-run changes nothing, reconcile repairs it', async () => {
    const [missing] = ok(await t.gql(`{ vm(id: "${vmId}") { portRules { ruleNumber } } }`)).vm.portRules.map((r: { ruleNumber: number }) => r.ruleNumber);
    t.sim.apply([{ op: 'delete', path: ['nat', 'destination', 'rule', String(missing)] }]);
    const report = await runJson(['drift', 'report']);
    assert.equal(report.inSync, false);
    assert.deepEqual(report.items.map((i: { kind: string; ruleNumber: number }) => [i.kind, i.ruleNumber]), [['MISSING_ON_ROUTER', missing]]);

    const table = await run(['drift', 'report', '-o', 'table']);
    assert.match(table.stdout, /^in sync:\s+no$/m);
    assert.match(table.stdout, new RegExp(`^${missing}\\s+MISSING_ON_ROUTER\\s+cli-web`, 'm'));

    const admin = { VMAPI_KEY: t.adminKey };
    const commits = t.sim.commitCount;
    const plan = await runJson(['drift', 'reconcile', '--mode', 'merged', '--dry-run'], admin);
    assert.equal(plan.dryRun, true);
    assert.equal(plan.mode, 'MERGED');
    assert.ok(plan.commands.some((c: { op: string; path: string[] }) => c.op === 'set' && c.path.includes(String(missing))));
    assert.equal(t.sim.commitCount, commits, 'a dry run commits nothing');
    assert.equal(t.routerRules().some((x) => x.ruleNumber === missing), false);

    const done = await runJson(['drift', 'reconcile', '--mode', 'merged'], admin);
    assert.equal(done.applied, true);
    assert.equal(done.report.inSync, true);
    assert.ok(t.routerRules().some((x) => x.ruleNumber === missing));
  });

  test('the key from --key-file; none, or a wrong one, is UNAUTHENTICATED (exit 17)', async () => {
    const file = path.join(dir, 'key');
    writeFileSync(file, `${viewerKey}\n`, { mode: 0o600 });
    const list = await runJson(['vm', 'list', '--key-file', file], { VMAPI_KEY: undefined });
    assert.ok(list.some((v: { name: string }) => v.name === 'cli-web'));

    const none = await run(['vm', 'list'], { VMAPI_KEY: undefined });
    assert.equal(none.code, EXIT.UNAUTHENTICATED);
    assert.match(none.stderr, /^vmapi: UNAUTHENTICATED: /);
    assert.equal(none.stdout, '');
    assert.equal((await run(['vm', 'list'], { VMAPI_KEY: 'vmk_nope_nope' })).code, EXIT.UNAUTHENTICATED);
    assert.equal((await run(['vm', 'list', '--key-file', path.join(dir, 'absent')])).code, EXIT.USAGE);
  });

  test('server errors map to their exit statuses', async () => {
    const unknownRule = await run(['rule', 'rm', randomUUID()]);
    assert.equal(unknownRule.code, EXIT.NOT_FOUND, unknownRule.stderr);
    assert.match(unknownRule.stderr, /^vmapi: NOT_FOUND: port rule [0-9a-f-]{36} not found\n$/);
    assert.equal((await run(['vm', 'get', 'no-such-vm'])).code, EXIT.NOT_FOUND);

    const viewer = await run(['drift', 'reconcile', '--dry-run'], { VMAPI_KEY: viewerKey });
    assert.equal(viewer.code, EXIT.FORBIDDEN, viewer.stderr);
    assert.match(viewer.stderr, /^vmapi: FORBIDDEN: this operation needs the ADMIN role\n$/);

    const taken = await run(['rule', 'add', vmId, '--internal-port', '80', '--external-port', '32080']);
    const again = await run(['rule', 'add', vmId, '--internal-port', '81', '--external-port', '32080']);
    assert.equal(taken.code, 0, taken.stderr);
    assert.equal(again.code, EXIT.CONFLICT, again.stderr);

    t.sim.faults.rejectNextCommit();
    const rejected = await run(['rule', 'add', vmId, '--internal-port', '82']);
    assert.equal(rejected.code, EXIT.ROUTER_REJECTED, rejected.stderr);
    assert.match(rejected.stderr, /^vmapi: ROUTER_REJECTED: router rejected the change: Simulated commit failure .*Commit failed\n$/, 'one line');

    const badInput = await run(['rule', 'add', vmId, '--internal-port', '83', '--source', 'not-an-address']);
    assert.equal(badInput.code, EXIT.BAD_USER_INPUT, badInput.stderr);
  });

  test('usage errors exit 2 without calling the server, an unreachable server 3', async () => {
    const nowhere = { VMAPI_URL: `http://127.0.0.1:${await freePort()}/graphql` };
    for (const args of [['rule', 'add', vmId, '--count', '0'], ['rule', 'add', vmId, '--internal-port', '70000'], ['vm', 'frobnicate'], ['vm', 'get'], ['vm', 'list', '--bogus'], ['drift', 'reconcile', '--mode', 'sideways'], ['vm', 'list', '-o', 'yaml']]) {
      const r = await run(args, nowhere);
      assert.equal(r.code, EXIT.USAGE, `${args.join(' ')}: ${r.stderr}`);
    }
    const unreachable = await run(['vm', 'list'], nowhere);
    assert.equal(unreachable.code, EXIT.UNREACHABLE);
    assert.match(unreachable.stderr, /^vmapi: cannot reach http:\/\/127\.0\.0\.1:\d+\/graphql: /);
    const help = await run(['--help'], nowhere);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^ {2}vmapi rule add <vm id\|name>/m);
  });

  test('events lists rollback events; events --follow prints one as it happens', async () => {
    t.sim.faults.rejectNextCommit();
    assert.equal(errorCode(await t.gql(`mutation { addPortRule(vmId: "${vmId}", input: { internalPort: 89 }) { id } }`)), 'ROUTER_REJECTED');
    const recorded = await runJson(['events']);
    assert.ok(recorded.some((e: { operation: string; outcome: string }) => e.operation === 'addPortRule' && e.outcome === 'ROLLED_BACK'));

    let listening: () => void = () => {};
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const child = vmapi(['events', '--follow', '--type', 'rollback', '--count', '1'], env, (err) => err.includes('listening') && listening());
    try {
      await ready;
      // "listening" comes with the connection, before the server has registered the
      // subscription: provoke until one arrives.
      let exited: Run | null = null;
      for (let i = 0; i < 5 && !exited; i++) {
        t.sim.faults.rejectNextCommit();
        assert.equal(errorCode(await t.gql(`mutation { addPortRule(vmId: "${vmId}", input: { internalPort: ${90 + i} }) { id } }`)), 'ROUTER_REJECTED');
        exited = await Promise.race([child.done, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
      }
      assert.ok(exited, 'vmapi events --follow never printed an event');
      assert.equal(exited.code, 0, exited.stderr);
      const lines = exited.stdout.trim().split('\n');
      assert.equal(lines.length, 1, '--count 1 stops after one event');
      const line = JSON.parse(lines[0]);
      assert.equal(line.subscription, 'rollbackEvents');
      assert.equal(line.event.operation, 'addPortRule');
      assert.equal(line.event.outcome, 'ROLLED_BACK');
    } finally {
      child.kill();
    }
  });

  test('events --follow with a refused key exits UNAUTHENTICATED', async () => {
    const r = await run(['events', '--follow'], { VMAPI_KEY: 'vmk_nope_nope' });
    assert.equal(r.code, EXIT.UNAUTHENTICATED, r.stderr);
    assert.match(r.stderr, /UNAUTHENTICATED: Forbidden: unknown API key/);
  });

  test('vm apply -f vm.yaml creates a VM, a second run changes nothing, --dry-run prints the commands a change then sends', async () => {
    const file = path.join(dir, 'vm.yaml');
    const yaml = (httpsPort: number) => `# the desired state of one VM
name: cli-apply
portRules:
  - name: ssh
    internalPort: 22
    externalPort: 32122
    sourceAddress: 203.0.113.0/24
  - name: https
    internalPort: ${httpsPort}
    protocol: tcp_udp
    description: https and quic
`;
    writeFileSync(file, yaml(443));
    const commits = t.sim.commitCount;
    const first = await runJson(['vm', 'apply', '-f', file]);
    assert.equal(first.created, true);
    assert.equal(first.changed, true);
    assert.deepEqual(first.rules.map((r: { name: string; change: string }) => [r.name, r.change]), [['ssh', 'CREATED'], ['https', 'CREATED']]);
    assert.equal(t.sim.commitCount, commits + 1, 'one router commit');
    const ssh = t.routerRules().find((r) => r.externalPort === '32122');
    assert.equal(ssh?.sourceAddress, '203.0.113.0/24');
    assert.equal(t.routerRules().find((r) => r.internalPort === '443')?.protocol, 'tcp_udp');

    const second = await runJson(['vm', 'apply', '-f', file]);
    assert.equal(second.changed, false);
    assert.deepEqual(second.commands, []);
    assert.equal(t.sim.commitCount, commits + 1, 'nothing differs: no router commit');

    writeFileSync(file, yaml(8443));
    const before = JSON.stringify(t.routerRules());
    const plan = await run(['vm', 'apply', '-f', file, '--dry-run', '-o', 'table']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /^dry run:\s+yes$/m);
    assert.match(plan.stdout, /^https\s+UPDATED\s+\d+/m);
    assert.match(plan.stdout, /^ {2}set nat destination rule \d+ translation port 8443$/m);
    assert.equal(JSON.stringify(t.routerRules()), before, 'a dry run changes nothing');
    const planned = (await runJson(['vm', 'apply', '-f', file, '--dry-run'])).commands;
    const changed = await runJson(['vm', 'apply', '-f', file]);
    assert.deepEqual(changed.commands, planned, 'the dry run printed what the change sent');
    assert.deepEqual(changed.rules.map((r: { name: string; change: string }) => [r.name, r.change]), [['ssh', 'UNCHANGED'], ['https', 'UPDATED']]);
    assert.equal(t.routerRules().find((r) => r.externalPort === '32122')?.ruleNumber, ssh?.ruleNumber, 'the unchanged rule keeps its number');

    writeFileSync(file, 'name: cli-apply\nportRules:\n  - name: ssh\n    internalPort: 22\n    prot: udp\n');
    const typo = await run(['vm', 'apply', '-f', file]);
    assert.equal(typo.code, EXIT.USAGE);
    assert.match(typo.stderr, /unknown key\(s\) prot/);
    writeFileSync(file, 'name: cli-apply\n');
    assert.equal((await run(['vm', 'apply', '-f', file])).code, EXIT.USAGE, 'no portRules is not "remove every rule"');
  });

  test('vm rm by name decommissions the VM', async () => {
    const { internalIp } = ok(await t.gql(`{ vm(id: "${vmId}") { internalIp } }`)).vm;
    assert.ok(t.routerRules().some((r) => r.translationAddress === internalIp));
    assert.deepEqual(await runJson(['vm', 'rm', 'cli-web']), { id: vmId });
    assert.equal(ok(await t.gql(`{ vm(id: "${vmId}") { id } }`)).vm, null);
    assert.equal(t.routerRules().some((r) => r.translationAddress === internalIp), false);
  });
});
