// docs/EXAMPLES.md cannot rot: every block marked `example=<name>` is taken from the Markdown and
// run against a live server as a reader would run it (curl through bash, the TypeScript programs
// type-checked and run by node, the GraphiQL document over HTTP and graphql-ws), and what it did
// is checked on the router.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { createClient } from 'graphql-ws';
import ts from 'typescript';
import WebSocket from 'ws';
import { projectRoot } from '../../src/database/orm.js';
import { ok, startTestApp, type TestApp } from '../support/app.js';

const EXAMPLES_FILE = path.join(projectRoot, 'docs', 'EXAMPLES.md');
// Inside the project so the programs resolve graphql-ws and ws from its node_modules.
const WORK_DIR = path.join(projectRoot, 'dist', '.examples');

interface Example {
  lang: string;
  name: string;
  code: string;
}

/** Every fenced block whose info string carries `example=<name>`, by name. */
export function extractExamples(markdown: string): Map<string, Example> {
  const found = new Map<string, Example>();
  for (const m of markdown.matchAll(/^```(\w+) example=([\w-]+)\n([\s\S]*?)^```$/gm)) {
    assert.ok(!found.has(m[2]), `example ${m[2]} appears twice`);
    found.set(m[2], { lang: m[1], name: m[2], code: m[3] });
  }
  return found;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runProcess(command: string, args: string[], env: Record<string, string>, onStdout?: (text: string) => void, cwd?: string): { done: Promise<Run>; kill(): void } {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
    onStdout?.(stdout);
  });
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<Run>((resolve) => child.on('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr }))));
  return { done, kill: () => child.kill('SIGKILL') };
}

/** Type-checks a TypeScript example (strict, as a reader's tsc would) and emits it as ESM. */
function compileTs(example: Example): string {
  mkdirSync(WORK_DIR, { recursive: true });
  const source = path.join(WORK_DIR, `${example.name}.mts`);
  writeFileSync(source, example.code);
  const program = ts.createProgram([source], {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    skipLibCheck: true,
    outDir: WORK_DIR,
    rootDir: WORK_DIR,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  const text = ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => WORK_DIR, getNewLine: () => '\n' });
  assert.equal(diagnostics.length, 0, `example ${example.name} does not type-check:\n${text}`);
  program.emit();
  return path.join(WORK_DIR, `${example.name}.mjs`);
}

describe('docs/EXAMPLES.md runs against a live server', () => {
  const examples = extractExamples(readFileSync(EXAMPLES_FILE, 'utf8'));
  const ran = new Set<string>();
  let t: TestApp;
  let env: Record<string, string>;

  function example(name: string): Example {
    const e = examples.get(name);
    assert.ok(e, `docs/EXAMPLES.md has no block marked example=${name}`);
    ran.add(name);
    return e;
  }

  /** Runs a curl example through bash and returns its JSON reply, which must carry no errors. */
  async function sh<T = any>(name: string, extra: Record<string, string> = {}): Promise<T> {
    const e = example(name);
    assert.equal(e.lang, 'sh');
    const r = await runProcess('bash', ['-euo', 'pipefail', '-c', e.code], { ...env, ...extra }).done;
    assert.equal(r.code, 0, `${name} failed: ${r.stderr}`);
    const body = JSON.parse(r.stdout) as { data?: T; errors?: unknown[] };
    assert.equal(body.errors, undefined, `${name} answered with errors: ${r.stdout}`);
    return body.data as T;
  }

  /** Provokes one rollback event: the router rejects the next commit. */
  async function provokeRollback(label: string) {
    t.sim.faults.rejectNextCommit();
    const res = await t.gql(`mutation { provisionVm(input: { name: "${label}", portRules: [{ internalPort: 22 }] }) { id } }`);
    assert.equal(res.errors?.[0]?.extensions?.code, 'ROUTER_REJECTED');
  }

  before(async () => {
    t = await startTestApp();
    env = { URL: t.url, KEY: t.adminKey };
    rmSync(WORK_DIR, { recursive: true, force: true });
  });
  after(async () => {
    await t?.close();
    rmSync(WORK_DIR, { recursive: true, force: true });
  });

  let vmId = '';
  let ruleId = '';
  let ruleNumber = 0;

  test('curl: provision a VM with advanced port rules (and a retry with the same idempotencyKey)', async () => {
    const { provisionVm: vm } = await sh('provision');
    assert.equal(vm.name, 'web-1');
    assert.equal(vm.portRules.length, 3);
    const rules = t.routerRules();
    const ssh = rules.find((r) => r.externalPort === '32022');
    assert.equal(ssh?.sourceAddress, '203.0.113.0/24');
    assert.equal(ssh?.internalPort, '22');
    assert.equal(ssh?.description, 'ssh from the office');
    assert.equal(rules.find((r) => r.internalPort === '443')?.protocol, 'tcp_udp');
    assert.equal(rules.find((r) => r.internalPort === '8080')?.disabled, true);
    const again = await sh('provision');
    assert.equal(again.provisionVm.id, vm.id, 'the retry returns the first result');
    assert.equal(t.routerRules().length, 3);
    vmId = vm.id;
    const rule = vm.portRules.find((r: { internalPort: number }) => r.internalPort === 22);
    ruleId = rule.id;
    ruleNumber = rule.ruleNumber;
  });

  test('curl: change a rule', async () => {
    const { updatePortRule } = await sh('update-rule', { RULE_ID: ruleId });
    assert.equal(updatePortRule.externalPort, 32023);
    const onRouter = t.routerRules().find((r) => r.ruleNumber === ruleNumber);
    assert.equal(onRouter?.externalPort, '32023');
    assert.equal(onRouter?.sourceAddress ?? null, null);
  });

  test('curl: disable a rule', async () => {
    const { setPortRuleEnabled } = await sh('disable-rule', { RULE_ID: ruleId });
    assert.equal(setPortRuleEnabled.enabled, false);
    assert.equal(t.routerRules().find((r) => r.ruleNumber === ruleNumber)?.disabled, true);
  });

  test('curl: forward a port range', async () => {
    const { addPortRule: range } = await sh('range-rule', { VM_ID: vmId });
    assert.deepEqual([range.externalPort, range.internalPort, range.portCount, range.protocol], [32100, 32100, 100, 'UDP']);
    const onRouter = t.routerRules().find((r) => r.ruleNumber === range.ruleNumber);
    assert.deepEqual([onRouter?.externalPort, onRouter?.internalPort, onRouter?.protocol], ['32100-32199', undefined, 'udp']);
    // the examples after this one read the VM as it was
    ok(await t.gql(`mutation($id: ID!) { removePortRule(id: $id) }`, { id: range.id }));
  });

  test('curl: read a VM and its rules, computed now', async () => {
    const { vm } = await sh('read-vm', { VM_ID: vmId });
    assert.equal(vm.name, 'web-1');
    const rule = vm.portRules.find((r: { ruleNumber: number }) => r.ruleNumber === ruleNumber);
    assert.deepEqual(rule, { ruleNumber, externalPort: 32023, enabled: false }, 'the two changes above are in it');
  });

  test('curl: decommission a VM', async () => {
    const { decommissionVm } = await sh('decommission', { VM_ID: vmId });
    assert.equal(decommissionVm, vmId);
    assert.deepEqual(t.routerRules(), []);
  });

  let applied: { vm: { id: string; internalIp: string }; rules: { name: string; change: string; ruleNumber: number; externalPort: number; portRule: { id: string } }[] } | null = null;
  test('curl: applyVm creates the VM in one commit; the same input again sends nothing', async () => {
    const commits = t.sim.commitCount;
    const { applyVm: first } = await sh('apply-vm');
    assert.equal(first.created, true);
    assert.equal(t.sim.commitCount - commits, 1);
    assert.deepEqual(first.commands, t.sim.configured[t.sim.configured.length - 1], 'commands are what the router received');
    const ssh = t.routerRules().find((r) => r.externalPort === '32122');
    assert.equal(ssh?.sourceAddress, '203.0.113.0/24');
    assert.equal(ssh?.translationAddress, first.vm.internalIp);
    const { applyVm: again } = await sh('apply-vm');
    assert.equal(t.sim.commitCount - commits, 1, 'the retry (same idempotencyKey) wrote nothing');
    assert.deepEqual(again.rules, first.rules, 'the first result');
    applied = first;
  });

  test('curl: a dry run answers the rule as it would be, the plan in extensions, and changes nothing', async () => {
    const e = example('dry-run');
    const https = applied!.rules.find((r) => r.name === 'https')!;
    const before = JSON.stringify(t.routerRules());
    const commits = t.sim.commitCount;
    const r = await runProcess('bash', ['-euo', 'pipefail', '-c', e.code], { ...env, RULE_ID: https.portRule.id }).done;
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.deepEqual(body.data.updatePortRule, { ruleNumber: https.ruleNumber, internalPort: 8443 });
    const plan = body.extensions.dryRun[0];
    assert.deepEqual(plan.path, ['updatePortRule']);
    assert.ok(plan.commands.some((c: { path: string[] }) => c.path.join(' ') === `nat destination rule ${https.ruleNumber} translation port 8443`));
    assert.equal(JSON.stringify(t.routerRules()), before);
    assert.equal(t.sim.commitCount, commits);
    ok(await t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id: applied!.vm.id }));
  });

  let drifted = { missing: 0, changed: 0 };
  test('curl: syncReport shows a rule deleted and a rule changed by hand', async () => {
    const vm = ok(await t.gql(`mutation { provisionVm(input: { name: "web-2", portRules: [{ internalPort: 22 }, { internalPort: 443 }] }) { portRules { ruleNumber } } }`)).provisionVm;
    drifted = { missing: vm.portRules[0].ruleNumber, changed: vm.portRules[1].ruleNumber };
    t.sim.apply([
      { op: 'delete', path: ['nat', 'destination', 'rule', String(drifted.missing)] },
      { op: 'set', path: ['nat', 'destination', 'rule', String(drifted.changed), 'translation', 'port', '8443'] },
    ]);
    const { syncReport } = await sh('sync-report');
    assert.equal(syncReport.inSync, false);
    const byRule = new Map(syncReport.items.map((i: { ruleNumber: number }) => [i.ruleNumber, i]));
    assert.equal((byRule.get(drifted.missing) as { kind: string }).kind, 'MISSING_ON_ROUTER');
    const changed = byRule.get(drifted.changed) as { kind: string; fields: { field: string; expected: string; actual: string }[] };
    assert.equal(changed.kind, 'DRIFTED');
    assert.deepEqual(changed.fields.find((f) => f.field === 'internalPort'), { field: 'internalPort', expected: '443', actual: '8443' });
  });

  test('curl: the firewall check names the rules a default-drop forward filter stops', async () => {
    t.sim.apply([{ op: 'set', path: ['firewall', 'ipv4', 'forward', 'filter', 'default-action', 'drop'] }]);
    try {
      const { syncReport } = await sh('firewall-check');
      const enabled = ok(await t.gql(`{ portRules(first: 100) { edges { node { ruleNumber enabled } } } }`)).portRules.edges.filter((e: { node: { enabled: boolean } }) => e.node.enabled);
      assert.equal(syncReport.firewall.checked, true);
      assert.equal(syncReport.firewall.defaultAction, 'drop');
      assert.equal(syncReport.firewall.dropped, enabled.length);
      assert.ok(syncReport.firewall.findings.every((f: { by: string }) => f.by === 'forward filter default-action drop'));
    } finally {
      t.sim.apply([{ op: 'delete', path: ['firewall'] }]);
    }
  });

  test('curl: reconcile, first as a dry run (nothing changes), then for real', async () => {
    const before = JSON.stringify(t.routerRules());
    const commits = t.sim.commitCount;
    const { reconcile: plan } = await sh('reconcile-dry-run');
    assert.equal(plan.dryRun, true);
    assert.equal(plan.applied, false);
    assert.ok(plan.commands.some((c: { path: string[] }) => c.path.includes(String(drifted.missing))));
    assert.equal(JSON.stringify(t.routerRules()), before, 'a dry run changes nothing');
    assert.equal(t.sim.commitCount, commits);

    const { reconcile } = await sh('reconcile');
    assert.equal(reconcile.applied, true);
    assert.equal(reconcile.report.inSync, true);
    assert.ok(t.routerRules().some((r) => r.ruleNumber === drifted.missing));
    assert.equal(t.routerRules().find((r) => r.ruleNumber === drifted.changed)?.internalPort, '443');
  });

  test('curl: rollback events', async () => {
    await provokeRollback('rejected-for-curl');
    const { rollbackEvents } = await sh('rollback-events');
    assert.ok(rollbackEvents.totalCount >= 1);
    const latest = rollbackEvents.edges[0].node;
    assert.equal(latest.operation, 'provisionVm');
    assert.equal(latest.stage, 'ROUTER_COMMIT');
    assert.equal(latest.outcome, 'ROLLED_BACK');
  });

  test('TypeScript: the whole workflow type-checks and runs', async () => {
    const file = compileTs(example('ts-workflow'));
    const r = await runProcess(process.execPath, [file], env).done;
    assert.equal(r.code, 0, `ts-workflow failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^provisioned api-1 at 192\.168\.64\.\d+:$/m);
    assert.match(r.stdout, /^ {2}rule \d+: UDP :\d+ -> 9090$/m);
    assert.match(r.stdout, /^rule \d+ now forwards to port 8081$/m);
    assert.match(r.stdout, /^rule \d+ enabled: false$/m);
    assert.match(r.stdout, /^router in sync: true$/m);
    assert.match(r.stdout, /^reconcile would send 0 command\(s\)$/m);
    assert.match(r.stdout, /^a second api-1 is refused: CONFLICT: /m);
    assert.match(r.stdout, /^decommissioned [0-9a-f-]{36}$/m);
    assert.equal(ok(await t.gql('{ vms { edges { node { name } } } }')).vms.edges.some((e: { node: { name: string } }) => e.node.name === 'api-1'), false);
  });

  test('TypeScript: the subscription prints a rollback event as it happens', async () => {
    const file = compileTs(example('ts-subscribe'));
    let listening: () => void = () => {};
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const child = runProcess(process.execPath, [file], { ...env, MAX_EVENTS: '1' }, (out) => out.includes('listening') && listening());
    try {
      await ready;
      // "listening" is printed before the server has registered the subscription: provoke until one arrives.
      let exited: Run | null = null;
      for (let i = 0; i < 5 && !exited; i++) {
        await provokeRollback(`rejected-for-ts-${i}`);
        exited = await Promise.race([child.done, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
      }
      assert.ok(exited, 'the program never saw an event');
      assert.equal(exited.code, 0, exited.stderr);
      assert.match(exited.stdout, /^\S+ provisionVm failed at ROUTER_COMMIT -> ROLLED_BACK: \S.* \(\d+ command\(s\) undone\)$/m);
    } finally {
      child.kill();
    }
  });

  test('TypeScript: graphql-codegen makes typed documents of the operations, and the typed client runs them', async () => {
    mkdirSync(WORK_DIR, { recursive: true });
    // What the reader has next to their code: the committed schema and their operations.
    copyFileSync(path.join(projectRoot, 'schema.graphql'), path.join(WORK_DIR, 'schema.graphql'));
    writeFileSync(path.join(WORK_DIR, 'operations.graphql'), example('typed-operations').code);
    const codegen = await runProcess(process.execPath, [compileTs(example('typed-codegen'))], env, undefined, WORK_DIR).done;
    assert.equal(codegen.code, 0, `typed-codegen failed:\n${codegen.stdout}\n${codegen.stderr}`);
    assert.match(codegen.stdout, /^wrote generated\/graphql\.ts$/m);

    // Type-checked against the generated file: a wrong variable or field would not compile.
    const file = compileTs(example('typed-client'));
    const r = await runProcess(process.execPath, [file], env).done;
    assert.equal(r.code, 0, `typed-client failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^[a-z0-9-]+ 192\.168\.\d+\.\d+: \d+ rule\(s\)$/m);
    const added = /^rule (\d+) on :(\d+)$/m.exec(r.stdout);
    assert.ok(added, r.stdout);
    const onRouter = t.routerRules().find((x) => x.ruleNumber === Number(added[1]));
    assert.equal(onRouter?.internalPort, '9100');
    assert.equal(onRouter?.externalPort, added[2]);
  });

  test('vmapi: the command-line session runs as shown', async () => {
    // `vmapi` on PATH, as `npm link` or a global install puts it.
    const bin = path.join(WORK_DIR, 'bin');
    mkdirSync(bin, { recursive: true });
    const cli = path.join(projectRoot, 'dist', 'src', 'cli', 'vmapi.js');
    writeFileSync(path.join(bin, 'vmapi'), `#!/bin/sh\nexec '${process.execPath}' '${cli}' "$@"\n`);
    chmodSync(path.join(bin, 'vmapi'), 0o755);
    const e = example('cli-session');
    assert.equal(e.lang, 'sh');
    const r = await runProcess('bash', ['-euo', 'pipefail', '-c', e.code], { ...env, PATH: `${bin}:${process.env.PATH}` }, undefined, WORK_DIR).done;
    assert.equal(r.code, 0, `cli-session failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^created:\s+yes$/m);
    assert.match(r.stdout, /^web\s+CREATED\s+\d+\s+32480$/m);
    assert.match(r.stdout, /^ {2}"changed": false,$/m);
    assert.match(r.stdout, /^\S+\s+web\s+\d+\s+TCP\s+32480\s+8080\s+-\s+no\s/m);
    assert.match(r.stdout, /^in sync:\s+yes$/m);
    assert.match(r.stdout, /^exit status 11$/m);
    assert.match(r.stderr, /^vmapi: NOT_FOUND: /m);
    const web = t.routerRules().find((x) => x.externalPort === '32480');
    assert.equal(web?.internalPort, '8080');
    assert.equal(web?.disabled, true);
    assert.equal(t.routerRules().find((x) => x.translationAddress === web?.translationAddress && x.internalPort === '22')?.sourceAddress, '198.51.100.0/24');
  });

  test('GraphiQL: every operation of the document runs with the documented variables', async () => {
    const document = parse(example('graphiql').code);
    const variables = JSON.parse(example('graphiql-variables').code) as Record<string, unknown>;
    const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    const names = operations.map((o) => o.name?.value);
    assert.deepEqual(names, ['Provision', 'ChangeRule', 'DisableRule', 'SyncReport', 'ReconcileDryRun', 'Decommission', 'RollbackEvents']);
    const run = async (operationName: string) => {
      const res = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` },
        body: JSON.stringify({ query: example('graphiql').code, operationName, variables }),
      });
      const body = (await res.json()) as { data?: any; errors?: unknown[] };
      assert.equal(body.errors, undefined, `${operationName}: ${JSON.stringify(body.errors)}`);
      return body.data;
    };

    const vm = (await run('Provision')).provisionVm;
    assert.equal(vm.name, 'db-1');
    // What step 3 tells the reader to paste.
    variables.vmId = vm.id;
    variables.ruleId = vm.portRules[0].id;
    assert.equal((await run('ChangeRule')).updatePortRule.internalPort, 2222);
    assert.equal((await run('DisableRule')).setPortRuleEnabled.enabled, false);
    const rule = t.routerRules().find((r) => r.ruleNumber === vm.portRules[0].ruleNumber);
    assert.equal(rule?.internalPort, '2222');
    assert.equal(rule?.disabled, true);
    assert.equal((await run('SyncReport')).syncReport.inSync, true);
    assert.deepEqual((await run('ReconcileDryRun')).reconcile.commands, []);

    // The subscription, over graphql-ws like the IDE.
    const client = createClient({ url: `${t.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${t.adminKey}` }, retryAttempts: 0 });
    try {
      const events = client.iterate({ query: example('graphiql').code, operationName: 'RollbackEvents' });
      const first = events.next();
      let event: IteratorResult<any> | null = null;
      for (let i = 0; i < 5 && !event; i++) {
        await provokeRollback(`rejected-for-graphiql-${i}`);
        event = await Promise.race([first, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
      }
      assert.ok(event, 'no event arrived');
      assert.equal(event.value.errors, undefined);
      assert.equal(event.value.data.rollbackEvents.outcome, 'ROLLED_BACK');
      await events.return?.();
    } finally {
      await client.dispose();
    }

    assert.equal((await run('Decommission')).decommissionVm, vm.id);
    assert.equal(t.routerRules().some((r) => r.ruleNumber === vm.portRules[0].ruleNumber), false);
  });

  test('every example in the file was run by a test above', () => {
    assert.deepEqual([...examples.keys()].filter((name) => !ran.has(name)), []);
  });
});
