// Configuration from the environment (README "Configuration"): every bad variable is reported at
// once, and every secret can come from a file (`X_FILE`), as Docker and Kubernetes mount them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, SECRET_VARIABLES, loadConfig } from '../../src/config.js';

const MAIN = path.resolve(__dirname, '..', '..', 'src', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'vmapi-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, contents: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, contents, { mode: 0o600 });
  return file;
}

function problemsOf(env: Record<string, string>): Record<string, string> {
  try {
    loadConfig(env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `a ConfigError, not ${String(e)}`);
    return Object.fromEntries(e.problems.map((p) => [p.variable, p.message]));
  }
  assert.fail('the configuration was accepted');
}

describe('bad variables are reported all at once', () => {
  test('one error lists each bad variable and why', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      NAT_RULE_RANGE: '20000-10000',
      VYOS_URL: 'https://192.0.2.1',
      METRICS_TOKEN: 'short',
      CORS_ORIGINS: 'not-an-origin',
      MIGRATE_ON_START: 'perhaps',
    });
    assert.deepEqual(Object.keys(problems).sort(), [
      'CORS_ORIGINS',
      'LOG_LEVEL',
      'METRICS_TOKEN',
      'MIGRATE_ON_START',
      'NAT_RULE_RANGE',
      'PORT',
      'VYOS_API_KEY',
    ]);
    assert.match(problems.PORT, /expected a whole number, got "eighty"/);
    assert.match(problems.LOG_LEVEL, /expected one of fatal, error, warn, info/);
    assert.match(problems.VYOS_API_KEY, /required when VYOS_URL is set/);
    assert.match(problems.NAT_RULE_RANGE, /first <= last/);
  });

  test('a bad OTLP protocol is reported with the rest, not left to a warning of the SDK', () => {
    const problems = problemsOf({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/proto', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc', PORT: 'x' });
    assert.deepEqual(Object.keys(problems).sort(), ['OTEL_EXPORTER_OTLP_PROTOCOL', 'PORT']);
    assert.match(problems.OTEL_EXPORTER_OTLP_PROTOCOL, /expected one of http\/protobuf, http\/json, grpc, got "http\/proto"/);
  });

  test('the OTLP headers can come from a file, checked like every secret', () => {
    const problems = problemsOf({ OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer x', OTEL_EXPORTER_OTLP_HEADERS_FILE: secretFile('otlp', 'authorization=Bearer y\n'), OTEL_EXPORTER_OTLP_TRACES_HEADERS_FILE: secretFile('otlp-empty', '') });
    assert.match(problems.OTEL_EXPORTER_OTLP_HEADERS_FILE, /set OTEL_EXPORTER_OTLP_HEADERS or OTEL_EXPORTER_OTLP_HEADERS_FILE, not both/);
    assert.match(problems.OTEL_EXPORTER_OTLP_TRACES_HEADERS_FILE, /is empty/);
  });

  test('a single bad variable keeps the one-line message', () => {
    assert.throws(() => loadConfig({ PORT: '70000' }), { message: 'PORT: must be between 0 and 65535, got 70000' });
    assert.equal(loadConfig({}).port, 4000);
  });

  test('the server refuses to start and prints every bad variable, one a line', () => {
    const r = spawnSync(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'not a url' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^configuration errors \(3\):$/m);
    assert.match(r.stderr, /^ {2}PORT: expected a whole number, got "eighty"$/m);
    assert.match(r.stderr, /^ {2}LOG_LEVEL: expected one of /m);
    assert.match(r.stderr, /^ {2}DATABASE_URL: not a valid URL/m);
  });
});

describe('*_FILE variants of the secrets', () => {
  test('every secret is read from its file, trailing newline trimmed', () => {
    assert.deepEqual([...SECRET_VARIABLES].sort(), ['ADMIN_API_KEY', 'DATABASE_URL', 'METRICS_TOKEN', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'VYOS_API_KEY']);
    const config = loadConfig({
      DATABASE_URL_FILE: secretFile('db', 'postgresql://vmapi:s3cret@db.example.net:5432/vmapi\n'),
      VYOS_URL: 'https://192.0.2.1',
      VYOS_API_KEY_FILE: secretFile('router', 'router-key\n'),
      ADMIN_API_KEY_FILE: secretFile('admin', 'admin-key-from-a-file'),
      METRICS_TOKEN_FILE: secretFile('metrics', 'metrics-token-0123456789\r\n'),
    });
    assert.equal(config.databaseUrl, 'postgresql://vmapi:s3cret@db.example.net:5432/vmapi');
    assert.equal(config.vyosApiKey, 'router-key');
    assert.equal(config.adminApiKey, 'admin-key-from-a-file');
    assert.equal(config.metricsToken, 'metrics-token-0123456789');
  });

  test('the README and deploy.md name every _FILE variant', () => {
    const root = path.resolve(__dirname, '..', '..', '..');
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const deploy = readFileSync(path.join(root, 'docs', 'deploy.md'), 'utf8');
    for (const name of SECRET_VARIABLES) {
      assert.ok(readme.includes(`\`${name}_FILE\``), `README's configuration table lacks ${name}_FILE`);
      assert.ok(deploy.includes(`${name}_FILE`), `docs/deploy.md lacks ${name}_FILE`);
    }
  });

  test('setting both X and X_FILE is an error', () => {
    const problems = problemsOf({ ADMIN_API_KEY: 'inline', ADMIN_API_KEY_FILE: secretFile('admin2', 'from-file\n') });
    assert.deepEqual(Object.keys(problems), ['ADMIN_API_KEY_FILE']);
    assert.match(problems.ADMIN_API_KEY_FILE, /set ADMIN_API_KEY or ADMIN_API_KEY_FILE, not both/);
  });

  test('a missing, unreadable or empty file is an error naming the variable', () => {
    const unreadable = secretFile('unreadable', 'x');
    chmodSync(unreadable, 0o000);
    const problems = problemsOf({
      VYOS_URL: 'https://192.0.2.1',
      VYOS_API_KEY_FILE: path.join(dir, 'no-such-file'),
      DATABASE_URL_FILE: secretFile('empty', '\n'),
      // root reads any file, so a directory stands in for "cannot read" there
      METRICS_TOKEN_FILE: process.getuid?.() === 0 ? dir : unreadable,
    });
    assert.match(problems.VYOS_API_KEY_FILE, /cannot read ".*no-such-file": ENOENT/);
    assert.match(problems.DATABASE_URL_FILE, /is empty/);
    assert.match(problems.METRICS_TOKEN_FILE, /cannot read ".*": E(ACCES|ISDIR)/);
    // the router key is reported once, as the file's problem
    assert.deepEqual(Object.keys(problems).sort(), ['DATABASE_URL_FILE', 'METRICS_TOKEN_FILE', 'VYOS_API_KEY_FILE']);
  });

  test("a bad value from a file names the _FILE variable and never echoes the secret's credentials", () => {
    const problems = problemsOf({ DATABASE_URL_FILE: secretFile('bad-db', 'mysql://vmapi:hunter2@db/vmapi\n') });
    assert.match(problems.DATABASE_URL_FILE, /not a valid URL: "mysql:\/\/\*\*\*@db\/vmapi" \(in .*bad-db\)/);
    assert.ok(!JSON.stringify(problems).includes('hunter2'));
  });
});
