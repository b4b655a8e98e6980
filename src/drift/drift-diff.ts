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
  const onRouter = new Map(routerRules.map((r) => [r.ruleNumber, r]));
  const ours = new Map(expected.map((e) => [e.expected.ruleNumber, e]));
  const items: DriftFinding[] = [];

  for (const e of expected) {
    const actual = onRouter.get(e.expected.ruleNumber);
    if (!actual) {
      items.push({ kind: DriftKind.MISSING_ON_ROUTER, ruleNumber: e.expected.ruleNumber, portRuleId: e.portRuleId, routerRule: null, fields: [] });
      continue;
    }
    const fields = diffRule(e.expected, actual);
    if (fields.length > 0) items.push({ kind: DriftKind.DRIFTED, ruleNumber: actual.ruleNumber, portRuleId: e.portRuleId, routerRule: actual, fields });
  }

  const foreign: RouterRule[] = [];
  for (const r of routerRules) {
    if (ours.has(r.ruleNumber)) continue;
    if (inRange(r.ruleNumber, range)) {
      items.push({ kind: DriftKind.UNMANAGED_ON_ROUTER, ruleNumber: r.ruleNumber, portRuleId: null, routerRule: r, fields: [] });
    } else if (!r.disabled) {
      foreign.push(r);
    }
  }

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
