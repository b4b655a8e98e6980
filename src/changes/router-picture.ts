// The router's `nat destination` rules as this process last saw them (issue 16: router I/O in
// proportion to the change). Every whole read (a batch that needs one, the sync job, syncReport)
// replaces the picture; every read of the rules a batch touches updates those entries. Ordinary
// batches therefore read and verify only what they touch, and allocation keeps clear of foreign
// rules from the picture instead of a whole read per batch. A picture can be stale: the runner
// reads the touched rules before it plans, and plans again when they differ from the picture.
// Only the runner and drift's consistent read (both under the router lock) read through it.
import { NAT_DESTINATION_PATH, diffRule, parseNatDestination } from '../vyos/nat-rule.js';
import { readNatRules } from '../vyos/nat-read.js';
import { ruleCatchment, type Catchment, type Transports } from '../vyos/traffic-match.js';
import type { RouterApi, RouterRule } from '../vyos/types.js';

/** What allocation asks of the picture. */
export interface RouterView {
  /** every rule on the router, by number, as last seen */
  readonly rules: ReadonlyMap<number, RouterRule>;
  /** the rules that catch `port` on the WAN for any of the transports `want` (disabled ones too: they may be enabled again) */
  catching(port: number, want: Transports): number[];
}

/** A rule whose ports are expanded into the point index; wider ones are checked one by one. */
const POINT_SPAN = 64;
/** Touched-rule reads in flight at once. */
const READ_CONCURRENCY = 4;
/** Rules read one by one before any has been timed (then the cost model decides). */
const COLD_READS = 16;
/**
 * Touched-rule reads the cost model remembers. It takes their median: a read timed while this
 * process was busy with a burst of requests (160 ms for one rule that takes 3) once kept a
 * running average high enough to send the next two batches of 99 to whole reads (issue 16).
 */
const PER_RULE_SAMPLES = 9;

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Wide {
  ruleNumber: number;
  first: number;
  last: number;
  tcp: boolean;
  udp: boolean;
}

export class RouterPicture implements RouterView {
  private readonly map = new Map<number, RouterRule>();
  private readonly points = new Map<string, Set<number>>();
  private readonly wide = new Map<number, Wide[]>();
  /** each rule's catchment as it was indexed (to unindex it without deriving it again) */
  private readonly indexed = new Map<number, Catchment>();
  private takenAt: number | null = null;
  /** measured: ms per rule of the last touched-rule reads, and a whole read's ms at a rule count */
  private readonly perRuleSamples: number[] = [];
  private whole: { ms: number; rules: number } | null = null;

  constructor(private readonly opts: { wanInterface: string; maxAgeMs: number }) {}

  get rules(): ReadonlyMap<number, RouterRule> {
    return this.map;
  }

  /** A whole read happened within the maximum age (and nothing since made the picture unknown). */
  fresh(now = Date.now()): boolean {
    return this.takenAt !== null && now - this.takenAt < this.opts.maxAgeMs;
  }

  /** The next batch reads the whole rule set (after a whole-config load, whose result we cannot predict). */
  invalidate(): void {
    this.takenAt = null;
  }

  catching(port: number, want: Transports): number[] {
    const found = new Set<number>();
    for (const t of ['tcp', 'udp'] as const) {
      if (!want[t]) continue;
      for (const n of this.points.get(`${t}/${port}`) ?? []) found.add(n);
    }
    for (const list of this.wide.values()) {
      for (const w of list) if (port >= w.first && port <= w.last && ((want.tcp && w.tcp) || (want.udp && w.udp))) found.add(w.ruleNumber);
    }
    return [...found].sort((a, b) => a - b);
  }

  /** One read of the whole `nat destination` tree; the picture becomes it. */
  async readWhole(router: Pick<RouterApi, 'showConfig'>): Promise<ReadonlyMap<number, RouterRule>> {
    const started = performance.now();
    const rules = await readNatRules(router);
    this.whole = { ms: performance.now() - started, rules: rules.size };
    // Deleting the entry being visited is safe in a Map iteration; no copy of 30,000 keys.
    for (const n of this.map.keys()) if (!rules.has(n)) this.put(n, undefined);
    for (const [n, rule] of rules) this.put(n, rule);
    this.takenAt = Date.now();
    return rules;
  }

