// The simulator's contract with the VyOS HTTP API fact sheet (docs: /work/shared/vyos-api.md), over real HTTP.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { RouterCommand } from '../../src/vyos/types';
import { startSimulator, SIMULATOR_PROFILES, type Simulator, type SimulatorOptions, type SimulatorProfile } from '../../src/simulator/simulator';

const KEY = 'sim-key';
const R = ['nat', 'destination', 'rule'];

interface Answer {
  status: number;
  contentType: string | null;
  text: string;
  json: { success?: boolean; data?: unknown; error?: string | null; detail?: string };
}

async function start(t: TestContext, opts: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator({ minuteMs: 100, ...opts });
  t.after(() => sim.close());
  return sim;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: Answer['json'] = {};
  try {
    json = JSON.parse(text) as Answer['json'];
  } catch {
    /* not JSON: left empty for the assertion to show */
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text, json };
}

/** Raw JSON body with the key inside (§1 "alternative JSON format"). */
async function post(sim: Simulator, route: string, body: Record<string, unknown>, key: string | null = KEY): Promise<Answer> {
  const payload = key === null ? body : { key, ...body };
  return answer(await fetch(sim.url + route, { method: 'POST', body: JSON.stringify(payload) }));
}

/** Form encoding: `data` is a JSON string, `key` a separate field (what pyvyos and vyos-client-go send). */
async function postForm(sim: Simulator, route: string, data: unknown, key: string | null = KEY, urlencoded = false): Promise<Answer> {
  const fields: [string, string][] = [['data', JSON.stringify(data)]];
  if (key !== null) fields.push(['key', key]);
  let body: FormData | URLSearchParams;
  if (urlencoded) body = new URLSearchParams(fields);
  else {
    body = new FormData();
    for (const [k, v] of fields) body.append(k, v);
  }
  return answer(await fetch(sim.url + route, { method: 'POST', body }));
}

function ruleCommands(n: string, port = '8080', version: SimulatorOptions['version'] = 'rolling'): RouterCommand[] {
  const set = (...path: string[]): RouterCommand => ({ op: 'set', path: [...R, n, ...path] });
  return [
    set('description', `vm web ${n}`),
    set('protocol', 'tcp'),
    set('destination', 'port', port),
    version === '1.3' ? set('inbound-interface', 'eth0') : set('inbound-interface', 'name', 'eth0'),
    set('translation', 'address', '10.0.0.10'),
    set('translation', 'port', '80'),
  ];
}

function hasRule(sim: Simulator, n: string): boolean {
  const nat = sim.running().nat as { destination?: { rule?: Record<string, unknown> } } | undefined;
  return nat?.destination?.rule?.[n] !== undefined;
}

// §1 Transport, encoding, envelope

test('§1 envelope is sent as text/html with Python json.dumps spacing', async (t) => {
  const sim = await start(t);
  const a = await post(sim, '/retrieve', { op: 'exists', path: ['system', 'host-name'] });
  assert.equal(a.status, 200);
  assert.equal(a.contentType, 'text/html; charset=utf-8');
  assert.equal(a.text, '{"success": true, "data": true, "error": null}');
  const e = await post(sim, '/retrieve', { op: 'nope', path: [] });
  assert.equal(e.text, `{"success": false, "error": "'nope' is not a valid operation", "data": null}`);
});

test('§1 multipart/form-data with data + key fields is accepted', async (t) => {
  const sim = await start(t);
  const a = await postForm(sim, '/configure', { commands: ruleCommands('10') });
  assert.equal(a.status, 200, a.text);
  assert.equal(hasRule(sim, '10'), true);
});

test('§1 application/x-www-form-urlencoded with data + key fields is accepted', async (t) => {
  const sim = await start(t);
  const a = await postForm(sim, '/retrieve', { op: 'returnValue', path: ['system', 'host-name'] }, KEY, true);
  assert.deepEqual([a.status, a.json.data], [200, 'vyos']);
});

test('§1 raw JSON body with the key inside is accepted', async (t) => {
  const sim = await start(t);
  const a = await post(sim, '/configure', { commands: ruleCommands('10') });
  assert.equal(a.status, 200, a.text);
  assert.equal(hasRule(sim, '10'), true);
});

test('§1 form data that is a JSON list becomes {commands}', async (t) => {
  const sim = await start(t);
  const a = await postForm(sim, '/configure', ruleCommands('11'));
  assert.equal(a.status, 200, a.text);
  assert.equal(hasRule(sim, '11'), true);
  assert.equal(sim.commitCount, 1, 'one batch, one commit');
});

test('§1 a key inside form data wins over the form key field', async (t) => {
  const sim = await start(t);
  const a = await postForm(sim, '/retrieve', { key: KEY, op: 'exists', path: ['nat'] }, 'wrong-key');
  assert.equal(a.status, 200, a.text);
  const b = await postForm(sim, '/retrieve', { key: 'wrong-key', op: 'exists', path: ['nat'] }, KEY);
  assert.equal(b.status, 401);
});

test('§1 a wrong key is 401 "Valid API key is required"', async (t) => {
  const sim = await start(t);
  for (const a of [await post(sim, '/retrieve', { op: 'exists', path: [] }, 'bad'), await postForm(sim, '/retrieve', { op: 'exists', path: [] }, 'bad')]) {
    assert.equal(a.status, 401);
    assert.deepEqual(a.json, { success: false, error: 'Valid API key is required', data: null });
  }
});

test('§1 a missing key in form mode is 401 in 1.4+ and 422 in 1.3', async (t) => {
  const rolling = await start(t);
  const v14 = await start(t, { version: '1.4' });
  const v13 = await start(t, { version: '1.3' });
  const body = { op: 'exists', path: [] };
  assert.equal((await postForm(rolling, '/retrieve', body, null)).status, 401);
  assert.equal((await postForm(v14, '/retrieve', body, null)).status, 401);
  const old = await postForm(v13, '/retrieve', body, null);
  assert.deepEqual([old.status, old.json.error], [422, 'Valid API key is required']);
});

test('§1 a form without a data field is 422 "Non-empty data field is required"', async (t) => {
  const sim = await start(t);
  const form = new FormData();
  form.append('key', KEY);
  const a = await answer(await fetch(sim.url + '/retrieve', { method: 'POST', body: form }));
  assert.deepEqual([a.status, a.json.error], [422, 'Non-empty data field is required']);
});

test('§1 form data that is not JSON is 400 "Failed to parse JSON"', async (t) => {
  const sim = await start(t);
  const a = await answer(await fetch(sim.url + '/retrieve', { method: 'POST', body: new URLSearchParams({ data: '{nope', key: KEY }) }));
  assert.equal(a.status, 400);
  assert.match(a.json.error ?? '', /^Failed to parse JSON: /);
});

test('§1 a missing key in a raw JSON body is 400 with a pydantic "field required" message, not 401', async (t) => {
  const v14 = await start(t, { version: '1.4' });
  const rolling = await start(t);
  const a = await post(v14, '/retrieve', { op: 'exists', path: [] }, null);
  assert.deepEqual([a.status, a.json.error], [400, "{'loc': ('body', 'key'), 'msg': 'field required', 'type': 'value_error.missing'}"]);
  const b = await post(rolling, '/retrieve', { op: 'exists', path: [] }, null);
  assert.equal(b.status, 400);
  assert.match(b.json.error ?? '', /^\{'type': 'missing', 'loc': \('body', 'key'\), 'msg': 'Field required'/);
});

test('§1 StrictStr: a non-string path element is 400 with a pydantic message', async (t) => {
  const v14 = await start(t, { version: '1.4' });
  const rolling = await start(t);
  const a = await post(v14, '/configure', { op: 'set', path: [...R, 10, 'protocol', 'tcp'] });
  assert.deepEqual([a.status, a.json.error], [400, "{'loc': ('body', 'path', 3), 'msg': 'str type expected', 'type': 'type_error.str'}"]);
  const b = await post(rolling, '/configure', { commands: [{ op: 'set', path: [...R, '10', 'destination', 'port', 8080] }] });
  assert.equal(b.status, 400);
  assert.match(b.json.error ?? '', /'loc': \('body', 'commands', 0, 'path', 6\), 'msg': 'Input should be a valid string', 'input': 8080/);
  // Before commit-confirm the /configure model needs a non-empty path; on commit-confirm profiles the body
  // falls through to ConfirmModel instead (research §1, tested below).
  const preConfirm = await start(t, { version: 'rolling-2025-03' });
  const c = await post(preConfirm, '/configure', { op: 'set', path: [] });
  assert.match(c.json.error ?? '', /too_short/, 'a /configure path must be non-empty');
});

test('§1 malformed batch commands are 400 "Malformed command"', async (t) => {
  const sim = await start(t);
  const a = await post(sim, '/configure', { commands: [{ path: ['nat'] }] });
  assert.deepEqual([a.status, a.json.error], [400, "Malformed command {'path': ['nat']}: missing 'op' field"]);
});

test('§1 extra fields are ignored: confirm_time on 1.4 is a plain commit', async (t) => {
  const sim = await start(t, { version: '1.4' });
  const a = await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 5, color: 'blue' });
  assert.deepEqual([a.status, a.json.data], [200, null]);
  assert.equal(sim.confirmPending(), false);
  assert.equal(hasRule(sim, '10'), true);
});

