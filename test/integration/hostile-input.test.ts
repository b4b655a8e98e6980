// Hostile input through the real GraphQL mutations (fast-check): random and adversarial values
// (unicode, injection strings, huge strings, out-of-range and non-integer numbers, malformed
// CIDRs and IPs, unknown and malformed ids). After every case either the mutation succeeded and
// the router and the database agree rule for rule, or it failed with a code from the closed set
// and neither side changed at all.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { ErrorCode } from '../../src/domain/errors.js';
import { ok, startTestApp, type GqlResponse, type TestApp } from '../support/app.js';
import { assertInSync } from '../support/in-sync.js';

const RUNS = Number(process.env.HOSTILE_RUNS ?? 500);
const CLOSED = new Set<string>(Object.values(ErrorCode));
const RULE_RANGE = { first: 10000, last: 99999 };

// ---------------------------------------------------------------------------------------------
// Generators

const INJECTIONS = [
  '"; delete nat',
  "'; drop table vm; --",
  '$(reboot)',
  '`reboot`',
  '; commit; save',
  'x\ny',
  'x\r\ndelete nat destination',
  'tab\there',
  '\u0000',
  '\u001b[31mred',
  '\u202eevil',
  'line\u2028sep',
  '\u0085',
  '../../../../etc/passwd',
  '%00',
  '{{7*7}}',
  '<script>alert(1)</script>',
  'nat destination rule 1 disable',
  ' ',
  '',
  'café ☕ 🚀',
  'ǅ combining e\u0301',
  '\ud800',
  '\\',
];
const hostileString = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer({ min: 201, max: 20_000 }).map((n) => 'x'.repeat(n)),
);
const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const malformedIp = fc.oneof(
  fc.constantFrom('256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.-4', '::1', 'fe80::1', '1.2.3.4 ', ' 1.2.3.4', '0x7f.0.0.1', '1.2.3.4/', 'localhost', '١٢٣.1.1.1'),
  hostileString,
);
const cidr = fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([ip, len]) => `${ip}/${len}`);
const malformedCidr = fc.oneof(fc.constantFrom('10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/08', '10.0.0.1/8', '10.0.0.0/8/8', '10.0.0.0/', '/24', '10.0.0.0/24x'), malformedIp);
const weirdNumber = fc.oneof(
  fc.constantFrom(-1, 0, 65_536, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, Number.MAX_SAFE_INTEGER, 1.5, 1e21, -0),
  fc.constantFrom('NaN', 'Infinity', '80', '1e3', '0x50', '', null),
);
const port = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 65_535 }) }, { weight: 1, arbitrary: weirdNumber });
const protocol = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('TCP', 'UDP', 'TCP_UDP') }, { weight: 1, arbitrary: fc.constantFrom('ICMP', 'tcp', '', 'TCP UDP') });
const description = fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9 .,:_-]{0,30}$/), hostileString);
const sourceAddress = fc.oneof(ipv4, cidr, malformedCidr);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });

const portRuleInput = fc.record(
  {
    internalPort: port,
    // a few ports over and over, so port conflicts happen too
    externalPort: maybe(fc.oneof(fc.integer({ min: 20_000, max: 20_005 }), fc.integer({ min: 20_000, max: 60_000 }), port)),
    protocol: maybe(protocol),
    sourceAddress: maybe(fc.oneof(sourceAddress, fc.constant(null))),
    description: maybe(fc.oneof(description, fc.constant(null))),
    enabled: maybe(fc.oneof(fc.boolean(), fc.constantFrom('yes', 1, null))),
  },
  { requiredKeys: [] },
);
const updateInput = portRuleInput;

const vmName = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/) },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.constantFrom('-lead', 'trail-', 'UPPER', 'a'.repeat(64), 'dot.name', 'under_score') },
);
const provisionInput = fc.record(
  {
    name: vmName,
    internalIp: maybe(fc.oneof(fc.integer({ min: 1, max: 254 }).map((n) => `10.20.${n % 4}.${n}`), ipv4, malformedIp)),
    macAddress: maybe(fc.oneof(fc.constant('02:00:00:aa:bb:cc'), fc.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/), hostileString)),
    portRules: maybe(fc.array(portRuleInput, { maxLength: 4 })),
    idempotencyKey: maybe(fc.oneof(fc.uuid(), hostileString)),
  },
  { requiredKeys: ['name'] },
);

