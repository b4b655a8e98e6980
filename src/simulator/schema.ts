// The part of the VyOS configuration schema the simulator knows (vyos-api.md §5, §7), per version.
// A path outside it is "not valid", as on the router, so a client cannot rely on nodes VyOS lacks.

import * as v from './value-validators';
import type { ValueCheck } from './value-validators';

export type SimVersion = '1.3' | '1.4' | 'rolling';

export type SchemaNode =
  /** a typeless container such as `nat destination` */
  | { kind: 'node'; children: Record<string, SchemaNode> }
  /** a tag node such as `rule`: each value is an entry holding `children` */
  | { kind: 'tag'; check?: ValueCheck; children: Record<string, SchemaNode> }
  | { kind: 'leaf'; multi?: boolean; check?: ValueCheck }
  /** valueless leaves: `disable`, `log`, `exclude`, `strict` */
  | { kind: 'valueless' };

/** What a path element is, as stored in the tree (a tag value's entry is a 'node'). */
export type NodeKind = 'node' | 'tag' | 'leaf' | 'valueless';

const node = (children: Record<string, SchemaNode>): SchemaNode => ({ kind: 'node', children });
const tag = (check: ValueCheck | undefined, children: Record<string, SchemaNode>): SchemaNode => ({ kind: 'tag', check, children });
const leaf = (check?: ValueCheck, multi = false): SchemaNode => ({ kind: 'leaf', check, multi });
const valueless: SchemaNode = { kind: 'valueless' };

function natRule(version: SimVersion, direction: 'destination' | 'source'): SchemaNode {
  const modern = version !== '1.3';
  const port = modern ? v.portMulti : undefined;
  const match = (): SchemaNode => node({ address: leaf(v.natMatchAddress), port: leaf(port) });
  // 1.3 has a plain interface leaf; 1.4 turned it into `name`/`group` (migrations nat/5-to-6, 6-to-7).
  const iface = (): SchemaNode => (modern ? node({ name: leaf(v.interfaceName), group: leaf() }) : leaf());
  return tag(v.natRuleNumber, {
    description: leaf(modern ? v.description255 : undefined),
    protocol: leaf(v.ipProtocol),
    destination: match(),
    source: match(),
    [direction === 'destination' ? 'inbound-interface' : 'outbound-interface']: iface(),
    // Source rules also take `masquerade` (the router's address on the outbound interface).
    translation: node({ address: leaf(direction === 'source' ? v.natSourceTranslationAddress : v.natTranslationAddress), port: leaf(modern ? v.portRange : undefined) }),
    disable: valueless,
    log: valueless,
    exclude: valueless,
  });
}

/**
 * `firewall ipv4` of 1.4 and rolling (interface-definitions/firewall.xml.in and its includes
 * include/firewall/*.xml.i): the base chains' `filter` and the named chains, with the rule nodes
 * a forward filter uses. 1.3 has another model (`firewall name X` bound to interfaces) and no
 * `firewall ipv4` at all, so there the path is not valid.
 */
function firewallIpv4(): SchemaNode {
  const match = (): SchemaNode =>
    node({ address: leaf(v.firewallAddress), port: leaf(v.portMulti), group: node({ 'address-group': leaf(), 'network-group': leaf(), 'port-group': leaf() }) });
  const iface = (): SchemaNode => node({ name: leaf(v.interfaceName), group: leaf() });
  const rule = (actions: readonly string[]): SchemaNode =>
    tag(v.firewallRuleNumber, {
      action: leaf(v.oneOf(...actions)),
      description: leaf(v.description255),
      destination: match(),
      source: match(),
      protocol: leaf(v.ipProtocol),
      state: leaf(v.oneOf('established', 'invalid', 'new', 'related'), true),
      'connection-status': node({ nat: leaf(v.oneOf('destination', 'source')) }),
      'inbound-interface': iface(),
      'outbound-interface': iface(),
      'jump-target': leaf(),
      'offload-target': leaf(),
      disable: valueless,
      log: valueless,
    });
  // include/firewall/action-forward.xml.i; a base chain's default-action is drop|accept (default accept),
  // a named chain's drop|jump|reject|return|accept|continue (default drop): default-action*.xml.i.
  const ruleActions = ['accept', 'continue', 'jump', 'reject', 'return', 'drop', 'queue', 'offload', 'synproxy'];
  const base = node({ filter: node({ 'default-action': leaf(v.oneOf('drop', 'accept')), 'default-log': valueless, description: leaf(v.description255), rule: rule(ruleActions) }) });
  return node({
    forward: base,
    input: base,
    output: base,
    name: tag(v.firewallChainName, {
      'default-action': leaf(v.oneOf('drop', 'jump', 'reject', 'return', 'accept', 'continue')),
      'default-jump-target': leaf(),
      'default-log': valueless,
      description: leaf(v.description255),
      rule: rule(ruleActions),
    }),
  });
}

/**
 * 1.3's firewall (vyos/vyatta-cfg-firewall, equuleus, templates/firewall/name/...): named rulesets
 * of iptables rules, bound to interfaces with `interfaces ethernet <if> firewall in|out|local name X`.
 */