test('§1 FastAPI answers a wrong method with 405 and an unknown route with 404, outside the envelope', async (t) => {
  const sim = await start(t);
  const wrong = await answer(await fetch(sim.url + '/configure'));
  assert.deepEqual([wrong.status, wrong.text], [405, '{"detail":"Method Not Allowed"}']);
  const unknown = await answer(await fetch(sim.url + '/nothing', { method: 'POST', body: '{}' }));
  assert.deepEqual([unknown.status, unknown.text], [404, '{"detail":"Not Found"}']);
});

test('§1 500 "An internal error occured" (answer500 fault) changes nothing', async (t) => {
  const sim = await start(t);
  sim.faults.answer500(2);
  for (let i = 0; i < 2; i++) {
    const a = await post(sim, '/configure', { commands: ruleCommands('10') });
    assert.deepEqual([a.status, a.json.error], [500, 'An internal error occured. Check the logs for details.']);
  }
  assert.equal(hasRule(sim, '10'), false);
  assert.equal((await post(sim, '/configure', { commands: ruleCommands('10') })).status, 200);
});

test('§1 error text is html-escaped by rolling only', async (t) => {
  const rolling = await start(t);
  const v14 = await start(t, { version: '1.4' });
  const body = { op: 'set', path: ['nat', '<x>&'] };
  assert.match((await post(rolling, '/configure', body)).json.error ?? '', /\[nat &lt;x&gt;&amp;\] is not valid/);
  assert.match((await post(v14, '/configure', body)).json.error ?? '', /\[nat <x>&\] is not valid/);
});

// §2 Endpoints

test('§2 GET /info exists only in rolling, without a key; false parameters give ""', async (t) => {
  const rolling = await start(t);
  const v14 = await start(t, { version: '1.4' });
  const a = await answer(await fetch(rolling.url + '/info'));
  assert.equal(a.status, 200);
  assert.deepEqual((a.json.data as Record<string, string>).hostname, 'vyos');
  assert.equal((a.json.data as Record<string, string>).version, '2025.06.20-0021-rolling', "the image name of 'rolling' = rolling-2025-06");
  const b = await answer(await fetch(rolling.url + '/info?version=false&hostname=false'));
  assert.deepEqual([(b.json.data as Record<string, string>).version, (b.json.data as Record<string, string>).hostname], ['', '']);
  const c = await answer(await fetch(rolling.url + '/info?colour=1'));
  assert.equal(c.status, 400);
  assert.match(c.json.error ?? '', /extra_forbidden/);
  assert.equal((await fetch(v14.url + '/info')).status, 404);
});

test('§2 rolling serves REST only while "service https api rest" is configured', async (t) => {
  const sim = await start(t);
  sim.apply([{ op: 'delete', path: ['service', 'https', 'api', 'rest'] }]);
  const a = await post(sim, '/retrieve', { op: 'exists', path: [] });
  assert.deepEqual([a.status, a.text], [404, '{"detail":"Not Found"}']);
});

test('§2 /retrieve showConfig json (default) and raw', async (t) => {
  const sim = await start(t);
  sim.apply(ruleCommands('100'));
  const json = await post(sim, '/retrieve', { op: 'showConfig', path: ['nat', 'destination'] });
  assert.deepEqual(json.json.data, {
    rule: { '100': { description: 'vm web 100', destination: { port: '8080' }, 'inbound-interface': { name: 'eth0' }, protocol: 'tcp', translation: { address: '10.0.0.10', port: '80' } } },
  });
  const raw = await post(sim, '/retrieve', { op: 'showConfig', path: ['nat', 'destination'], configFormat: 'raw' });
  assert.equal(typeof raw.json.data, 'string');
  assert.match(raw.json.data as string, /^rule 100 \{\n {4}description "vm web 100"\n/);
  const whole = await post(sim, '/retrieve', { op: 'showConfig', path: [] });
  assert.deepEqual(Object.keys(whole.json.data as object).sort(), ['interfaces', 'nat', 'service', 'system']);
});

test('§2 /retrieve an unknown configFormat is 400 (1.3 with double quotes)', async (t) => {
  const sim = await start(t);
  const v13 = await start(t, { version: '1.3' });
  const a = await post(sim, '/retrieve', { op: 'showConfig', path: [], configFormat: 'xml' });
  assert.deepEqual([a.status, a.json.error], [400, "'xml' is not a valid config format"]);
  const b = await post(v13, '/retrieve', { op: 'showConfig', path: [], configFormat: 'xml' });
  assert.equal(b.json.error, '"xml" is not a valid config format');
});

test('§2 /retrieve exists, returnValues and returnValue', async (t) => {
  const sim = await start(t);
  sim.apply(ruleCommands('10'));
  const ask = async (op: string, path: string[]): Promise<unknown> => (await post(sim, '/retrieve', { op, path })).json.data;
  assert.equal(await ask('exists', [...R, '10']), true);
  assert.equal(await ask('exists', [...R, '10', 'protocol', 'tcp']), true, 'a trailing value is allowed');
  assert.equal(await ask('exists', [...R, '11']), false);
  assert.deepEqual(await ask('returnValues', ['interfaces', 'ethernet', 'eth0', 'address']), ['dhcp']);
  assert.deepEqual(await ask('returnValues', [...R, '11', 'protocol']), []);
  assert.equal(await ask('returnValue', [...R, '10', 'translation', 'port']), '80');
  assert.equal(await ask('returnValue', [...R, '11', 'protocol']), null);
});

test('§2 /retrieve unknown op is 400 (1.3 with double quotes)', async (t) => {
  const sim = await start(t);
  const v13 = await start(t, { version: '1.3' });
  assert.equal((await post(sim, '/retrieve', { op: 'show', path: [] })).json.error, "'show' is not a valid operation");
  assert.equal((await post(v13, '/retrieve', { op: 'show', path: [] })).json.error, '"show" is not a valid operation');
});

// §3 showConfig JSON shape

test('§3 showConfig: leaf path gives {leaf: value}, one value a string, several a list, valueless {}', async (t) => {
  const sim = await start(t);
  sim.apply([...ruleCommands('10'), { op: 'set', path: [...R, '10', 'disable'] }, { op: 'set', path: ['interfaces', 'ethernet', 'eth1', 'address', '10.9.0.1/24'] }]);
  const show = async (path: string[]): Promise<unknown> => (await post(sim, '/retrieve', { op: 'showConfig', path })).json.data;
  assert.deepEqual(await show([...R, '10', 'destination', 'port']), { port: '8080' });
  assert.deepEqual(await show(['interfaces', 'ethernet', 'eth1', 'address']), { address: ['192.168.64.1/24', '10.9.0.1/24'] });
  assert.deepEqual(((await show([...R, '10'])) as Record<string, unknown>).disable, {});
});

test('§3 showConfig of an empty path is 400 "Configuration under specified path is empty\\n"; an invalid one "Specified configuration path is not valid\\n"', async (t) => {
  const sim = await start(t);
  const empty = await post(sim, '/retrieve', { op: 'showConfig', path: ['nat', 'destination'] });
  assert.deepEqual(empty.json, { success: false, error: 'Configuration under specified path is empty\n', data: null });
  assert.equal(empty.status, 400);
  const invalid = await post(sim, '/retrieve', { op: 'showConfig', path: ['nat', 'bogus'] });
  assert.deepEqual([invalid.status, invalid.json.error], [400, 'Specified configuration path is not valid\n']);
});

// /configure

test('§1 /configure single command with value sugar; data is null in 1.4, commit output ("") in rolling', async (t) => {
  const v14 = await start(t, { version: '1.4' });
  const rolling = await start(t);
  const body = { op: 'set', path: ['system', 'host-name'], value: 'edge1' };
  assert.deepEqual((await post(v14, '/configure', body)).json, { success: true, data: null, error: null });
  assert.deepEqual((await post(rolling, '/configure', body)).json, { success: true, data: '', error: null });
  const hostName = (await post(rolling, '/retrieve', { op: 'returnValue', path: ['system', 'host-name'] })).json.data;
  assert.equal(hostName, 'edge1');
});

test('§1 /configure batch is all-or-nothing with one commit', async (t) => {
  const sim = await start(t);
  const bad = await post(sim, '/configure', { commands: [...ruleCommands('10'), { op: 'set', path: [...R, '10', 'colour', 'red'] }] });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error ?? '', /Configuration path: \[nat destination rule 10 colour red\] is not valid\n {2}Set failed/);
  assert.equal(hasRule(sim, '10'), false);
  assert.equal(sim.commitCount, 0);
  const good = await post(sim, '/configure', { commands: [...ruleCommands('10'), ...ruleCommands('11', '8081')] });
  assert.equal(good.status, 200);
  assert.equal(sim.commitCount, 1);
});