  /**
   * The rules `numbers` name, read from the router: one showConfig per rule, or one whole read
   * when that is cheaper by what the reads have cost so far. The result holds the rules present
   * (an absent number is absent); the picture takes what was read.
   */
  async readRules(router: Pick<RouterApi, 'showConfig'>, numbers: Iterable<number>): Promise<ReadonlyMap<number, RouterRule>> {
    const wanted = [...new Set(numbers)].sort((a, b) => a - b);
    if (wanted.length === 0) return new Map();
    if (this.wholeIsCheaper(wanted.length)) return this.readWhole(router);
    const started = performance.now();
    const read = new Map<number, RouterRule>();
    let next = 0;
    const worker = async () => {
      while (next < wanted.length) {
        const n = wanted[next++];
        // vyos-api.md §3: a rule that is not there is "Configuration under specified path is empty" (null).
        const body = await router.showConfig([...NAT_DESTINATION_PATH, 'rule', String(n)]);
        const [rule] = body === null ? [] : parseNatDestination({ rule: { [String(n)]: body } });
        if (rule) read.set(n, rule);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, wanted.length) }, worker));
    const perRule = (performance.now() - started) / wanted.length;
    this.perRuleSamples.push(perRule);
    if (this.perRuleSamples.length > PER_RULE_SAMPLES) this.perRuleSamples.shift();
    for (const n of wanted) this.put(n, read.get(n));
    return read;
  }

  /** Numbers whose rule in `read` differs from the picture's (the picture was stale there). */
  differs(numbers: Iterable<number>, read: ReadonlyMap<number, RouterRule>, before: ReadonlyMap<number, RouterRule>): number[] {
    const stale: number[] = [];
    for (const n of new Set(numbers)) {
      const a = before.get(n);
      const b = read.get(n);
      if ((a === undefined) !== (b === undefined) || (a && b && diffRule(a, b).length > 0)) stale.push(n);
    }
    return stale;
  }

  /** A copy of the picture's entries for `numbers` (to compare a fresh read with). */
  entries(numbers: Iterable<number>): Map<number, RouterRule> {
    const out = new Map<number, RouterRule>();
    for (const n of numbers) {
      const r = this.map.get(n);
      if (r) out.set(n, r);
    }
    return out;
  }

  private wholeIsCheaper(k: number): boolean {
    if (this.whole === null) return false;
    // Until a touched read has been timed, read a few rules one by one and time them: assuming one
    // costs what a whole read does kept every batch of two or more on whole reads, never measured.
    const perRuleMs = median(this.perRuleSamples);
    if (perRuleMs === null) return k > COLD_READS;
    const wholeNow = this.whole.ms * Math.max(1, this.map.size / Math.max(1, this.whole.rules));
    return k * perRuleMs > wholeNow;
  }

  private put(n: number, rule: RouterRule | undefined): void {
    const old = this.map.get(n);
    // A whole read mostly brings back what the picture holds: the index depends on three fields
    // only, and re-deriving it for 30,000 unchanged rules cost seconds per read (issue 16).
    if (old && rule && sameCatchmentFields(old, rule)) {
      this.map.set(n, rule);
      return;
    }
    if (old) this.unindex(n);
    if (!rule) {
      this.map.delete(n);
      return;
    }
    this.map.set(n, rule);
    const c = ruleCatchment(rule, this.opts.wanInterface);
    this.indexed.set(n, c);
    if (!c.tcp && !c.udp) return;
    for (const [first, last] of c.ports) {
      if (last - first >= POINT_SPAN) {
        const list = this.wide.get(n) ?? [];
        list.push({ ruleNumber: n, first, last, tcp: c.tcp, udp: c.udp });
        this.wide.set(n, list);
        continue;
      }
      for (let p = first; p <= last; p++) {
        for (const t of ['tcp', 'udp'] as const) {
          if (!c[t]) continue;
          const key = `${t}/${p}`;
          const set = this.points.get(key) ?? new Set<number>();
          set.add(n);
          this.points.set(key, set);
        }
      }
    }
  }

  private unindex(n: number): void {
    this.wide.delete(n);
    const c = this.indexed.get(n);
    this.indexed.delete(n);
    if (!c) return;
    for (const [first, last] of c.ports) {
      if (last - first >= POINT_SPAN) continue;
      for (let p = first; p <= last; p++) {
        for (const t of ['tcp', 'udp'] as const) {
          const key = `${t}/${p}`;
          const set = this.points.get(key);
          if (!set) continue;
          set.delete(n);
          if (set.size === 0) this.points.delete(key);
        }
      }
    }
  }
}

/** The fields a rule's catchment is derived from (traffic-match.ts ruleCatchment). */
function sameCatchmentFields(a: RouterRule, b: RouterRule): boolean {
  return a.inboundInterface === b.inboundInterface && a.protocol === b.protocol && a.externalPort === b.externalPort;
}
