// VYOS_FIREWALL=check: whether the router's forward filter lets each port rule's traffic reach its
// VM (docs/operations.md "Making the port reachable"). A NAT rule the filter drops is a port that
// does not answer, with a mutation that said "success".
import { forwardOutcome, packetFieldsRead, readFirewall13, readFirewallIpv4, type FirewallIpv4, type Outcome } from '../vyos/forward-filter.js';
import { ownedNumber, ownedStanding, readOwned, type OwnedRule, type OwnedStanding } from '../vyos/owned-rule.js';
import type { RouterApi } from '../vyos/types.js';
import { portRun, protocolTransports, type PortRange } from '../vyos/traffic-match.js';
import type { ExpectedRule } from './drift-diff.js';

export type FirewallMode = 'off' | 'check' | 'manage';

/** One port rule whose forwarded traffic the filter drops (or may drop). */
export interface FirewallFinding {
  ruleNumber: number;
  portRuleId: string;
  verdict: 'DROPPED' | 'UNCERTAIN';
  /** the transports concerned: tcp, udp or both */
  transports: string;
  /** what decided it, e.g. "forward filter default-action drop" */
  by: string;
}

/** Plain data (published with drift reports as JSON). */
export interface FirewallReportData {
  mode: FirewallMode;
  /** false when off, on VyOS 1.3, or when the firewall could not be read (`detail` says which) */
  checked: boolean;
  detail: string;
  /** the forward filter's `default-action` as set; null when unset or there is no forward filter */
  defaultAction: string | null;
  /** enabled port rules by outcome */
  accepted: number;
  dropped: number;
  uncertain: number;
  /** the DROPPED and UNCERTAIN rules, by rule number, the first MAX_FINDINGS of them */
  findings: FirewallFinding[];
  /** VYOS_FIREWALL=manage: our accept rule's number and what the router holds there */
  managed?: { ruleNumber: number; state: OwnedStanding } | null;
}

/** A whole fleet behind a default drop is one finding repeated: the counts say how many. */
export const MAX_FINDINGS = 100;

export const FIREWALL_PATH = ['firewall', 'ipv4'];

function notChecked(mode: FirewallMode, detail: string): FirewallReportData {
  return { mode, checked: false, detail, defaultAction: null, accepted: 0, dropped: 0, uncertain: 0, findings: [] };
}

/** Each enabled rule's fate in the filter (pure). */
export function checkForwarding(fw: FirewallIpv4, expected: readonly ExpectedRule[], wanInterface: string): FirewallReportData {
  const seen = new Map<string, Outcome>();
  // Keyed by what the filter reads: behind a filter with no address or port condition, 30,000 rules are two evaluations.
  const reads = packetFieldsRead(fw);
  const outcome = (transport: 'tcp' | 'udp', address: string, port: number): Outcome => {
    const key = `${transport}${reads.address ? ` ${address}` : ''}${reads.port ? ` ${port}` : ''}`;
    let o = seen.get(key);
    if (!o) seen.set(key, (o = forwardOutcome(fw, { transport, address, port, inboundInterface: wanInterface })));
    return o;
  };
  /** The worst a transport meets over a run of ports: a drop, else an unknown, else the accept. */
  const worst = (t: 'tcp' | 'udp', address: string, [first, last]: PortRange): Outcome => {
    if (!reads.port) return outcome(t, address, first);
    let unsure: Outcome | null = null;
    for (let port = first; port <= last; port++) {
      const o = outcome(t, address, port);
      if (o.verdict === 'drop') return o;
      if (o.verdict === 'unknown') unsure ??= o;
    }
    return unsure ?? outcome(t, address, first);
  };
  // A fleet's rules share a handful of port and protocol texts: read each once.
  const runs = memo(portRun);
  const transportsOf = memo(protocolTransports);
  const report: FirewallReportData = {
    mode: 'check',
    checked: true,
    detail: '',
    defaultAction: fw.forward?.defaultAction ?? null,
    accepted: 0,
    dropped: 0,
    uncertain: 0,
    findings: [],
  };
  for (const { portRuleId, expected: rule } of expected) {
    const address = rule.translationAddress;
    if (rule.disabled || !address) continue;
    // The filter sees the translated port: a range keeps its numbers, so every port of it counts.
    const run = runs(rule.internalPort !== undefined ? rule.internalPort : rule.externalPort);
    if (run === null) continue;
    const want = transportsOf(rule.protocol);
    const tcp = want.tcp ? worst('tcp', address, run) : null;
    const udp = want.udp ? worst('udp', address, run) : null;
    const dropped = tcp?.verdict === 'drop' || udp?.verdict === 'drop';
    const verdict = dropped ? 'drop' : 'unknown';
    const concerned = [tcp?.verdict === verdict ? (['tcp', tcp] as const) : null, udp?.verdict === verdict ? (['udp', udp] as const) : null].filter((x) => x !== null);
    if (concerned.length === 0) {
      report.accepted++;
      continue;
    }
    if (dropped) report.dropped++;
    else report.uncertain++;
    if (report.findings.length < MAX_FINDINGS) {
      report.findings.push({
        ruleNumber: rule.ruleNumber,
        portRuleId,
        verdict: dropped ? 'DROPPED' : 'UNCERTAIN',
        transports: concerned.map(([t]) => t).join(', '),
        by: concerned[0][1].by,
      });
    }
  }
  report.detail = summary(report, fw);
  return report;
}