test('§1 /configure op other than set/delete/comment is 400 and applies nothing', async (t) => {
  const sim = await start(t);
  const a = await post(sim, '/configure', { commands: [...ruleCommands('10'), { op: 'save', path: ['x'] }] });
  assert.deepEqual([a.status, a.json.error], [400, "'save' is not a valid operation"]);
  assert.equal(hasRule(sim, '10'), false);
});

test('§1 /configure a value-taking node without a value: "requires a value"', async (t) => {
  const sim = await start(t);
  const a = await post(sim, '/configure', { op: 'set', path: [...R, '10', 'protocol'], value: '' });
  assert.equal(a.status, 400);
  assert.match(a.json.error ?? '', /Configuration path: \[nat destination rule 10 protocol\] requires a value/);
});

test('§1 /configure delete of a missing path: 400 in strict mode, success otherwise', async (t) => {
  const strict = await start(t, { strict: true });
  const lax = await start(t);
  const body = { op: 'delete', path: [...R, '77'] };
  const a = await post(strict, '/configure', body);
  assert.deepEqual([a.status, /Cannot delete \[nat destination rule 77\]: path\/value does not exist/.test(a.json.error ?? '')], [400, true]);
  assert.equal((await post(lax, '/configure', body)).status, 200);
});

test('§1 /configure deleting the last rule removes "rule" and keeps "destination"', async (t) => {
  const sim = await start(t);
  sim.apply(ruleCommands('10'));
  assert.equal((await post(sim, '/configure', { op: 'delete', path: [...R, '10'] })).status, 200);
  const exists = async (path: string[]): Promise<unknown> => (await post(sim, '/retrieve', { op: 'exists', path })).json.data;
  assert.equal(await exists([...R]), false);
  assert.equal(await exists(['nat', 'destination']), true);
});

test('§5 /configure set-time validation texts come back as 400', async (t) => {
  const sim = await start(t);
  const v13 = await start(t, { version: '1.3' });
  const quote = await post(sim, '/configure', { op: 'set', path: [...R, '10', 'description'], value: 'say "hi"' });
  assert.equal(quote.json.error, '\n  Cannot use the double quote (") character in a value string\n  Set failed\n');
  const number = await post(sim, '/configure', { op: 'set', path: [...R, '0', 'protocol'], value: 'tcp' });
  assert.match(number.json.error ?? '', /NAT rule number must be between 1 and 999999/);
  const port = await post(sim, '/configure', { op: 'set', path: [...R, '10', 'destination', 'port'], value: '99999' });
  assert.match(port.json.error ?? '', /Error: 99999 is not a valid port\n {2}Value validation failed\n {2}Set failed\n$/);
  const long = await post(sim, '/configure', { op: 'set', path: [...R, '10', 'description'], value: 'x'.repeat(256) });
  assert.match(long.json.error ?? '', /Description too long \(limit 255 characters\)/);
  const proto = await post(sim, '/configure', { op: 'set', path: [...R, '10', 'protocol'], value: 'tcpp' });
  assert.equal(proto.status, 400);
  // 1.3 has no port validator and no description limit.
  const old = await post(v13, '/configure', { commands: [...ruleCommands('10', '99999', '1.3'), { op: 'set', path: [...R, '10', 'description', 'x'.repeat(300)] }] });
  assert.equal(old.status, 200, old.text);
});

test('§5 /configure commit-time NAT verification: 1.4+ texts in the commit failure shape', async (t) => {
  const sim = await start(t);
  const a = await post(sim, '/configure', { commands: [{ op: 'set', path: [...R, '10', 'protocol', 'tcp'] }] });
  assert.deepEqual([a.status, a.json.error], [400, '\nDestination NAT configuration error in rule 10: translation requires address and/or port\n\n[[nat]] failed\nCommit failed\n']);
  const b = await post(sim, '/configure', { commands: ruleCommands('10').filter((c) => !c.path.includes('protocol')) });
  assert.match(b.json.error ?? '', /rule 10: ports can only be specified when protocol is either tcp, udp or tcp_udp!/);
  assert.equal(hasRule(sim, '10'), false, 'the failed batch was discarded');
});

test('§5 /configure commit-time NAT verification: 1.3 requires inbound-interface', async (t) => {
  const sim = await start(t, { version: '1.3' });
  const a = await post(sim, '/configure', { commands: ruleCommands('10', '8080', '1.3').filter((c) => !c.path.includes('inbound-interface')) });
  assert.deepEqual([a.status, a.json.error], [400, '\nDestination NAT configuration error in rule 10:\ninbound-interface not specified\n\n[[nat]] failed\nCommit failed\n']);
  assert.equal((await post(sim, '/configure', { commands: ruleCommands('10', '8080', '1.3') })).status, 200);
});

test('§6 commit latency: a write takes the latency, /retrieve is not blocked by it', async (t) => {
  const sim = await start(t, { commitLatencyMs: 300 });
  const began = Date.now();
  const write = post(sim, '/configure', { commands: ruleCommands('10') });
  await delay(50);
  const readStart = Date.now();
  const read = await post(sim, '/retrieve', { op: 'exists', path: [...R, '10'] });
  assert.ok(Date.now() - readStart < 200, 'the read did not wait for the commit');
  assert.equal(read.json.data, true, 'reads see the shared session, uncommitted changes included');
  assert.equal((await write).status, 200);
  assert.ok(Date.now() - began >= 290);
  sim.setCommitLatency(0);
  const quick = Date.now();
  await post(sim, '/configure', { op: 'set', path: ['system', 'host-name'], value: 'x1' });
  assert.ok(Date.now() - quick < 200);
});

test('§6 the write lock serialises concurrent /configure requests', async (t) => {
  const sim = await start(t, { commitLatencyMs: 150 });
  const began = Date.now();
  const answers = await Promise.all([1, 2, 3].map((i) => post(sim, '/configure', { commands: ruleCommands(String(i), String(8000 + i)) })));
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
  assert.ok(Date.now() - began >= 440, 'three commits ran one after another');
  assert.equal(sim.commitCount, 3);
});

test('§6 apply() meets the commit lock while an API commit is in flight', async (t) => {
  const sim = await start(t, { commitLatencyMs: 200 });
  const write = post(sim, '/configure', { commands: ruleCommands('10') });
  await delay(50);
  assert.throws(() => sim.apply(ruleCommands('11')), /Configuration system temporarily locked/);
  await write;
  sim.apply(ruleCommands('11', '8081'));
  assert.equal(hasRule(sim, '11'), true);
});

// §4 Commit-confirm

test('§4 confirm_time: apply + commit, "Initialized commit-confirm", then confirm stops the timer', async (t) => {
  const sim = await start(t, { minuteMs: 200 });
  const a = await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 1 });
  assert.deepEqual(a.json, { success: true, data: 'Initialized commit-confirm; 1 minutes to confirm before reload\n', error: null });
  assert.equal(sim.confirmPending(), true);
  assert.equal(hasRule(sim, '10'), true);
  assert.equal((await post(sim, '/configure', { op: 'confirm' })).json.data, 'Reload timer stopped\n');
  assert.equal(sim.confirmPending(), false);
  assert.equal((await post(sim, '/configure', { op: 'confirm' })).json.data, 'No confirm pending\n');
  await delay(300);
  assert.equal(hasRule(sim, '10'), true, 'confirmed changes stay');
  assert.equal(sim.revertCount, 0);
});

