// The database's picture vs the router's, rule by rule (design.md "Drift"). Pure: data in, data out.
import type { OwnedStanding } from '../vyos/owned-rule.js';
import type { FirewallReportData } from './firewall-check.js';
import type { NumberRange } from '../config.js';
import { diffRule } from '../vyos/nat-rule.js';
import { catchesAnyOf, portRun, protocolTransports, ruleCatchment } from '../vyos/traffic-match.js';
import type { FieldDrift, RouterRule } from '../vyos/types.js';

export enum DriftKind {
  MISSING_ON_ROUTER = 'MISSING_ON_ROUTER',
  UNMANAGED_ON_ROUTER = 'UNMANAGED_ON_ROUTER',
  DRIFTED = 'DRIFTED',
  SHADOWED = 'SHADOWED',
}

/** One port rule of the database, as the router should hold it (from expectedRouterRule). */
export interface ExpectedRule {
  portRuleId: string;
  expected: RouterRule;
  /** a hairpin twin (VYOS_HAIRPIN): caught on the LAN interface, so never shadowed on the WAN */
  twin?: boolean;
}

/** One difference. Plain data, so it can be published to other replicas as JSON. */
export interface DriftFinding {
  kind: DriftKind;
  /** the router rule number the finding is about (for SHADOWED: the foreign rule that shadows ours) */
  ruleNumber: number;
  /** our port rule involved: the missing, drifted or shadowed one; null for UNMANAGED_ON_ROUTER */
  portRuleId: string | null;
  /** the rule as the router holds it; null for MISSING_ON_ROUTER */
  routerRule: RouterRule | null;
  /** DRIFTED: every differing field; SHADOWED: our port and protocol next to the foreign rule's */
  fields: FieldDrift[];
}

export interface SyncReportData {
  /** the router compared (absent in reports made before the fleet) */
  router?: string;
  checkedAt: Date;
  inSync: boolean;
  items: DriftFinding[];
  /** journal entries whose undo the router has not reached yet (retried by the server) */
  pendingUndos: number;
  /** since when changes are live on the router but not saved to its boot config (null: saved) */
  unsavedSince: Date | null;
  /** VYOS_FIREWALL: whether the forward filter lets the rules' traffic through; absent in reports that did not check */
  firewall?: FirewallReportData | null;
  /** VYOS_HAIRPIN: the masquerade rule (the twins are ordinary items); absent when off */
  hairpin?: { ruleNumber: number; state: OwnedStanding } | null;
}

const KIND_ORDER = [DriftKind.MISSING_ON_ROUTER, DriftKind.DRIFTED, DriftKind.UNMANAGED_ON_ROUTER, DriftKind.SHADOWED];

export const inRange = (n: number, range: NumberRange): boolean => n >= range.first && n <= range.last;

/**
 * Every difference between the database's rules and one read of the router's `nat destination`.
 * Rules outside `range` that the database does not know are the operator's: they are reported
 * only when they shadow one of ours (a lower number catching the same port and protocol, so
 * VyOS applies it first), never otherwise.
 */
export function diffDrift(expected: readonly ExpectedRule[], routerRules: readonly RouterRule[], range: NumberRange, wanInterface: string): DriftFinding[] {
  const items: DriftFinding[] = [];
  const foreign: RouterRule[] = [];
  const notOurs = (r: RouterRule): void => {
    if (inRange(r.ruleNumber, range)) items.push({ kind: DriftKind.UNMANAGED_ON_ROUTER, ruleNumber: r.ruleNumber, portRuleId: null, routerRule: r, fields: [] });
    else if (!r.disabled) foreign.push(r);
  };
  // A merge of the two lists in rule-number order (both come sorted): at 30,000 rules the two
  // hash maps this took before cost more than every comparison together (issue 16).
  const ours = inRuleOrder(expected, (e) => e.expected.ruleNumber);
  const theirs = inRuleOrder(routerRules, (r) => r.ruleNumber);
  let j = 0;
  let matched: RouterRule | undefined;
  for (const e of ours) {
    const n = e.expected.ruleNumber;
    while (j < theirs.length && theirs[j].ruleNumber < n) notOurs(theirs[j++]);
    if (j < theirs.length && theirs[j].ruleNumber === n) matched = theirs[j++];
    else if (matched?.ruleNumber !== n) matched = undefined; // two of ours on one number meet the same router rule
    if (!matched) {
      items.push({ kind: DriftKind.MISSING_ON_ROUTER, ruleNumber: n, portRuleId: e.portRuleId, routerRule: null, fields: [] });
      continue;
    }
    const fields = diffRule(e.expected, matched);
    if (fields.length > 0) items.push({ kind: DriftKind.DRIFTED, ruleNumber: matched.ruleNumber, portRuleId: e.portRuleId, routerRule: matched, fields });
  }
  while (j < theirs.length) notOurs(theirs[j++]);

  if (foreign.length > 0) {
    for (const e of expected) {
      if (e.twin) continue;
      for (const f of foreign) {
        if (f.ruleNumber < e.expected.ruleNumber && shadows(f, e.expected, wanInterface)) {
          items.push({
            kind: DriftKind.SHADOWED,
            ruleNumber: f.ruleNumber,
            portRuleId: e.portRuleId,
            routerRule: f,
            fields: [
              { field: 'externalPort', expected: e.expected.externalPort ?? null, actual: f.externalPort ?? null },
              { field: 'protocol', expected: e.expected.protocol ?? null, actual: f.protocol ?? null },
            ],
          });
        }
      }
    }
  }

  return items.sort((a, b) => a.ruleNumber - b.ruleNumber || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
}

/** `list` in ascending `key` order: itself when it already is (a copy is sorted otherwise). */
function inRuleOrder<T>(list: readonly T[], key: (x: T) => number): readonly T[] {
  for (let i = 1; i < list.length; i++) if (key(list[i - 1]) > key(list[i])) return [...list].sort((a, b) => key(a) - key(b));
  return list;
}

export function syncReport(items: DriftFinding[], checkedAt = new Date(), pendingUndos = 0, unsavedSince: Date | null = null): SyncReportData {
  return { checkedAt, inSync: items.length === 0, items, pendingUndos, unsavedSince };
}

export function countByKind(items: readonly DriftFinding[]): Record<DriftKind, number> {
  const counts = { MISSING_ON_ROUTER: 0, UNMANAGED_ON_ROUTER: 0, DRIFTED: 0, SHADOWED: 0 } as Record<DriftKind, number>;
  for (const i of items) counts[i.kind]++;
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Shadowing: does `foreign` catch the traffic `ours` is meant for?

/** Whether `foreign` matches inbound traffic to our rule's port (any port of its range) and protocol on our interface. */
export function shadows(foreign: RouterRule, ours: RouterRule, wanInterface: string): boolean {
  const run = portRun(ours.externalPort);
  if (run === null) return false;
  return catchesAnyOf(ruleCatchment(foreign, ours.inboundInterface ?? wanInterface), protocolTransports(ours.protocol), run);
}