/** `fn` with its answers kept per argument (for pure readers of a few distinct texts). */
function memo<A, R>(fn: (a: A) => R): (a: A) => R {
  const kept = new Map<A, R>();
  return (a) => {
    if (kept.has(a)) return kept.get(a)!;
    const r = fn(a);
    kept.set(a, r);
    return r;
  };
}

function summary(r: FirewallReportData, fw: FirewallIpv4): string {
  const filter = fw.label ?? (fw.forward ? `firewall ipv4 forward filter (default-action ${r.defaultAction ?? 'not set'})` : 'no firewall ipv4 forward filter');
  if (r.dropped === 0 && r.uncertain === 0) return `${filter}: forwarded traffic to every enabled port rule (${r.accepted}) is accepted`;
  const parts = [];
  if (r.dropped) parts.push(`drops forwarded traffic to ${r.dropped} port rule${r.dropped === 1 ? '' : 's'}`);
  if (r.uncertain) parts.push(`may drop traffic to ${r.uncertain} more (conditions this server cannot evaluate)`);
  return `${filter} ${parts.join(' and ')}; accept it with a rule such as \`connection-status nat destination\` action accept`;
}

/**
 * The router's half of the check, read beside syncReport's other reads: the `firewall ipv4`
 * subtree, or the report saying why there is nothing to evaluate. Never fails the report (a
 * firewall that cannot be read is a finding, not an outage).
 */
export async function readFirewall(router: RouterApi, mode: FirewallMode, wanInterface: string): Promise<FirewallIpv4 | FirewallReportData> {
  if (mode === 'off') return notChecked(mode, 'VYOS_FIREWALL=off: the firewall is not read');
  try {
    const caps = await router.capabilities();
    if (caps.syntax === '1.3') {
      // 1.3 binds rulesets to interfaces (`interfaces ethernet eth0 firewall in name X`).
      if (!/^eth\d+$/.test(wanInterface)) return notChecked(mode, `VyOS 1.3: WAN_INTERFACE ${wanInterface} is not an ethernet interface, whose firewall bindings are the ones read`);
      const [firewall, ethernet] = await Promise.all([router.showConfig(['firewall']), router.showConfig(['interfaces', 'ethernet'])]);
      return readFirewall13(firewall, ethernet, wanInterface);
    }
    return readFirewallIpv4(await router.showConfig(FIREWALL_PATH));
  } catch (e) {
    return notChecked(mode, `the firewall could not be read: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The report from what readFirewall found and the database's rules; `managed`: VYOS_FIREWALL=manage's rule. */
export function firewallVerdict(read: FirewallIpv4 | FirewallReportData, expected: readonly ExpectedRule[], wanInterface: string, managed?: OwnedRule): FirewallReportData {
  if ('mode' in read) return read;
  const report = checkForwarding(read, expected, wanInterface);
  if (!managed) return report;
  report.mode = 'manage';
  // 1.3 has no forward filter to keep a rule in: manage reports as check does.
  if (read.model === '1.3') return report;
  const ruleNumber = ownedNumber(managed);
  const node = read.forward?.rules.find((r) => r.number === ruleNumber)?.node ?? null;
  const state = ownedStanding(readOwned(node, managed), expected.some((e) => !e.expected.disabled));
  report.managed = { ruleNumber, state };
  if (state !== 'IN_PLACE') report.detail += `; VYOS_FIREWALL=manage: rule ${ruleNumber} is ${state === 'FOREIGN' ? "someone else's (left alone; set VYOS_FIREWALL_RULE to a free number)" : `${state.toLowerCase()} (the next change, or reconcile, writes it)`}`;
  return report;
}

/** The last report this replica made, for /health and /metrics between syncs. */
export class FirewallWatch {
  private last: { report: FirewallReportData; at: Date } | null = null;

  constructor(readonly mode: FirewallMode) {}

  note(report: FirewallReportData, at = new Date()): void {
    this.last = { report, at };
  }

  get latest(): { report: FirewallReportData; at: Date } | null {
    return this.last;
  }

  /** /health's view: degraded while the filter drops traffic to a port rule. */
  health(): { status: 'ok' | 'degraded'; detail: string } {
    if (this.mode === 'off') return { status: 'ok', detail: 'VYOS_FIREWALL=off: not checked' };
    if (!this.last) return { status: 'ok', detail: 'not checked yet: each syncReport (and the background sync) checks it' };
    const { report, at } = this.last;
    return { status: report.dropped > 0 ? 'degraded' : 'ok', detail: `${report.detail} (checked ${at.toISOString()})` };
  }
}
