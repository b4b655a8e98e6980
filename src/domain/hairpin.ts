// Hairpin (NAT reflection), VYOS_HAIRPIN=on (docs/operations.md "Hairpin"). A LAN client that
// connects to the public address and port needs two more things than the WAN rule: a destination
// rule on the LAN interface that matches the public address (each port rule's twin, a NAT
// destination rule like any other of ours, so it is planned, verified, undone and drift-checked
// with it), and a source NAT masquerade rule, so the VM answers through the router and not
// straight to the client (one rule for the whole pool, owned like the firewall accept rule).
// Pure.
import type { HairpinSettings, Ipv4Range, NumberRange } from '../config.js';
import type { RuleIntent } from '../changes/change-plan.js';
import { poolAddress } from '../vyos/managed-accept.js';
import type { OwnedRule } from '../vyos/owned-rule.js';
import type { NatSyntax, RouterRule } from '../vyos/types.js';

/** Every twin's description starts so: a rule at a twin's number without it is someone else's. */
export const TWIN_PREFIX = 'hairpin: ';
export const MASQUERADE_DESCRIPTION = 'vyos-vm-api: hairpin masquerade for the VM pool';
const MAX_DESCRIPTION = 255;

export const twinNumber = (ruleNumber: number, s: HairpinSettings): number => ruleNumber + s.ruleOffset;

export function isTwinNumber(n: number, range: NumberRange, s: HairpinSettings): boolean {
  return n >= range.first + s.ruleOffset && n <= range.last + s.ruleOffset;
}

/** The twin of one of our rules: the same ports and VM, caught on the LAN interface at the public address. */
export function twinOf(rule: RouterRule, s: HairpinSettings): RouterRule {
  return {
    ruleNumber: twinNumber(rule.ruleNumber, s),
    description: `${TWIN_PREFIX}${rule.description ?? `rule ${rule.ruleNumber}`}`.slice(0, MAX_DESCRIPTION).trimEnd(),
    protocol: rule.protocol,
    externalPort: rule.externalPort,
    destinationAddress: s.publicAddress,
    inboundInterface: s.lanInterface,
    translationAddress: rule.translationAddress,
    internalPort: rule.internalPort,
    disabled: rule.disabled,
  };
}

/** A port rule's own `hairpin` (null: the server's VYOS_HAIRPIN_DEFAULT); false when hairpin is off. */
export function hairpinOf(own: boolean | null | undefined, s: HairpinSettings | null): boolean {
  return s !== null && (own ?? s.byDefault);
}

/**
 * The intents with each rule's twin beside it (twins of twins are not made): the twin of a rule in
 * `hairpinned` (its number, as the database now holds it), no twin (deleted if there) otherwise.
 */
export function withTwins(intents: readonly RuleIntent[], range: NumberRange, s: HairpinSettings, hairpinned: ReadonlySet<number>): RuleIntent[] {
  const out: RuleIntent[] = [];
  for (const i of intents) {
    out.push(i);
    if (i.ruleNumber < range.first || i.ruleNumber > range.last) continue;
    out.push({ ruleNumber: twinNumber(i.ruleNumber, s), desired: i.desired && hairpinned.has(i.ruleNumber) ? twinOf(i.desired, s) : null });
  }
  return out;
}

/** Whether a rule at a twin's number is ours to write over (a twin we wrote before). */
export const isOurTwin = (rule: RouterRule): boolean => rule.description?.startsWith(TWIN_PREFIX) ?? false;

/**
 * The masquerade rule: connections from the LAN to a VM of the pool, leaving by the LAN interface,
 * take the router's address (vyos-1x nat.py source rules, `translation address masquerade`).
 */
export function masqueradeRule(s: HairpinSettings, pool: Ipv4Range, syntax: NatSyntax): OwnedRule {
  return {
    path: ['nat', 'source', 'rule', String(s.snatRule)],
    leaves: [
      syntax === '1.3' ? ['outbound-interface', s.lanInterface] : ['outbound-interface', 'name', s.lanInterface],
      ['source', 'address', s.lanSubnet],
      ['destination', 'address', poolAddress(pool.first, pool.last)],
      ['translation', 'address', 'masquerade'],
    ],
    description: MASQUERADE_DESCRIPTION,
  };
}