/** An id: one that exists (picked at run time), a random UUID, or something malformed. */
type IdChoice = { kind: 'existing'; index: number } | { kind: 'literal'; value: unknown };
const idChoice: fc.Arbitrary<IdChoice> = fc.oneof(
  { weight: 5, arbitrary: fc.nat().map((index) => ({ kind: 'existing' as const, index })) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.uuid().map((value) => ({ kind: 'literal' as const, value })),
      fc.oneof(hostileString, fc.constantFrom("1' or '1'='1", '00000000-0000-0000-0000-000000000000', randomUUID().toUpperCase(), ` ${randomUUID()}`, 'null', 42, -1)).map((value) => ({ kind: 'literal' as const, value })),
    ),
  },
);

// ---------------------------------------------------------------------------------------------
// The two sides, and the invariant

interface Snapshot {
  vms: unknown[];
  rules: unknown[];
  router: unknown[];
}

class World {
  private constructor(
    readonly t: TestApp,
    private readonly db: pg.Client,
  ) {}

  static async start(): Promise<World> {
    const t = await startTestApp({
      sim: { commitLatencyMs: 0 },
      env: { LAN_POOL: '10.20.0.1-10.20.3.254', EXTERNAL_PORT_RANGE: '20000-60000', NAT_RULE_RANGE: `${RULE_RANGE.first}-${RULE_RANGE.last}`, BATCH_WINDOW_MS: '0' },
    });
    const db = new pg.Client({ connectionString: t.db.url });
    await db.connect();
    return new World(t, db);
  }

  async snapshot(): Promise<Snapshot> {
    const vms = (await this.db.query('select id, name, internal_ip, mac_address, idempotency_key from vm order by id')).rows;
    const rules = (
      await this.db.query(
        `select r.id, r.vm_id, r.rule_number, r.protocol, r.external_port, r.internal_port, r.source_address, r.description, r.enabled,
                v.name as vm_name, v.internal_ip from port_rule r join vm v on v.id = r.vm_id order by r.rule_number`,
      )
    ).rows;
    return { vms, rules, router: this.t.routerRules() };
  }

  async ids(table: 'vm' | 'port_rule'): Promise<string[]> {
    return (await this.db.query<{ id: string }>(`select id from ${table} order by id`)).rows.map((r) => r.id);
  }

  /** Keeps a few VMs with rules around, so mutations that need an existing target find one. */
  async replenish(): Promise<void> {
    const vms = await this.ids('vm');
    for (let i = vms.length; i < 4; i++) {
      ok(await this.t.gql(`mutation($i: ProvisionVmInput!) { provisionVm(input: $i) { id } }`, { i: { name: `seed-${randomUUID().slice(0, 8)}`, portRules: [{ internalPort: 22 }, { internalPort: 80, protocol: 'TCP_UDP' }] } }));
    }
    const rules = await this.ids('port_rule');
    if (rules.length < 4) {
      const [vmId] = await this.ids('vm');
      ok(await this.t.gql(`mutation($v: ID!) { addPortRule(vmId: $v, input: { internalPort: 443 }) { id } }`, { v: vmId }));
      ok(await this.t.gql(`mutation($v: ID!) { addPortRule(vmId: $v, input: { internalPort: 53, protocol: UDP }) { id } }`, { v: vmId }));
    }
  }

  /** One case: run the mutation and check the invariant. */
  async check(what: string, run: () => Promise<GqlResponse<unknown>>): Promise<'ok' | string> {
    const before = await this.snapshot();
    const res = await run();
    const after = await this.snapshot();
    if (!res.errors?.length) {
      await assertInSync(this.t).catch((e: Error) => assert.fail(`router and database differ after ${what}: ${e.message}`));
      return 'ok';
    }
    // Variable coercion may report several bad values at once; every one must be in the closed set.
    for (const e of res.errors) {
      assert.ok(CLOSED.has(String(e.extensions?.code)), `${what}: code ${e.extensions?.code} is not in the closed set: ${JSON.stringify(res.errors).slice(0, 500)}`);
    }
    const code = String(res.errors[0].extensions?.code);
    assert.deepEqual(after, before, `${what}: failed with ${code} but something changed`);
    return code;
  }

  async close(): Promise<void> {
    await this.db.end();
    await this.t.close();
  }
}

async function pick(w: World, table: 'vm' | 'port_rule', choice: IdChoice): Promise<unknown> {
  if (choice.kind === 'literal') return choice.value;
  const ids = await w.ids(table);
  return ids.length ? ids[choice.index % ids.length] : randomUUID();
}