function firewall13(): SchemaNode {
  const match = (): SchemaNode => node({ address: leaf(v.firewallAddress), port: leaf() });
  const toggle = () => leaf(v.oneOfWith('state value must be enable or disable', 'enable', 'disable'));
  return node({
    name: tag(v.firewallChainName13, {
      'default-action': leaf(v.oneOfWith('default-action must be drop, reject or accept', 'drop', 'reject', 'accept')),
      description: leaf(),
      'enable-default-log': valueless,
      rule: tag(v.firewallRuleNumber13, {
        action: leaf(v.oneOfWith('action must be one of drop, reject or accept', 'drop', 'reject', 'accept')),
        description: leaf(),
        destination: match(),
        source: match(),
        protocol: leaf(v.ipProtocol),
        state: node({ established: toggle(), invalid: toggle(), new: toggle(), related: toggle() }),
        disable: valueless,
        log: leaf(v.oneOf('enable', 'disable')),
      }),
    }),
  });
}

function build(version: SimVersion): SchemaNode {
  const configManagement: Record<string, SchemaNode> = { 'commit-revisions': leaf(v.commitRevisions) };
  // The commit-confirm action node exists only in rolling (T5976, Oct 2024).
  if (version === 'rolling') configManagement['commit-confirm'] = node({ action: leaf(v.oneOf('reload', 'reboot')) });
  const keys = node({ id: tag(undefined, { key: leaf() }) });
  // Rolling moved `strict` under `api rest`, whose presence enables the REST routes (T6736).
  const api: Record<string, SchemaNode> =
    version === 'rolling' ? { keys, rest: node({ strict: valueless }) } : { keys, strict: valueless };
  return node({
    firewall: version === '1.3' ? firewall13() : node({ ipv4: firewallIpv4() }),
    nat: node({
      destination: node({ rule: natRule(version, 'destination') }),
      source: node({ rule: natRule(version, 'source') }),
    }),
    system: node({ 'host-name': leaf(v.hostName), 'config-management': node(configManagement) }),
    service: node({ https: node({ api: node(api) }) }),
    interfaces: node({
      ethernet: tag(v.ethernetName, {
        address: leaf(v.interfaceAddress, true),
        description: leaf(version === '1.3' ? undefined : v.description255),
        // 1.3 binds rulesets here (gen-interface-templates.pl); 1.4 moved that into firewall ipv4 (migration firewall/10-to-11).
        ...(version === '1.3' ? { firewall: node({ in: node({ name: leaf() }), out: node({ name: leaf() }), local: node({ name: leaf() }) }) } : {}),
      }),
    }),
  });
}

const cache = new Map<SimVersion, SchemaNode>();

export function schemaFor(version: SimVersion): SchemaNode {
  let schema = cache.get(version);
  if (!schema) cache.set(version, (schema = build(version)));
  return schema;
}

/** A path read against the schema: which stored nodes it names, and the value it carries, if any. */
export interface ResolvedPath {
  /** the stored node path: element names and tag values, without a trailing leaf value */
  nodePath: string[];
  /** the kind of each element of nodePath */
  kinds: NodeKind[];
  /** the schema of the last element (the root for an empty path) */
  schema: SchemaNode;
  /** where the path ends: a container (incl. a tag value's entry), a tag node name, a leaf, a valueless leaf */
  at: 'node' | 'tag' | 'leaf' | 'valueless';
  /** a leaf's value given as the last element */
  value?: string;
  /** tag values met on the way, with their checks, for set-time validation */
  tagValues: { value: string; check?: ValueCheck }[];
}

/** Reads `path` against the schema; null when the path is not valid (an unknown node, or a value where none fits). */
export function resolvePath(root: SchemaNode, path: string[]): ResolvedPath | null {
  if (root.kind !== 'node') throw new Error('schema root must be a node');
  const nodePath: string[] = [];
  const kinds: NodeKind[] = [];
  const tagValues: ResolvedPath['tagValues'] = [];
  let children = root.children;
  let current: SchemaNode = root;
  for (let i = 0; i < path.length; i++) {
    const name = path[i];
    const s = Object.prototype.hasOwnProperty.call(children, name) ? children[name] : undefined;
    if (!s) return null;
    nodePath.push(name);
    kinds.push(s.kind);
    current = s;
    const rest = path.length - i - 1;
    switch (s.kind) {
      case 'node':
        children = s.children;
        break;
      case 'tag':
        if (rest === 0) return { nodePath, kinds, schema: s, at: 'tag', tagValues };
        i++;
        nodePath.push(path[i]);
        kinds.push('node');
        tagValues.push({ value: path[i], check: s.check });
        children = s.children;
        break;
      case 'valueless':
        return rest === 0 ? { nodePath, kinds, schema: s, at: 'valueless', tagValues } : null;
      case 'leaf':
        if (rest === 0) return { nodePath, kinds, schema: s, at: 'leaf', tagValues };
        return rest === 1 ? { nodePath, kinds, schema: s, at: 'leaf', value: path[i + 1], tagValues } : null;
    }
  }
  return { nodePath, kinds, schema: current, at: 'node', tagValues };
}
