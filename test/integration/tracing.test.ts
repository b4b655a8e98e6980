// OpenTelemetry traces (issue 20): the server as its own process exports to a real OTLP/HTTP
// receiver in this test. Each request is one trace (HTTP, GraphQL, its wait for the batch, pg);
// each batch is a trace of its own, linked to every request it carries, with a span per stage and
// per router call under it; log lines name the trace they were written in; no OTEL variables, no export.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql, startTestApp, type TestApp } from '../support/app.js';
import { freePort, startServerProcess, type ServerProcess } from '../support/server-process.js';

type AnyValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number };
type KeyValue = { key: string; value: AnyValue };
interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: KeyValue[];
  links?: { traceId: string; spanId: string; attributes?: KeyValue[] }[];
  status?: { code?: number; message?: string };
  events?: { name: string; attributes?: KeyValue[] }[];
  /** the instrumentation scope that wrote it */
  scope: string;
}

const SERVER = 2;
const CLIENT = 3;
const STATUS_ERROR = 2;

function attr(span: Span, key: string): string | number | boolean | undefined {
  const v = span.attributes?.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.stringValue ?? v.boolValue ?? v.doubleValue;
}

interface Receiver {
  url: string;
  spans: Span[];
  /** every request that reached the receiver, whatever its path */
  requests: number;
  /** the raw bodies, to look for secrets */
  bodies: string[];
  /** the authorization header of each export */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

/** A real OTLP/HTTP receiver (JSON encoding) on a loopback port: POST /v1/traces. */
async function startReceiver(listen: { port: number; host: string } = { port: 0, host: '127.0.0.1' }): Promise<Receiver> {
  const r: Receiver = { url: '', spans: [], requests: 0, bodies: [], authorizations: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    r.requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      const text = body.toString('utf8');
      r.bodies.push(text);
      r.authorizations.push(req.headers.authorization);
      const request = JSON.parse(text) as { resourceSpans?: { scopeSpans?: { scope?: { name?: string }; spans?: Omit<Span, 'scope'>[] }[] }[] };
      for (const rs of request.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) r.spans.push({ ...s, scope: ss.scope?.name ?? '' });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () => new Promise((resolve) => server.close(() => resolve()));
  return r;
}

type Line = Record<string, any>;
const lines = (p: ServerProcess): Line[] =>
  p.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);

const COLLECTOR_TOKEN = 'collector-token-from-a-file';
const PROVISION = `mutation($n: String!) { provisionVm(input: { name: $n }) { id } }`;
const ADD = `mutation($vm: ID!, $p: Port!, $d: String) { addPortRule(vmId: $vm, input: { internalPort: $p, description: $d }) { ruleNumber } }`;

async function post(p: ServerProcess, key: string, query: string, variables: Record<string, unknown>, headers: Record<string, string>) {
  const res = await fetch(`${p.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
}

describe('traces exported over OTLP/HTTP', () => {
  let t: TestApp;
  let receiver: Receiver;
  let server: ServerProcess;
  let log: Line[] = [];
  const ids = Array.from({ length: 8 }, (_, i) => `trace-add-${i}`);
  // One client sends its own trace context: the server continues that trace.
  const clientTrace = randomBytes(16).toString('hex');

  const headersFile = path.join(mkdtempSync(path.join(tmpdir(), 'vmapi-otlp-')), 'headers');
  writeFileSync(headersFile, `authorization=Bearer ${COLLECTOR_TOKEN}\n`, { mode: 0o600 });

  before(async () => {
    // The in-process app migrates the database and runs the simulator; the traced server is a process of its own.
    t = await startTestApp({ sim: { commitLatencyMs: 300 } });
    receiver = await startReceiver();
    server = await startServerProcess({
      DATABASE_URL: t.db.url,
      VYOS_URL: t.sim.url,
      VYOS_API_KEY: 'sim-key',
      ADMIN_API_KEY: t.adminKey,
      LOG_LEVEL: 'info',
      // Requests that arrive together share a batch.
      BATCH_WINDOW_MS: '50',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      // the collector's token as a mounted secret (README "Configuration": every secret has `_FILE`)
      OTEL_EXPORTER_OTLP_HEADERS_FILE: headersFile,
    });
    const vm = await post(server, t.adminKey, PROVISION, { n: 'traced' }, { 'x-request-id': 'trace-provision' });
    assert.equal(vm.errors, undefined, JSON.stringify(vm.errors));
    const results = await Promise.all(
      ids.map((id, i) =>
        post(server, t.adminKey, ADD, { vm: vm.data.provisionVm.id, p: 7000 + i, d: `quiet-value-${i}` }, { 'x-request-id': id, ...(i === 3 ? { traceparent: `00-${clientTrace}-${randomBytes(8).toString('hex')}-01` } : {}) }),
      ),
    );
    for (const r of results) assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    // One change the router refuses: its stage and router call are marked failed.
    t.sim.faults.rejectCommandsMatching('poisoned');
    try {
      const refused = await post(server, t.adminKey, ADD, { vm: vm.data.provisionVm.id, p: 7100, d: 'poisoned rule' }, { 'x-request-id': 'trace-refused' });
      assert.equal(refused.errors?.[0]?.extensions?.code, 'ROUTER_REJECTED');
    } finally {
      t.sim.faults.clear();
    }
    // SIGTERM: the server exports what it still buffers before it exits.
    assert.equal(await server.stop(), 0, server.log());
    log = lines(server);
  });
  after(async () => {
    await server?.stop();
    await receiver?.close();
    await t?.close();
  });

  const byId = () => new Map(receiver.spans.map((s) => [s.spanId, s]));
  const inTrace = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
  /** The HTTP server span of the request with this X-Request-Id. */
  const requestSpan = (requestId: string) => {
    const found = receiver.spans.filter((s) => s.kind === SERVER && attr(s, 'vyos_vm_api.request_id') === requestId);
    assert.equal(found.length, 1, `one HTTP server span for ${requestId}`);
    return found[0];
  };
  const descendants = (root: Span) => {
    const out: Span[] = [];
    const walk = (id: string) => {
      for (const s of receiver.spans) {
        if (s.parentSpanId === id) {
          out.push(s);
          walk(s.spanId);
        }
      }
    };
    walk(root.spanId);
    return out;
  };
  const batchOf = (requestId: string) => {
    const wait = inTrace(requestSpan(requestId).traceId).find((s) => s.name === 'coordinator submit');
    assert.ok(wait, `${requestId} waits for its batch in a span`);
    const batches = (wait.links ?? []).map((l) => byId().get(l.spanId)).filter((s): s is Span => s?.name === 'coordinator batch');
    assert.ok(batches.length >= 1, `${requestId}'s wait links to its batch`);
    return { wait, batch: batches[0] };
  };

  test('each request is one trace: its HTTP span, its GraphQL operation, its wait for the batch, its queries', () => {
    for (const id of ['trace-provision', ...ids]) {
      const http = requestSpan(id);
      const spans = inTrace(http.traceId);
      assert.equal(http.parentSpanId === undefined || http.parentSpanId === '' || http.traceId === clientTrace, true, `${id}: the HTTP span starts the trace (or continues the client's)`);
      assert.match(http.name, /^POST( \/graphql)?$/);
      assert.equal(spans.filter((s) => s.kind === SERVER).length, 1, `${id}: one request in its trace`);
      const execute = spans.find((s) => s.scope.includes('instrumentation-graphql') && attr(s, 'graphql.operation.type') === 'mutation');
      assert.ok(execute, `${id}: the GraphQL operation has its span`);
      assert.ok(spans.some((s) => s.scope.includes('instrumentation-pg')), `${id}: the API key lookup is a pg span in the request's trace`);
      const { wait, batch } = batchOf(id);
      assert.equal(attr(wait, 'vyos_vm_api.operation'), id === 'trace-provision' ? 'provisionVm' : 'addPortRule');
      assert.notEqual(batch.traceId, http.traceId, 'the batch is a trace of its own');
      assert.ok(batch.links?.some((l) => l.spanId === wait.spanId && l.traceId === http.traceId), `${id}: its batch links back to it`);
    }
  });

  test('a client\'s traceparent is continued', () => {
    assert.equal(requestSpan(ids[3]).traceId, clientTrace);
  });

  test('audit rows carry their request\'s trace id and their batch\'s log batchId', async () => {
    const { rows } = await sql(t, "select request_id, trace_id, batch_id::text as batch_id, outcome from audit_event where request_id like 'trace-%'");
    const row = new Map(rows.map((r) => [r.request_id as string, r]));
    for (const id of ['trace-provision', ...ids, 'trace-refused']) assert.equal(row.get(id)?.trace_id, requestSpan(id).traceId, `${id}: its audit row names its trace`);
    assert.equal(row.get(ids[3])?.trace_id, clientTrace);
    assert.equal(row.get('trace-refused')?.outcome, 'ROLLED_BACK');
    const batchLines = log.filter((l) => l.msg === 'batch');
    for (const id of ids) {
      assert.ok(batchLines.some((l) => l.batchId === row.get(id)?.batch_id && (l.requestIds as string[] | undefined)?.includes(id)), `${id}: the batch line with its batchId lists it`);
    }
  });

  test('a batch span is linked to every request it carries, and several requests shared one', () => {
    const batches = receiver.spans.filter((s) => s.name === 'coordinator batch');
    const shared = batches.filter((b) => (b.links ?? []).length >= 2);
    assert.ok(shared.length >= 1, `a batch carried several requests (links per batch: ${batches.map((b) => b.links?.length ?? 0)})`);
    for (const b of shared) {
      const linked = (b.links ?? []).map((l) => attr({ attributes: l.attributes } as Span, 'vyos_vm_api.request_id'));
      assert.equal(new Set(b.links!.map((l) => l.traceId)).size, b.links!.length, 'each link is another request\'s trace');
      assert.equal(attr(b, 'vyos_vm_api.batch.change_sets'), b.links!.length);
      for (const requestId of linked) assert.ok(ids.includes(String(requestId)), `linked to ${requestId}`);
      assert.equal(attr(b, 'vyos_vm_api.batch.outcome'), 'committed');
    }
  });

  test('under the batch: a span per stage, the router calls under their stage, pg queries', () => {
    const { batch } = batchOf(ids[0]);
    const under = descendants(batch);
    const stage = (name: string) => {
      const s = under.find((x) => x.name === name && x.parentSpanId === batch.spanId);
      assert.ok(s, `stage ${name} under the batch (has ${[...new Set(under.map((x) => x.name))].join(', ')})`);
      return s;
    };
    for (const name of ['lock', 'prepare', 'plan + guard', 'journal', 'verify', 'database commit']) stage(name);
    const commit = under.find((s) => s.name === 'vyos commit-confirm');
    assert.ok(commit, 'the router commit is a span');
    assert.equal(commit.parentSpanId, stage('router commit').spanId);
    assert.equal(attr(commit, 'vyos.endpoint'), '/configure');
    assert.ok(Number(attr(commit, 'vyos.commands')) > 0, 'it counts the commands it sent');
    const confirm = under.find((s) => s.name === 'vyos confirm');
    assert.ok(confirm, 'the confirm is a span');
    assert.equal(confirm.parentSpanId, stage('confirm').spanId);
    assert.ok(under.some((s) => s.name === 'vyos retrieve showConfig' && s.parentSpanId === stage('verify').spanId), 'the read-back is a span under verify');
    // The HTTP instrumentation's own span of a router call sits under ours.
    assert.ok(under.some((s) => s.kind === CLIENT && s.scope.includes('instrumentation-http') && byId().get(s.parentSpanId ?? '')?.name.startsWith('vyos ')), 'router HTTP requests under their call');
    assert.ok(under.some((s) => s.scope.includes('instrumentation-pg') && descendants(stage('database commit')).includes(s)), 'the database commit shows its queries');
  });

  test('a refused change: its stage and router call are failed spans with the error code', () => {
    const { wait } = batchOf('trace-refused');
    assert.equal(wait.status?.code, STATUS_ERROR);
    assert.equal(attr(wait, 'vyos_vm_api.error.code'), 'ROUTER_REJECTED');
    const refusal = receiver.spans.find((s) => s.name === 'router commit' && s.status?.code === STATUS_ERROR);
    assert.ok(refusal, 'the router commit stage failed');
    assert.equal(attr(refusal, 'vyos_vm_api.error.code'), 'ROUTER_REJECTED');
    const call = receiver.spans.find((s) => s.parentSpanId === refusal.spanId && s.name === 'vyos commit-confirm');
    assert.ok(call, 'the refused router call');
    assert.equal(call.status?.code, STATUS_ERROR);
    assert.equal(attr(call, 'vyos.outcome'), 'REJECTED');
    assert.ok(call.events?.some((e) => e.name === 'exception'), 'the exception is recorded');
    assert.ok(receiver.spans.some((s) => s.name === 'undo discarded' && byId().get(s.parentSpanId ?? '') !== undefined), 'the undo has its span');
  });

  test('the exporter sends the headers read from OTEL_EXPORTER_OTLP_HEADERS_FILE with every export', () => {
    assert.ok(receiver.authorizations.length > 0);
    assert.deepEqual([...new Set(receiver.authorizations)], [`Bearer ${COLLECTOR_TOKEN}`]);
    assert.ok(!log.some((l) => JSON.stringify(l).includes(COLLECTOR_TOKEN)), 'the token is never logged');
  });

  test('log lines carry the trace and span they were written in', () => {
    // every line written for one of these requests, or for a batch, names a trace and a span
    const traced = log.filter((l) => ids.includes(l.requestId) || l.batchId !== undefined);
    assert.ok(traced.length >= ids.length * 2);
    for (const l of traced) {
      assert.match(String(l.trace_id), /^[0-9a-f]{32}$/, `${l.msg}: trace_id`);
      assert.match(String(l.span_id), /^[0-9a-f]{16}$/, `${l.msg}: span_id`);
    }
    for (const id of ids) {
      const http = requestSpan(id);
      const line = log.find((l) => l.msg === 'request' && l.requestId === id);
      assert.ok(line, `request line of ${id}`);
      assert.equal(line.trace_id, http.traceId, `${id}: the request line names its trace`);
      assert.match(String(line.span_id), /^[0-9a-f]{16}$/);
      const { batch } = batchOf(id);
      const batchLine = log.find((l) => l.msg === 'batch' && l.requestIds?.includes(id) && l.batchId === attr(batch, 'vyos_vm_api.batch.id'));
      assert.ok(batchLine, `batch line of ${id}`);
      assert.equal(batchLine.trace_id, batch.traceId, 'the batch line names the batch\'s trace');
    }
  });

  test('no secret is exported', () => {
    const all = receiver.bodies.join('\n');
    assert.ok(all.length > 0);
    assert.ok(!all.includes(t.adminKey), 'the API key never appears');
    assert.ok(!all.includes('"sim-key"') && !all.includes('key":"sim-key'), 'the router key never appears');
    assert.ok(!all.includes("'traced'"), 'values in SQL statements are masked');
    // Commands are counted, never listed (a refusal quotes its command, as in the log and the client's error).
    assert.ok(!all.includes('quiet-value-'), 'command values are not exported');
  });
});