test('§4 a second confirm_time while pending is 400 "Another confirm is pending" and the batch is discarded', async (t) => {
  const sim = await start(t, { minuteMs: 1000 });
  await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 1 });
  const b = await post(sim, '/configure', { commands: ruleCommands('11', '8081'), confirm_time: 1 });
  assert.deepEqual([b.status, b.json.error], [400, 'Another confirm is pending\n']);
  assert.equal(hasRule(sim, '11'), false);
});

test('§4 plain commits are allowed while a confirm is pending', async (t) => {
  const sim = await start(t, { minuteMs: 1000 });
  await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 1 });
  const b = await post(sim, '/configure', { commands: ruleCommands('11', '8081') });
  assert.deepEqual([b.status, b.json.data], [200, '']);
  assert.equal(sim.confirmPending(), true);
});

test('§4 timer expiry with action reload reverts to the last confirmed config', async (t) => {
  const sim = await start(t, { minuteMs: 100 });
  sim.apply(ruleCommands('5', '7000'));
  await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 2 });
  assert.equal(hasRule(sim, '10'), true);
  await delay(150);
  assert.equal(sim.revertCount, 0, 'not before N minutes');
  await delay(150);
  assert.equal(sim.revertCount, 1);
  assert.equal(hasRule(sim, '10'), false);
  assert.equal(hasRule(sim, '5'), true, 'earlier confirmed commits stay');
  assert.equal(sim.confirmPending(), false);
  assert.equal((await post(sim, '/configure', { op: 'confirm' })).json.data, 'No confirm pending\n');
});

test('§4 timer expiry with action reboot goes back to the saved /config/config.boot', async (t) => {
  const sim = await start(t, { commitConfirmAction: 'reboot', minuteMs: 100 });
  sim.apply(ruleCommands('5', '7000')); // committed but never saved
  const a = await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 1 });
  assert.match(String(a.json.data), /before reboot\n$/);
  await delay(250);
  assert.equal(sim.revertCount, 1);
  assert.equal(hasRule(sim, '10'), false);
  assert.equal(hasRule(sim, '5'), false, 'unsaved earlier commits are lost too');
});

test('§4 failNextConfirm answers 400 and leaves the timer running', async (t) => {
  const sim = await start(t, { minuteMs: 100 });
  await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 1 });
  sim.faults.failNextConfirm('confirm broke');
  const a = await post(sim, '/configure', { op: 'confirm' });
  assert.deepEqual([a.status, a.json.error], [400, 'confirm broke']);
  assert.equal(sim.confirmPending(), true);
  await delay(200);
  assert.equal(sim.revertCount, 1);
  assert.equal(hasRule(sim, '10'), false);
});

test('§4 failNextConfirms: skip lets confirms through, then `times` confirms answer 400 and the timer keeps running', async (t) => {
  const sim = await start(t, { minuteMs: 1000 });
  sim.faults.failNextConfirms(2, { skip: 1, message: 'confirm broke' });
  await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 1 });
  assert.equal((await post(sim, '/configure', { op: 'confirm' })).json.data, 'Reload timer stopped\n', 'skipped');
  await post(sim, '/configure', { commands: ruleCommands('11', '8081'), confirm_time: 1 });
  for (let i = 0; i < 2; i++) {
    const a = await post(sim, '/configure', { op: 'confirm' });
    assert.deepEqual([a.status, a.json.error], [400, 'confirm broke']);
    assert.equal(sim.confirmPending(), true);
  }
  assert.equal((await post(sim, '/config-file', { op: 'confirm' })).json.data, 'Reload timer stopped\n', 'disarmed after `times`');
});

test('§4 delayNextConfirm: a confirm that arrives after the window finds the config reverted: "No confirm pending"', async (t) => {
  const sim = await start(t, { minuteMs: 150 });
  await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 1 });
  sim.faults.delayNextConfirm(400);
  const began = Date.now();
  const a = await post(sim, '/configure', { op: 'confirm' });
  assert.ok(Date.now() - began >= 390);
  assert.deepEqual(a.json, { success: true, data: 'No confirm pending\n', error: null });
  assert.equal(sim.revertCount, 1);
  assert.equal(hasRule(sim, '10'), false, 'the unconfirmed commit was reverted');
  await post(sim, '/configure', { commands: ruleCommands('11', '8081'), confirm_time: 1 });
  assert.equal((await post(sim, '/configure', { op: 'confirm' })).json.data, 'Reload timer stopped\n', 'one-shot');
});

test('§6 holdNextCommit: the held request has not reached the session; a write that arrives meanwhile commits first', async (t) => {
  const sim = await start(t);
  sim.faults.holdNextCommit(300, { skip: 1 });
  await post(sim, '/configure', { commands: ruleCommands('10') }); // skipped
  const held = post(sim, '/configure', { commands: [{ op: 'delete', path: [...R, '10'] }] });
  await delay(100);
  assert.equal((await post(sim, '/retrieve', { op: 'exists', path: [...R, '10'] })).json.data, true, 'reads see the committed config');
  const quick = Date.now();
  await post(sim, '/configure', { commands: ruleCommands('11', '8081') });
  assert.ok(Date.now() - quick < 200, 'the later write is not queued behind the held one');
  assert.equal((await held).status, 200);
  assert.deepEqual([hasRule(sim, '10'), hasRule(sim, '11')], [false, true]);
});

test('§4 commit-confirm is rolling only: 1.4 rejects op confirm', async (t) => {
  const sim = await start(t, { version: '1.4' });
  const a = await post(sim, '/configure', { op: 'confirm', path: ['x'] });
  assert.deepEqual([a.status, a.json.error], [400, "'confirm' is not a valid operation"]);
});

test('§4 form encoding: a bare list cannot carry confirm_time, an object can', async (t) => {
  const sim = await start(t, { minuteMs: 1000 });
  await postForm(sim, '/configure', ruleCommands('10'));
  assert.equal(sim.confirmPending(), false);
  const a = await postForm(sim, '/configure', { commands: ruleCommands('11', '8081'), confirm_time: 1 });
  assert.match(String(a.json.data), /^Initialized commit-confirm; 1 minutes/);
  assert.equal(sim.confirmPending(), true);
});

// /config-file and /show

test('§2 /config-file save (default /config/config.boot) and load (requires file, commits)', async (t) => {
  const sim = await start(t);
  sim.apply(ruleCommands('10'));
  const saved = await post(sim, '/config-file', { op: 'save' });
  assert.equal(saved.json.data, '', '1.4+ print nothing (research §3)');
  assert.equal((await post(sim, '/config-file', { op: 'save', file: '/config/ours.boot' })).status, 200);
  sim.apply([{ op: 'delete', path: [...R, '10'] }]);
  const missing = await post(sim, '/config-file', { op: 'load' });
  assert.deepEqual([missing.status, missing.json.error], [400, 'Missing required field "file"']);
  const before = sim.commitCount;
  const loaded = await post(sim, '/config-file', { op: 'load', file: '/config/ours.boot' });
  assert.equal(loaded.status, 200, loaded.text);
  assert.equal(hasRule(sim, '10'), true);
  assert.equal(sim.commitCount, before + 1);
  assert.equal((await post(sim, '/config-file', { op: 'load', file: '/config/none.boot' })).status, 400);
});

test('§2 /config-file load returns null data in 1.4', async (t) => {
  const sim = await start(t, { version: '1.4' });
  await post(sim, '/config-file', { op: 'save', file: '/config/a.boot' });
  assert.deepEqual((await post(sim, '/config-file', { op: 'load', file: '/config/a.boot' })).json, { success: true, data: null, error: null });
});

test('§4 /config-file load with confirm_time and op confirm (rolling)', async (t) => {
  const sim = await start(t, { minuteMs: 100 });
  await post(sim, '/config-file', { op: 'save', file: '/config/empty.boot' });
  sim.apply(ruleCommands('10'));
  const a = await post(sim, '/config-file', { op: 'load', file: '/config/empty.boot', confirm_time: 1 });
  assert.match(String(a.json.data), /^Initialized commit-confirm; 1 minutes to confirm before reload\n/);
  assert.equal(hasRule(sim, '10'), false);
  assert.equal((await post(sim, '/config-file', { op: 'confirm' })).json.data, 'Reload timer stopped\n');
  await delay(200);
  assert.equal(hasRule(sim, '10'), false);
  assert.equal(sim.revertCount, 0);
});

