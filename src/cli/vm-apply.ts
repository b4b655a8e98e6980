// vmapi vm apply -f vm.yaml: a VM's complete desired state from a YAML (or JSON) file, sent as
// one applyVm (created if its name is new, converged otherwise; rules matched by name).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Command } from './command.js';
import { usageError } from './exit-codes.js';
import { ApplyVmDocument, type ApplyVmInput } from './generated/graphql.js';
import { commandList, fields, json, table } from './output.js';
import { vmText } from './vm.js';

const VM_KEYS = new Set(['name', 'router', 'internalIp', 'macAddress', 'portRules']);
const RULE_KEYS = new Set(['name', 'internalPort', 'externalPort', 'portCount', 'hairpin', 'protocol', 'sourceAddress', 'description', 'enabled']);

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The file's document as ApplyVmInput. Only the shape is checked here (unknown keys are typos
 * worth refusing before anything is sent); values are the server's to validate. `portRules`
 * must be given, even empty: it is the complete list, and a forgotten one would remove every rule.
 */
export function applyInputFromYaml(text: string, source: string): ApplyVmInput {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw usageError(`${source}: not valid YAML: ${(e as Error).message}`);
  }
  if (!isMapping(doc)) throw usageError(`${source}: expected a mapping with name and portRules`);
  const unknown = Object.keys(doc).filter((k) => !VM_KEYS.has(k));
  if (unknown.length) throw usageError(`${source}: unknown key(s) ${unknown.join(', ')} (allowed: ${[...VM_KEYS].join(', ')})`);
  if (typeof doc.name !== 'string') throw usageError(`${source}: name is required`);
  if (!Array.isArray(doc.portRules)) throw usageError(`${source}: portRules is required, the complete list of the VM's rules (\`portRules: []\` for none)`);
  const portRules = doc.portRules.map((r: unknown, i: number) => {
    if (!isMapping(r)) throw usageError(`${source}: portRules[${i}] is not a mapping`);
    const bad = Object.keys(r).filter((k) => !RULE_KEYS.has(k));
    if (bad.length) throw usageError(`${source}: portRules[${i}]: unknown key(s) ${bad.join(', ')} (allowed: ${[...RULE_KEYS].join(', ')})`);
    // tcp, udp, tcp_udp as in the VyOS CLI, or the GraphQL enum values.
    return typeof r.protocol === 'string' ? { ...r, protocol: r.protocol.toUpperCase() } : r;
  });
  return { ...doc, portRules } as ApplyVmInput;
}

const apply: Command = {
  group: 'vm',
  name: 'apply',
  args: '-f <file>',
  summary: "converge a VM to a YAML file's desired state (applyVm: one router commit, none when nothing differs)",
  optionHelp: [
    '-f, --file PATH        the desired state (YAML or JSON; - for stdin); see docs/cli.md',
    '--dry-run              print what would change and the router commands, change nothing',
    '--idempotency-key K    a retry with the same key and file returns the first result',
  ],
  options: { file: { type: 'string', short: 'f' }, 'dry-run': { type: 'boolean' }, 'idempotency-key': { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(ctx, values) {
    const file = values.file;
    if (typeof file !== 'string') throw usageError('vm apply needs -f <file>');
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (e) {
      throw usageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const input = applyInputFromYaml(text, file);
    const dryRun = values['dry-run'] === true;
    const idempotencyKey = values['idempotency-key'] as string | undefined;
    const { applyVm: r } = await ctx.client.request(ApplyVmDocument, { input, idempotencyKey, dryRun }, { router: dryRun ? 'applyVm --dry-run' : 'applyVm' });
    if (ctx.output === 'json') return ctx.print(json(r));
    const head = fields([
      ['vm', input.name],
      ['created', r.created ? 'yes' : 'no'],
      ['changed', r.changed ? 'yes' : 'no'],
      ['dry run', r.dryRun ? 'yes' : 'no'],
    ]);
    const rules = table(['NAME', 'CHANGE', 'RULE', 'EXTERNAL'], r.rules.map((c) => [c.name, c.change, String(c.ruleNumber), String(c.externalPort)]));
    ctx.print(`${head}\n${rules}\n${r.dryRun ? 'would send' : 'sent'}:\n${commandList(r.commands)}${r.vm && !r.dryRun ? `\n${vmText(r.vm)}` : ''}`);
  },
};

export const vmApplyCommands: Command[] = [apply];