/** Runs the property and reports what the cases ended as (so a run that never succeeds shows). */
async function runProperty<T>(name: string, arb: fc.Arbitrary<T>, body: (w: World, input: T) => Promise<'ok' | string>, ctx: { diagnostic(m: string): void }): Promise<Map<string, number>> {
  const w = await World.start();
  const outcomes = new Map<string, number>();
  const started = Date.now();
  try {
    await w.replenish();
    await fc.assert(
      fc.asyncProperty(arb, async (input) => {
        await w.replenish();
        const outcome = await body(w, input);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }),
      { numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
    );
  } finally {
    await w.close();
  }
  ctx.diagnostic(`${name}: ${RUNS} cases in ${Date.now() - started} ms: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  return outcomes;
}

function assertBothOutcomes(outcomes: Map<string, number>) {
  assert.ok((outcomes.get('ok') ?? 0) > 0, `some cases succeeded: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  assert.ok((outcomes.get('BAD_USER_INPUT') ?? 0) > 0, `some cases were refused: ${JSON.stringify(Object.fromEntries(outcomes))}`);
}

const RULE_FIELDS = 'id ruleNumber protocol externalPort internalPort sourceAddress description enabled';

describe(`hostile input through the GraphQL mutations (${RUNS} cases each)`, () => {
  after(() => undefined);

  test('provisionVm', async (ctx) => {
    const outcomes = await runProperty('provisionVm', provisionInput, (w, input) =>
      w.check(`provisionVm(${JSON.stringify(input).slice(0, 300)})`, () => w.t.gql(`mutation($i: ProvisionVmInput!) { provisionVm(input: $i) { id portRules { ${RULE_FIELDS} } } }`, { i: input })),
    ctx);
    assertBothOutcomes(outcomes);
  });

  test('addPortRule', async (ctx) => {
    const outcomes = await runProperty('addPortRule', fc.tuple(idChoice, portRuleInput), async (w, [vm, input]) => {
      const vmId = await pick(w, 'vm', vm);
      return w.check(`addPortRule(${JSON.stringify({ vmId, input }).slice(0, 300)})`, () => w.t.gql(`mutation($v: ID!, $i: PortRuleInput!) { addPortRule(vmId: $v, input: $i) { ${RULE_FIELDS} } }`, { v: vmId, i: input }));
    }, ctx);
    assertBothOutcomes(outcomes);
  });

  test('updatePortRule', async (ctx) => {
    const outcomes = await runProperty('updatePortRule', fc.tuple(idChoice, updateInput), async (w, [rule, input]) => {
      const id = await pick(w, 'port_rule', rule);
      return w.check(`updatePortRule(${JSON.stringify({ id, input }).slice(0, 300)})`, () => w.t.gql(`mutation($id: ID!, $i: UpdatePortRuleInput!) { updatePortRule(id: $id, input: $i) { ${RULE_FIELDS} } }`, { id, i: input }));
    }, ctx);
    assertBothOutcomes(outcomes);
  });

  test('setPortRuleEnabled', async (ctx) => {
    const enabled = fc.oneof({ weight: 5, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom('true', 1, null, 'yes') });
    const outcomes = await runProperty('setPortRuleEnabled', fc.tuple(idChoice, enabled), async (w, [rule, on]) => {
      const id = await pick(w, 'port_rule', rule);
      return w.check(`setPortRuleEnabled(${JSON.stringify({ id, on })})`, () => w.t.gql(`mutation($id: ID!, $e: Boolean!) { setPortRuleEnabled(id: $id, enabled: $e) { ${RULE_FIELDS} } }`, { id, e: on }));
    }, ctx);
    assertBothOutcomes(outcomes);
  });

  test('removePortRule', async (ctx) => {
    const outcomes = await runProperty('removePortRule', idChoice, async (w, rule) => {
      const id = await pick(w, 'port_rule', rule);
      return w.check(`removePortRule(${JSON.stringify(id)})`, () => w.t.gql(`mutation($id: ID!) { removePortRule(id: $id) }`, { id }));
    }, ctx);
    assert.ok((outcomes.get('ok') ?? 0) > 0 && outcomes.size > 1, JSON.stringify(Object.fromEntries(outcomes)));
  });

  test('decommissionVm', async (ctx) => {
    const outcomes = await runProperty('decommissionVm', idChoice, async (w, vm) => {
      const id = await pick(w, 'vm', vm);
      return w.check(`decommissionVm(${JSON.stringify(id)})`, () => w.t.gql(`mutation($id: ID!) { decommissionVm(id: $id) }`, { id }));
    }, ctx);
    assert.ok((outcomes.get('ok') ?? 0) > 0 && outcomes.size > 1, JSON.stringify(Object.fromEntries(outcomes)));
  });
});