test('§2 /show ["configuration","commands"] gives set lines; other paths are 400', async (t) => {
  const sim = await start(t);
  sim.apply(ruleCommands('10'));
  const a = await post(sim, '/show', { op: 'show', path: ['configuration', 'commands'] });
  assert.equal(a.status, 200);
  const lines = String(a.json.data).trimEnd().split('\n');
  assert.ok(lines.includes("set nat destination rule 10 translation address '10.0.0.10'"));
  assert.deepEqual(lines, sim.commands());
  assert.equal((await post(sim, '/show', { op: 'show', path: ['version', 'all'] })).status, 400);
  assert.equal((await post(sim, '/show', { op: 'generate', path: ['configuration', 'commands'] })).status, 400);
});

// Faults

test('§5 rejectNextCommit: 400 with the message, nothing applied', async (t) => {
  const sim = await start(t);
  sim.faults.rejectNextCommit('\nboom\n\n[[nat]] failed\nCommit failed\n');
  const a = await post(sim, '/configure', { commands: ruleCommands('10') });
  assert.deepEqual([a.status, a.json.error], [400, '\nboom\n\n[[nat]] failed\nCommit failed\n']);
  assert.equal(hasRule(sim, '10'), false);
  assert.equal((await post(sim, '/configure', { commands: ruleCommands('10') })).status, 200, 'one-shot');
});

test('§6 loseNextReply: the commit happens, the reply never comes', async (t) => {
  const sim = await start(t);
  sim.faults.loseNextReply();
  await assert.rejects(post(sim, '/configure', { commands: ruleCommands('10') }));
  assert.equal(hasRule(sim, '10'), true);
  assert.equal(sim.commitCount, 1);
});

test('§1 setUnreachable: connection refused, then back on the same port', async (t) => {
  const sim = await start(t);
  await sim.faults.setUnreachable(true);
  await assert.rejects(fetch(sim.url + '/retrieve', { method: 'POST', body: '{}' }), (e: Error & { cause?: { code?: string } }) => e.cause?.code === 'ECONNREFUSED');
  await sim.faults.setUnreachable(false);
  assert.equal((await post(sim, '/retrieve', { op: 'exists', path: [] })).status, 200);
});

test('§1 slow delays replies after doing the work; clear() disarms it', async (t) => {
  const sim = await start(t);
  sim.faults.slow(250, 1);
  const began = Date.now();
  const write = post(sim, '/configure', { commands: ruleCommands('10') });
  await delay(100);
  assert.equal(hasRule(sim, '10'), true, 'applied before the reply');
  await write;
  assert.ok(Date.now() - began >= 240);
  sim.faults.slow(5000);
  sim.faults.clear();
  const quick = Date.now();
  await post(sim, '/retrieve', { op: 'exists', path: [] });
  assert.ok(Date.now() - quick < 1000);
});

test('§5 apply() validates and commits like an operator; running() and commands() show the committed config', async (t) => {
  const sim = await start(t, { initialCommands: ruleCommands('1') });
  assert.equal(hasRule(sim, '1'), true);
  assert.equal(sim.commitCount, 0, 'initial commands are the boot config');
  assert.throws(() => sim.apply([{ op: 'set', path: [...R, '2', 'protocol', 'tcp'] }]), /translation requires address and\/or port/);
  assert.throws(() => sim.apply([{ op: 'set', path: ['nat', 'bogus'] }]), /is not valid/);
  sim.apply([{ op: 'set', path: [...R, '1', 'disable'] }]);
  assert.deepEqual((sim.running().nat as { destination: { rule: Record<string, Record<string, unknown>> } }).destination.rule['1'].disable, {});
  assert.ok(sim.commands().includes('set nat destination rule 1 disable'));
  assert.equal(sim.commitCount, 1);
});

test('§1 tls option serves HTTPS', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  } catch {
    t.skip('openssl is not available');
    return;
  }
  const cert = readFileSync(join(dir, 'c.pem'));
  const sim = await start(t, { tls: { key: readFileSync(join(dir, 'k.pem')), cert } });
  assert.match(sim.url, /^https:\/\//);
  const body = await new Promise<string>((resolve, reject) => {
    const req = https.request(sim.url + '/retrieve', { method: 'POST', rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ key: KEY, op: 'exists', path: [] }));
  });
  assert.equal(body, '{"success": true, "data": true, "error": null}');
});

// Issue 14: every VyOS generation (src/simulator/profiles.ts). Research = research/vyos-notes.md.

const CC = SIMULATOR_PROFILES.filter((p) => p.commitConfirm);
const NO_CC = SIMULATOR_PROFILES.filter((p) => !p.commitConfirm);
const gen = (p: SimulatorProfile): SimulatorOptions['version'] => (p.generation === '1.3' ? '1.3' : 'rolling');
const invalidOp = (p: SimulatorProfile, op: string): string => (p.name === '1.3' ? `"${op}" is not a valid operation` : `'${op}' is not a valid operation`);

test('profiles: the list, image names, /show version, /info and html escaping per profile', async (t) => {
  assert.deepEqual(SIMULATOR_PROFILES.map((p) => [p.name, p.image, p.commitConfirm, p.confirmOrder]), [
    ['1.3', '1.3.8', false, null],
    ['1.4', '1.4.0', false, null],
    ['rolling-2025-03', '2025.04.04-0018-rolling', false, null],
    ['stream-2025-q1', '1.5-stream-2025-Q1', false, null],
    ['rolling-2025-06', '2025.06.20-0021-rolling', true, 'arm-then-commit'],
    ['rolling-2025-late', '2025.11.20-0020-rolling', true, 'commit-then-arm'],
  ]);
  for (const p of SIMULATOR_PROFILES) {
    const sim = await start(t, { version: p.name });
    assert.equal(sim.profile, p);
    const v = await post(sim, '/show', { op: 'show', path: ['version'] });
    assert.match(String(v.json.data), new RegExp(`^Version: +VyOS ${p.image.replace(/\./g, '\\.')}\n`), p.name);
    const i = await fetch(sim.url + '/info');
    if (p.info) assert.equal(((await answer(i)).json.data as Record<string, string>).version, p.image, p.name);
    else {
      assert.equal(i.status, 404, p.name);
      assert.match(await i.text(), /<title>404 Not Found<\/title>/, 'nginx HTML, not FastAPI');
    }
    const e = await post(sim, '/configure', { op: 'set', path: ['nat', '<x>&'] });
    assert.match(e.json.error ?? '', p.htmlEscape ? /\[nat &lt;x&gt;&amp;\]/ : /\[nat <x>&\]/, p.name);
  }
  const alias = await start(t, { version: 'rolling' });
  assert.equal(alias.profile.name, 'rolling-2025-06');
  await assert.rejects(startSimulator({ version: 'rolling-1999' as never }), /unknown VyOS version/);
});

test('research §1: the /config-file commit-confirm probe, per profile, changes nothing', async (t) => {
  for (const p of SIMULATOR_PROFILES) {
    const sim = await start(t, { version: p.name });
    for (const send of [post, postForm]) {
      const a = await send(sim, '/config-file', { key: KEY, op: 'vvmapi-probe', confirm_time: 'x' });
      assert.equal(a.status, 400, p.name);
      if (p.commitConfirm) {
        assert.equal(a.json.error, "{'type': 'int_type', 'loc': ('body', 'confirm_time'), 'msg': 'Input should be a valid integer', 'input': 'x'}", p.name);
      } else assert.equal(a.json.error, invalidOp(p, 'vvmapi-probe'), p.name);
    }
    assert.deepEqual([sim.commitCount, sim.saveCount, sim.confirmPending(), sim.sessionDirty()], [0, 0, false, false], p.name);
  }
});

