// Tracing is off unless the standard OTEL_* variables configure it (docs/monitoring.md "Traces"),
// and the router client's span names and attributes never carry a command or the key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maskSqlLiterals, tracingSettings } from '../../src/observability/tracing-settings.js';
import { callSpan } from '../../src/vyos/client.js';

const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

test('off without an endpoint or exporter; OTEL_* that only tune it do not turn it on', () => {
  assert.equal(tracingSettings({}).enabled, false);
  assert.equal(tracingSettings({ OTEL_SERVICE_NAME: 'x', OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_TRACES_SAMPLER: 'always_on', OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }).enabled, false);
});

test('on with either OTLP endpoint variable, or a named exporter', () => {
  assert.equal(tracingSettings(endpoint).enabled, true);
  assert.equal(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }).enabled, true);
  assert.equal(tracingSettings({ OTEL_TRACES_EXPORTER: 'console' }).enabled, true);
});

test('OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none win over an endpoint', () => {
  assert.equal(tracingSettings({ ...endpoint, OTEL_SDK_DISABLED: 'true' }).enabled, false);
  assert.equal(tracingSettings({ ...endpoint, OTEL_SDK_DISABLED: 'TRUE' }).enabled, false);
  assert.equal(tracingSettings({ ...endpoint, OTEL_SDK_DISABLED: 'false' }).enabled, true);
  assert.equal(tracingSettings({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).enabled, false);
});

test('service.name defaults to vyos-vm-api unless the variables name one', () => {
  assert.equal(tracingSettings(endpoint).defaultServiceName, 'vyos-vm-api');
  assert.equal(tracingSettings({ ...endpoint, OTEL_SERVICE_NAME: 'vmapi-eu' }).defaultServiceName, null);
  assert.equal(tracingSettings({ ...endpoint, OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.name=vmapi-eu' }).defaultServiceName, null);
});

test('the SDK exports metrics and logs only when their own exporter variable asks', () => {
  assert.deepEqual([tracingSettings(endpoint).metrics, tracingSettings(endpoint).logs], [false, false]);
  const both = tracingSettings({ ...endpoint, OTEL_METRICS_EXPORTER: 'otlp', OTEL_LOGS_EXPORTER: 'otlp' });
  assert.deepEqual([both.metrics, both.logs], [true, true]);
});

test('router call spans: named after the call, counting commands, never carrying them', () => {
  const commands = [{ op: 'set', path: ['nat', 'destination', 'rule', '10001', 'description', 'secret-ish'] }];
  const commit = callSpan('/configure', 'commands', 'write', { commands, confirm_time: 1 });
  assert.equal(commit.name, 'vyos commit-confirm');
  assert.deepEqual(commit.attributes, { 'vyos.endpoint': '/configure', 'vyos.op': 'commands', 'vyos.access': 'write', 'vyos.commands': 1, 'vyos.confirm_minutes': 1 });
  assert.equal(callSpan('/configure', 'commands', 'write', { commands }).name, 'vyos configure');
  assert.equal(callSpan('/configure', 'confirm', 'write', { op: 'confirm' }).name, 'vyos confirm');
  assert.equal(callSpan('/retrieve', 'showConfig', 'read', { op: 'showConfig', path: ['nat'] }).name, 'vyos retrieve showConfig');
  assert.equal(callSpan('/config-file', 'save', 'write', { op: 'save', file: '/config/x' }).name, 'vyos config-file save');
  assert.equal(callSpan('/info', 'info', 'read').name, 'vyos info');
  assert.ok(!JSON.stringify(commit).includes('secret-ish'));
});

test('pg spans record statements with their string values masked, numbers kept', () => {
  assert.equal(
    maskSqlLiterals(`insert into "vm" ("id", "name") values ('83e6-…', 'it''s mine') returning "id"`),
    `insert into "vm" ("id", "name") values ('?', '?') returning "id"`,
  );
  assert.equal(maskSqlLiterals(`select * from api_key where prefix = 'h8f477af82e2' and port = 7000`), `select * from api_key where prefix = '?' and port = 7000`);
});
