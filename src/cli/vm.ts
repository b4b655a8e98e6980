// vmapi vm list | get | rm (and apply, in vm-apply.ts).
import type { Command, Context } from './command.js';
import { CliError, EXIT } from './exit-codes.js';
import { DecommissionVmDocument, VmByIdDocument, VmPageDocument, type VmFieldsFragment } from './generated/graphql.js';
import { fields, json, ruleTable, table } from './output.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A page with every rule stays under MAX_QUERY_COMPLEXITY (200 VMs with their rules would not).
const PAGE = 100;

/** Every VM, page by page (the server's largest page is 200). */
export async function allVms(ctx: Context): Promise<VmFieldsFragment[]> {
  const vms: VmFieldsFragment[] = [];
  let after: string | null | undefined;
  for (;;) {
    const { vms: page } = await ctx.client.request(VmPageDocument, { first: PAGE, after });
    vms.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return vms;
    after = page.pageInfo.endCursor;
  }
}

/**
 * A VM by id, or by name. The schema has no lookup by name yet, so a name is found by paging
 * `vms`; an unknown one is NOT_FOUND like an unknown id.
 */
export async function resolveVm(ctx: Context, idOrName: string): Promise<VmFieldsFragment> {
  if (UUID.test(idOrName)) {
    const { vm } = await ctx.client.request(VmByIdDocument, { id: idOrName });
    if (vm) return vm;
  } else {
    const vm = (await allVms(ctx)).find((v) => v.name === idOrName);
    if (vm) return vm;
  }
  throw new CliError(`NOT_FOUND: no VM with ${UUID.test(idOrName) ? 'id' : 'name'} ${idOrName}`, EXIT.NOT_FOUND, 'NOT_FOUND');
}

export function vmText(vm: VmFieldsFragment): string {
  return (
    fields([
      ['name', vm.name],
      ['id', vm.id],
      ['router', vm.router],
      ['internal ip', vm.internalIp],
      ['mac', vm.macAddress ?? '-'],
      ['updated', vm.updatedAt],
    ]) +
    '\n' +
    ruleTable(vm.portRules)
  );
}

const list: Command = {
  group: 'vm',
  name: 'list',
  args: '',
  summary: 'every VM with its rule count (json: every VM with its rules)',
  options: {},
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const vms = await allVms(ctx);
    if (ctx.output === 'json') return ctx.print(json(vms));
    ctx.print(table(['ID', 'NAME', 'INTERNAL IP', 'MAC', 'RULES'], vms.map((v) => [v.id, v.name, v.internalIp, v.macAddress ?? '-', String(v.portRules.length)])));
  },
};

const get: Command = {
  group: 'vm',
  name: 'get',
  args: '<id|name>',
  summary: 'one VM and its port rules',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(ctx, _values, [idOrName]) {
    const vm = await resolveVm(ctx, idOrName);
    ctx.print(ctx.output === 'json' ? json(vm) : vmText(vm));
  },
};

const rm: Command = {
  group: 'vm',
  name: 'rm',
  args: '<id|name>',
  summary: 'decommission a VM: its rules leave the router in one commit',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(ctx, _values, [idOrName]) {
    // An id goes to the server as it is, so an unknown one is the server's own NOT_FOUND.
    const id = UUID.test(idOrName) ? idOrName : (await resolveVm(ctx, idOrName)).id;
    const { decommissionVm } = await ctx.client.request(DecommissionVmDocument, { id }, { router: 'decommissionVm' });
    ctx.print(ctx.output === 'json' ? json({ id: decommissionVm }) : `decommissioned ${decommissionVm}\n`);
  },
};

export const vmCommands: Command[] = [list, get, rm];