test('research §1: confirm_time is a StrictInt on commit-confirm profiles, an ignored extra field elsewhere', async (t) => {
  for (const p of SIMULATOR_PROFILES) {
    const sim = await start(t, { version: p.name, minuteMs: 10_000 });
    // single command: on commit-confirm profiles ConfigureModel fails and the body validates as ConfirmModel
    const single = await post(sim, '/configure', { op: 'set', path: ['system', 'host-name'], value: 'edge1', confirm_time: '5' });
    if (p.commitConfirm) {
      assert.deepEqual([single.status, single.json.error], [400, "'set' is not a valid operation"], p.name);
      assert.equal(sim.commitCount, 0);
    } else {
      assert.equal(single.status, 200, p.name);
      assert.equal(sim.confirmPending(), false, `${p.name}: no commit-confirm`);
    }
    const batch = await post(sim, '/configure', { commands: ruleCommands('10', '8080', gen(p)), confirm_time: 'x' });
    if (p.commitConfirm) {
      assert.equal(batch.status, 400, p.name);
      assert.match(batch.json.error ?? '', /'int_type', 'loc': \('body', 'confirm_time'\)/, p.name);
      assert.equal(hasRule(sim, '10'), false);
      const file = await post(sim, '/config-file', { op: 'load', file: '/config/config.boot', confirm_time: '1' });
      assert.match(file.json.error ?? '', /'loc': \('body', 'confirm_time'\)/, p.name);
    } else assert.equal(batch.status, 200, p.name);
  }
});

test('research §1, §7.2: {"op":"confirm"} without commit-confirm: /configure needs a path, /config-file "is not a valid operation"', async (t) => {
  for (const p of NO_CC) {
    const sim = await start(t, { version: p.name });
    const a = await post(sim, '/configure', { op: 'confirm' });
    assert.equal(a.status, 400, p.name);
    assert.match(a.json.error ?? '', /'loc': \('body', 'path'\)/, p.name);
    const b = await post(sim, '/config-file', { op: 'confirm' });
    assert.deepEqual([b.status, b.json.error], [400, invalidOp(p, 'confirm')], p.name);
  }
});

test('research §1: on commit-confirm profiles a /configure body without a path is ConfirmModel: 400 and the session is discarded', async (t) => {
  for (const p of CC) {
    const sim = await start(t, { version: p.name });
    sim.faults.failNextLoad('load broke');
    await post(sim, '/config-file', { op: 'load', file: '/config/config.boot' });
    assert.equal(sim.sessionDirty(), true);
    const a = await post(sim, '/configure', { op: 'vvmapi-probe' });
    assert.deepEqual([a.status, a.json.error], [400, "'vvmapi-probe' is not a valid operation"], p.name);
    assert.equal(sim.sessionDirty(), false, 'the handler discarded');
  }
});

test('research §2: confirm with nothing pending is a 200 success "No confirm pending\\n" on both endpoints', async (t) => {
  for (const p of CC) {
    const sim = await start(t, { version: p.name });
    for (const route of ['/configure', '/config-file']) {
      assert.deepEqual((await post(sim, route, { op: 'confirm' })).json, { success: true, data: 'No confirm pending\n', error: null }, `${p.name} ${route}`);
    }
  }
});

test('research §2: rolling-2025-06 arms then commits: "Initialized" first; a failed commit leaves the timer armed', async (t) => {
  const sim = await start(t, { version: 'rolling-2025-06', minuteMs: 150 });
  sim.apply([{ op: 'set', path: ['interfaces', 'ethernet', 'eth0', 'description', 'WAN'] }]);
  const ok = await post(sim, '/configure', { commands: [...ruleCommands('10'), { op: 'set', path: [...R, '10', 'inbound-interface', 'name', 'eth7'] }], confirm_time: 1 });
  assert.equal(ok.json.data, 'Initialized commit-confirm; 1 minutes to confirm before reload\nWARNING: NAT interface "eth7" for destination NAT rule "10" does not exist!\n');
  assert.equal((await post(sim, '/configure', { op: 'confirm' })).json.data, 'Reload timer stopped\n');
  sim.faults.rejectNextCommit();
  const failed = await post(sim, '/configure', { commands: ruleCommands('11', '8081'), confirm_time: 1 });
  assert.equal(failed.status, 400);
  assert.equal(sim.confirmPending(), true, 'armed before the commit failed');
  assert.equal(hasRule(sim, '11'), false);
  await delay(250);
  assert.equal(sim.revertCount, 1, 'the leftover timer fires');
});

test('research §2: rolling-2025-late commits then arms: commit output + "\\n" + "Initialized"; a failed commit arms nothing', async (t) => {
  const sim = await start(t, { version: 'rolling-2025-late', minuteMs: 10_000 });
  sim.faults.rejectNextCommit();
  const failed = await post(sim, '/configure', { commands: ruleCommands('11', '8081'), confirm_time: 1 });
  assert.equal(failed.status, 400);
  assert.equal(sim.confirmPending(), false);
  const ok = await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 2 });
  assert.deepEqual(ok.json, { success: true, data: '\nInitialized commit-confirm; 2 minutes to confirm before reload\n', error: null });
  assert.equal(sim.confirmPending(), true);
  const warned = await start(t, { version: 'rolling-2025-late', minuteMs: 10_000 });
  const w = await post(warned, '/configure', { commands: [...ruleCommands('10'), { op: 'set', path: [...R, '10', 'inbound-interface', 'name', 'eth7'] }], confirm_time: 1 });
  assert.equal(w.json.data, 'WARNING: NAT interface "eth7" for destination NAT rule "10" does not exist!\n\nInitialized commit-confirm; 1 minutes to confirm before reload\n');
});

test('research §2: a second confirm_time while pending: 2025-06 commits nothing, 2025-late commits and still answers 400', async (t) => {
  for (const p of CC) {
    const sim = await start(t, { version: p.name, minuteMs: 200 });
    await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 1 });
    const b = await post(sim, '/configure', { commands: ruleCommands('11', '8081'), confirm_time: 1 });
    assert.deepEqual([b.status, b.json.error], [400, 'Another confirm is pending\n'], p.name);
    assert.equal(hasRule(sim, '11'), p.confirmOrder === 'commit-then-arm', p.name);
    assert.equal(sim.sessionDirty(), false);
    await delay(300);
    assert.deepEqual([hasRule(sim, '10'), hasRule(sim, '11')], [false, false], `${p.name}: the pending timer reverts both`);
  }
});