describe('tracing off without OTEL variables', () => {
  let t: TestApp;
  let receiver: Receiver | null = null;
  let server: ServerProcess;

  before(async () => {
    t = await startTestApp();
    // Where the SDK would send by default (http://localhost:4318): nothing may arrive there.
    receiver = await startReceiver({ port: 4318, host: '127.0.0.1' }).catch(() => null);
    server = await startServerProcess({ DATABASE_URL: t.db.url, VYOS_URL: t.sim.url, VYOS_API_KEY: 'sim-key', ADMIN_API_KEY: t.adminKey, LOG_LEVEL: 'info', OTEL_BSP_SCHEDULE_DELAY: '100' });
  });
  after(async () => {
    await server?.stop();
    await receiver?.close();
    await t?.close();
  });

  test('no export is attempted and log lines carry no trace ids', async (ctx) => {
    const r = await post(server, t.adminKey, PROVISION, { n: 'untraced' }, { 'x-request-id': 'untraced-1' });
    assert.equal(r.errors, undefined);
    assert.equal(await server.stop(), 0);
    const all = lines(server);
    assert.ok(all.some((l) => l.msg === 'request' && l.requestId === 'untraced-1'));
    assert.ok(all.some((l) => l.msg === 'batch'));
    assert.ok(all.every((l) => l.trace_id === undefined && l.span_id === undefined), 'no line names a trace');
    if (!receiver) return ctx.skip('port 4318 is taken here');
    assert.equal(receiver.requests, 0, 'nothing was exported');
  });
});

describe('an unreachable collector', () => {
  let t: TestApp;
  let server: ServerProcess;

  before(async () => {
    t = await startTestApp();
    // A port nobody listens on: every export fails.
    const closed = await freePort();
    server = await startServerProcess({
      DATABASE_URL: t.db.url,
      VYOS_URL: t.sim.url,
      VYOS_API_KEY: 'sim-key',
      ADMIN_API_KEY: t.adminKey,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closed}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
  });
  after(async () => {
    await server?.stop();
    await t?.close();
  });

  test('costs the requests nothing, and the server still exits cleanly on SIGTERM', async () => {
    const r = await post(server, t.adminKey, PROVISION, { n: 'collector-down' }, {});
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    assert.equal(await server.stop(), 0, server.log());
  });
});
