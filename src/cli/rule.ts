// vmapi rule add | rm | enable.
import { choiceOption, intOption, type Command, type Values } from './command.js';
import { AddPortRuleDocument, RemovePortRuleDocument, SetPortRuleEnabledDocument, type Protocol } from './generated/graphql.js';
import { json, ruleTable } from './output.js';
import { resolveVm } from './vm.js';

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'TCP_UDP'];

/** `--hairpin on|off`: the rule's own choice; absent leaves it to the server's default. */
function hairpinOption(values: Values): boolean | undefined {
  const choice = choiceOption(values, 'hairpin', ['ON', 'OFF'] as const);
  return choice === undefined ? undefined : choice === 'ON';
}

const add: Command = {
  group: 'rule',
  name: 'add',
  args: '<vm id|name>',
  summary: 'add a port rule to a VM (one router commit)',
  optionHelp: [
    '--internal-port N      port on the VM (default: the external port)',
    '--external-port N      port on the WAN side, a range\'s first (default: allocated)',
    '--count N              forward N consecutive ports to the same numbers on the VM (default 1)',
    '--protocol tcp|udp|tcp_udp   default tcp',
    '--source CIDR          address or network allowed to connect (default: anyone)',
    '--description TEXT     shown on the router',
    '--disabled             create it disabled',
    '--hairpin on|off       answer from inside the LAN too (VYOS_HAIRPIN; default: the server\'s VYOS_HAIRPIN_DEFAULT)',
  ],
  options: {
    'internal-port': { type: 'string' },
    'external-port': { type: 'string' },
    count: { type: 'string' },
    protocol: { type: 'string' },
    source: { type: 'string' },
    description: { type: 'string' },
    disabled: { type: 'boolean' },
    hairpin: { type: 'string' },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx, values, [vmRef]) {
    const input = {
      internalPort: intOption(values, 'internal-port', 1, 65535),
      externalPort: intOption(values, 'external-port', 1, 65535),
      portCount: intOption(values, 'count', 1, 65535),
      protocol: choiceOption(values, 'protocol', PROTOCOLS),
      sourceAddress: values.source as string | undefined,
      description: values.description as string | undefined,
      enabled: values.disabled ? false : undefined,
      hairpin: hairpinOption(values),
    };
    const vm = await resolveVm(ctx, vmRef);
    const { addPortRule: rule } = await ctx.client.request(AddPortRuleDocument, { vmId: vm.id, input }, { router: 'addPortRule' });
    ctx.print(ctx.output === 'json' ? json(rule) : `added to ${rule.vm.name} (${rule.vm.internalIp}):\n${ruleTable([rule])}`);
  },
};

const rm: Command = {
  group: 'rule',
  name: 'rm',
  args: '<rule id>',
  summary: 'delete a port rule from the router and the database',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(ctx, _values, [id]) {
    const { removePortRule } = await ctx.client.request(RemovePortRuleDocument, { id }, { router: 'removePortRule' });
    ctx.print(ctx.output === 'json' ? json({ id: removePortRule }) : `removed ${removePortRule}\n`);
  },
};

const enable: Command = {
  group: 'rule',
  name: 'enable',
  args: '<rule id>',
  summary: 'enable a port rule (--disable: disable it; it stays on the router with `disable`)',
  optionHelp: ['--disable              disable instead'],
  options: { disable: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(ctx, values, [id]) {
    const { setPortRuleEnabled: rule } = await ctx.client.request(SetPortRuleEnabledDocument, { id, enabled: !values.disable }, { router: 'setPortRuleEnabled' });
    ctx.print(ctx.output === 'json' ? json(rule) : ruleTable([rule]));
  },
};

export const ruleCommands: Command[] = [add, rm, enable];