test('research §3: /config-file save: 1.3 prints "Saving configuration to ...", 1.4+ ""; saveCount, savedBoot, savedConfig', async (t) => {
  for (const p of SIMULATOR_PROFILES) {
    const sim = await start(t, { version: p.name });
    sim.apply(ruleCommands('10', '8080', gen(p)));
    assert.equal(sim.saveCount, 0);
    assert.equal((sim.savedConfig().nat as unknown) ?? null, null, 'not saved yet');
    const a = await post(sim, '/config-file', { op: 'save' });
    assert.deepEqual(a.json, { success: true, data: p.name === '1.3' ? "Saving configuration to '/config/config.boot'...\nDone\n" : '', error: null }, p.name);
    const b = await post(sim, '/config-file', { op: 'save', file: '/config/other.boot' });
    if (p.name === '1.3') assert.equal(b.json.data, "Saving configuration to '/config/other.boot'...\nDone\n");
    assert.equal(sim.saveCount, 2);
    assert.match(sim.savedBoot(), /rule 10 \{/);
    assert.deepEqual((sim.savedConfig() as { nat: unknown }).nat, sim.running().nat);
  }
});

test('fact sheet /config-file: reboot() loads /config/config.boot: unsaved commits are gone, timers dropped, session clean', async (t) => {
  for (const p of SIMULATOR_PROFILES) {
    const sim = await start(t, { version: p.name, minuteMs: 10_000 });
    await post(sim, '/configure', { commands: ruleCommands('10', '8080', gen(p)) });
    await post(sim, '/config-file', { op: 'save' });
    await post(sim, '/configure', { commands: ruleCommands('11', '8081', gen(p)), ...(p.commitConfirm ? { confirm_time: 5 } : {}) });
    sim.faults.failNextLoad('x');
    await post(sim, '/config-file', { op: 'load', file: '/config/config.boot' });
    assert.equal(sim.sessionDirty(), true);
    sim.reboot();
    assert.deepEqual([hasRule(sim, '10'), hasRule(sim, '11'), sim.confirmPending(), sim.sessionDirty()], [true, false, false, false], p.name);
    const fresh = await start(t, { version: p.name });
    fresh.apply(ruleCommands('10', '8080', gen(p)));
    fresh.reboot();
    assert.equal(hasRule(fresh, '10'), false, 'never saved: the boot config');
    assert.ok((fresh.running().service as object) !== undefined, 'the factory config survives');
  }
});

test('research §2: foreignConfirmPending: never confirmed by us unless we send confirm; confirm_time per order; plain commits pass', async (t) => {
  for (const p of CC) {
    const sim = await start(t, { version: p.name, minuteMs: 200 });
    sim.faults.foreignConfirmPending({ minutes: 1, commands: ruleCommands('5', '7000') });
    assert.deepEqual([sim.foreignTimerPending(), sim.confirmPending(), hasRule(sim, '5')], [true, true, true]);
    const plain = await post(sim, '/configure', { commands: ruleCommands('10') });
    assert.equal(plain.status, 200, 'plain commits are not blocked');
    const cc = await post(sim, '/configure', { commands: ruleCommands('11', '8081'), confirm_time: 1 });
    assert.deepEqual([cc.status, cc.json.error], [400, 'Another confirm is pending\n'], p.name);
    assert.equal(hasRule(sim, '11'), p.confirmOrder === 'commit-then-arm', p.name);
    assert.equal(sim.foreignConfirmsStolen, 0);
    await delay(300);
    assert.equal(sim.foreignTimerPending(), false);
    assert.equal(sim.revertCount, 1);
    assert.equal(hasRule(sim, '11'), false, 'what 2025-late committed under the foreign timer is reverted');
    assert.equal(hasRule(sim, '10'), true, 'the plain commit was archived as revision 0, hence kept');
    assert.equal(hasRule(sim, '5'), true, "and with it the CLI user's unconfirmed change (§4: a plain commit makes the pending change permanent)");
    // Without our plain commit, the CLI user's change is reverted.
    sim.faults.foreignConfirmPending({ minutes: 1, commands: ruleCommands('6', '7001') });
    await delay(300);
    assert.equal(hasRule(sim, '6'), false, "the CLI user's unconfirmed change is reverted");
    sim.faults.foreignConfirmPending({ minutes: 1 });
    assert.equal((await post(sim, '/configure', { op: 'confirm' })).json.data, 'Reload timer stopped\n');
    assert.equal(sim.foreignConfirmsStolen, 1, 'a confirm stops whatever is pending');
  }
  const v14 = await start(t, { version: '1.4' });
  v14.faults.foreignConfirmPending({ minutes: 5 });
  assert.equal(v14.foreignTimerPending(), true);
  assert.equal((await post(v14, '/configure', { commands: ruleCommands('10'), confirm_time: 1 })).status, 200, 'confirm_time is ignored on 1.4');
});

test('research §4: holdCommitLock: API commits fail with 400 "Configuration system temporarily locked ..." and are discarded', async (t) => {
  for (const p of SIMULATOR_PROFILES) {
    const sim = await start(t, { version: p.name, minuteMs: 10_000 });
    sim.faults.holdCommitLock(300);
    const a = await post(sim, '/configure', { commands: ruleCommands('10', '8080', gen(p)) });
    assert.deepEqual([a.status, a.json.error], [400, 'Configuration system temporarily locked due to another commit in progress\n'], p.name);
    assert.deepEqual([hasRule(sim, '10'), sim.sessionDirty()], [false, false]);
    assert.throws(() => sim.apply(ruleCommands('12', '8082', gen(p))), /temporarily locked/);
    if (p.confirmOrder === 'arm-then-commit') {
      await post(sim, '/configure', { commands: ruleCommands('10'), confirm_time: 1 });
      assert.equal(sim.confirmPending(), true, 'R-jun armed before the commit failed');
    }
    await delay(320);
    assert.equal((await post(sim, '/configure', { commands: ruleCommands('10', '8080', gen(p)) })).status, 200, `${p.name}: free again`);
  }
});

test('research §5: a failed /config-file load leaves the session dirty: reads see it, the next /configure commits it along', async (t) => {
  for (const p of SIMULATOR_PROFILES) {
    const sim = await start(t, { version: p.name });
    await post(sim, '/configure', { commands: ruleCommands('10', '8080', gen(p)) });
    await post(sim, '/config-file', { op: 'save', file: '/config/snap.boot' });
    await post(sim, '/configure', { commands: [{ op: 'delete', path: [...R, '10'] }, ...ruleCommands('20', '8020', gen(p))] });
    sim.faults.failNextLoad('\nsimulated load failure\n');
    const a = await post(sim, '/config-file', { op: 'load', file: '/config/snap.boot' });
    assert.deepEqual([a.status, a.json.error], [400, '\nsimulated load failure\n'], p.name);
    assert.equal(sim.sessionDirty(), true);
    assert.deepEqual([hasRule(sim, '10'), hasRule(sim, '20')], [false, true], 'nothing committed');
    const read = await post(sim, '/retrieve', { op: 'showConfig', path: ['nat', 'destination'] });
    assert.deepEqual(Object.keys((read.json.data as { rule: object }).rule), ['10'], 'the read sees the loaded candidate');
    const next = await post(sim, '/configure', { commands: ruleCommands('30', '8030', gen(p)) });
    assert.equal(next.status, 200);
    assert.deepEqual([hasRule(sim, '10'), hasRule(sim, '20'), hasRule(sim, '30')], [true, false, true], `${p.name}: the snapshot went along`);
    assert.equal(sim.sessionDirty(), false);
  }
});

test('research §5: a failing /configure discards the dirty session ("vvmapi-discard"); a file that does not parse changes nothing', async (t) => {
  for (const p of SIMULATOR_PROFILES) {
    const sim = await start(t, { version: p.name });
    await post(sim, '/config-file', { op: 'save', file: '/config/snap.boot' });
    await post(sim, '/configure', { commands: ruleCommands('20', '8020', gen(p)) });
    sim.faults.failNextLoad('x');
    await post(sim, '/config-file', { op: 'load', file: '/config/snap.boot' });
    assert.equal(sim.sessionDirty(), true);
    const clean = await post(sim, '/configure', { op: 'vvmapi-discard', path: ['nat'] });
    assert.deepEqual([clean.status, clean.json.error], [400, invalidOp(p, 'vvmapi-discard')], p.name);
    assert.equal(sim.sessionDirty(), false);
    assert.equal((await post(sim, '/configure', { op: 'vvmapi-discard', path: ['nat'] })).status, 400, 'idempotent');
    const bad = await post(sim, '/config-file', { op: 'load', file: '/config/none.boot' });
    assert.equal(bad.status, 400);
    const broken = p.commitConfirm ? await post(sim, '/config-file', { op: 'load', string: 'nat { destination {' }) : null;
    if (broken) assert.match(broken.json.error ?? '', /^Failed to parse configuration/);
    assert.equal(sim.sessionDirty(), false);
    // a commit failure on load (NAT verify) also leaves the session dirty
    const invalid = p.commitConfirm ? await post(sim, '/config-file', { op: 'merge', string: 'nat { destination { rule 40 { protocol tcp } } }' }) : null;
    if (invalid) assert.deepEqual([invalid.status, sim.sessionDirty()], [400, true], p.name);
  }
});

test('research §6: a foreign description with a bad backslash escape breaks every /retrieve (raw 500) and, on 1.4+, leaks the API lock', async (t) => {
  for (const p of SIMULATOR_PROFILES) {
    const sim = await start(t, { version: p.name });
    await post(sim, '/configure', { commands: ruleCommands('10', '8080', gen(p)) });
    sim.apply([{ op: 'set', path: [...R, '10', 'description', 'C:\\vms web'] }]);
    for (const body of [{ op: 'showConfig', path: ['nat', 'destination'] }, { op: 'showConfig', path: ['system'], configFormat: 'raw' }, { op: 'returnValues', path: ['system', 'host-name'] }, { op: 'exists', path: [] }]) {
      const r = await post(sim, '/retrieve', body);
      assert.deepEqual([r.status, r.text, r.contentType], [500, 'Internal Server Error', 'text/plain; charset=utf-8'], `${p.name} ${JSON.stringify(body)}`);
    }
    const w = await post(sim, '/configure', { commands: ruleCommands('11', '8081', gen(p)) });
    assert.deepEqual([w.status, w.text], [500, 'Internal Server Error'], p.name);
    const again = await post(sim, '/configure', { commands: ruleCommands('11', '8081', gen(p)) });
    if (p.name === '1.3') assert.equal(again.status, 500, '1.3 builds Config() before the lock: no hang');
    else {
      assert.equal(again.status, 504, `${p.name}: the lock was never released`);
      assert.match(again.text, /504 Gateway Time-out/);
      const show = await post(sim, '/show', { op: 'show', path: ['version'] });
      assert.equal(show.status, p.asyncHandlers ? 504 : 200, `${p.name}: R-late stalls the whole API`);
      sim.restartApi();
      assert.equal((await post(sim, '/show', { op: 'show', path: ['version'] })).status, 200);
    }
    assert.equal(hasRule(sim, '11'), false);
    sim.apply([{ op: 'delete', path: [...R, '10', 'description'] }]);
    sim.restartApi();
    assert.equal((await post(sim, '/retrieve', { op: 'exists', path: [...R, '10'] })).json.data, true, `${p.name}: readable again`);
    assert.equal((await post(sim, '/configure', { commands: ruleCommands('11', '8081', gen(p)) })).status, 200);
  }
});

test('research §6: valid escapes in a quoted value do not fail but do not round-trip; unquoted backslashes survive', async (t) => {
  const sim = await start(t);
  sim.apply([
    ...ruleCommands('10'),
    { op: 'set', path: [...R, '10', 'description', 'tab\\there \\\\ and \\n'] },
    ...ruleCommands('11', '8081'),
    { op: 'set', path: [...R, '11', 'description', 'C:\\vms'] },
  ]);
  const show = await post(sim, '/retrieve', { op: 'showConfig', path: ['nat', 'destination'] });
  const rules = (show.json.data as { rule: Record<string, { description: string }> }).rule;
  assert.equal(rules['10'].description, 'tab\there \\ and \n', 'escapes interpreted');
  assert.equal(rules['11'].description, 'C:\\vms', 'an unquoted value keeps its backslash');
  const value = await post(sim, '/retrieve', { op: 'returnValue', path: [...R, '10', 'description'] });
  assert.equal(value.json.data, 'tab\there \\ and \n', 'returnValue reads the parsed Config() too');
  const raw = await post(sim, '/retrieve', { op: 'showConfig', path: [...R, '10'], configFormat: 'raw' });
  assert.match(String(raw.json.data), /description "tab\\there \\\\ and \\n"/, 'raw prints the stored value');
  // A quoted value ending in a backslash escapes its closing quote: a parse failure.
  sim.apply([{ op: 'set', path: [...R, '11', 'description', 'ends with \\'] }]);
  assert.equal((await post(sim, '/retrieve', { op: 'exists', path: [] })).status, 500);
});

test('research §6: on 1.4+ an API /configure that sets an unparseable value is an enveloped 500 and a discard', async (t) => {
  const sim = await start(t, { version: '1.4' });
  const a = await post(sim, '/configure', { commands: [...ruleCommands('10'), { op: 'set', path: [...R, '10', 'description', 'bad \\q'] }] });
  assert.deepEqual([a.status, a.json.error], [500, 'An internal error occured. Check the logs for details.']);
  assert.equal(hasRule(sim, '10'), false);
  assert.equal((await post(sim, '/retrieve', { op: 'exists', path: [] })).status, 200, 'the running config still parses');
});

test('fact sheet §1: gatewayErrors: 1.3 answers HTTP 200 {"error": ...} without success; 1.4+ nginx 502; afterWork commits', async (t) => {
  const v13 = await start(t, { version: '1.3' });
  v13.faults.gatewayErrors(1, { afterWork: true });
  const a = await post(v13, '/configure', { commands: ruleCommands('10', '8080', '1.3') });
  assert.equal(a.status, 200);
  assert.deepEqual(a.json, { error: 'service https api unavailable at this proxy address: set service https api-restrict virtual-host' });
  assert.equal(hasRule(v13, '10'), true, 'the write happened: outcome unknown to the client');
  v13.faults.gatewayErrors(1, { status: 503 });
  const b = await post(v13, '/configure', { commands: ruleCommands('11', '8081', '1.3') });
  assert.deepEqual([b.status, 'success' in b.json, hasRule(v13, '11')], [200, false, false]);
  for (const name of ['1.4', 'rolling-2025-late'] as const) {
    const sim = await start(t, { version: name });
    sim.faults.gatewayErrors(2);
    for (let i = 0; i < 2; i++) {
      const c = await post(sim, '/retrieve', { op: 'exists', path: [] });
      assert.deepEqual([c.status, /<title>502 Bad Gateway<\/title>/.test(c.text)], [502, true], name);
    }
    assert.equal((await post(sim, '/retrieve', { op: 'exists', path: [] })).status, 200);
  }
});

test('fact sheet §6: ghost commit: a held write commits after the client gave up and disconnected', async (t) => {
  for (const p of SIMULATOR_PROFILES) {
    const sim = await start(t, { version: p.name });
    sim.faults.holdNextCommit(300);
    const request = fetch(sim.url + '/configure', {
      method: 'POST',
      body: JSON.stringify({ key: KEY, commands: ruleCommands('10', '8080', gen(p)) }),
      signal: AbortSignal.timeout(100),
    });
    await assert.rejects(request, /aborted|timeout/i);
    assert.equal(hasRule(sim, '10'), false, 'not yet');
    await delay(350);
    assert.equal(hasRule(sim, '10'), true, `${p.name}: committed after the client left`);
    assert.equal(sim.commitCount, 1);
  }
});

// firewall ipv4 (vyos-1x interface-definitions/include/firewall/*.xml.i and src/conf_mode/firewall.py,
// sagitta and current as of Oct 2024): the nodes VYOS_FIREWALL=check reads, with VyOS's errors.

test('firewall: the forward filter is accepted on 1.4 and rolling, and not a valid path on 1.3', async (t) => {
  const fw = (...p: string[]): RouterCommand => ({ op: 'set', path: ['firewall', 'ipv4', 'forward', 'filter', ...p] });
  const good = [fw('default-action', 'drop'), fw('rule', '10', 'action', 'accept'), fw('rule', '10', 'state', 'established'), fw('rule', '10', 'state', 'related'), fw('rule', '20', 'action', 'accept'), fw('rule', '20', 'connection-status', 'nat', 'destination')];
  for (const version of ['1.4', 'rolling'] as const) {
    const sim = await start(t, { version });
    const a = await post(sim, '/configure', { commands: good });
    assert.equal(a.status, 200, a.text);
    const shown = await post(sim, '/retrieve', { op: 'showConfig', path: ['firewall', 'ipv4'] });
    // a multi leaf with two values is a list (§3)
    assert.deepEqual(shown.json.data, {
      forward: { filter: { 'default-action': 'drop', rule: { '10': { action: 'accept', state: ['established', 'related'] }, '20': { action: 'accept', 'connection-status': { nat: 'destination' } } } } },
    });
  }
  const old = await start(t, { version: '1.3' });
  const refused = await post(old, '/configure', { commands: [good[0]] });
  assert.equal(refused.status, 400);
  assert.match(refused.json.error ?? '', /Configuration path: \[firewall ipv4 forward filter default-action drop\] is not valid/);
});

test('firewall: set-time validators and commit-time verify_rule errors, [[firewall]] failed', async (t) => {
  const sim = await start(t, { version: 'rolling' });
  const fw = (...p: string[]): RouterCommand => ({ op: 'set', path: ['firewall', 'ipv4', 'forward', 'filter', ...p] });
  const refusedAtSet = async (c: RouterCommand, text: RegExp) => {
    const a = await post(sim, '/configure', { commands: [c] });
    assert.equal(a.status, 400, a.text);
    assert.match(a.json.error ?? '', text);
  };
  await refusedAtSet(fw('default-action', 'reject'), /Invalid value/); // base chains: drop|accept only
  await refusedAtSet(fw('rule', '0', 'action', 'accept'), /Firewall rule number must be between 1 and 999999/);
  await refusedAtSet(fw('rule', '1', 'state', 'new-ish'), /Invalid value/);
  const failsAtCommit = async (commands: RouterCommand[], text: string) => {
    const a = await post(sim, '/configure', { commands });
    assert.equal(a.status, 400, a.text);
    assert.equal(a.json.error, `\n${text}\n\n[[firewall]] failed\nCommit failed\n`);
    assert.equal(sim.running().firewall, undefined, 'nothing committed');
  };
  await failsAtCommit([fw('rule', '5', 'destination', 'port', '80')], 'Rule action must be defined');
  await failsAtCommit([fw('rule', '5', 'action', 'accept'), fw('rule', '5', 'destination', 'port', '80')], 'Protocol must be defined if specifying a port or port-group');
  await failsAtCommit([fw('rule', '5', 'action', 'jump')], 'Action set to jump, but no jump-target specified');
  await failsAtCommit([fw('rule', '5', 'action', 'jump'), fw('rule', '5', 'jump-target', 'VMS')], 'Invalid jump-target. Firewall ipv4 name VMS does not exist on the system');
});
