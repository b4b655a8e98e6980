// vmapi drift report | reconcile.
import { choiceOption, type Command } from './command.js';
import { ReconcileDocument, SyncReportDocument, type ReconcileMode } from './generated/graphql.js';
import { commandList, fields, json, reportText } from './output.js';

const MODES: readonly ReconcileMode[] = ['MERGED', 'REPLACED', 'OVERRIDDEN'];

const report: Command = {
  group: 'drift',
  name: 'report',
  args: '',
  summary: 'compare the database with the router (syncReport); exits 0 whether in sync or not',
  options: {},
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const { syncReport } = await ctx.client.request(SyncReportDocument, {}, { router: 'syncReport' });
    ctx.print(ctx.output === 'json' ? json(syncReport) : reportText(syncReport));
  },
};

const reconcile: Command = {
  group: 'drift',
  name: 'reconcile',
  args: '',
  summary: 'repair drift inside NAT_RULE_RANGE in one router commit (ADMIN key)',
  optionHelp: ['--mode merged|replaced|overridden   default replaced (see docs/cli.md)', '--dry-run              print the commands and change nothing'],
  options: { mode: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  positionals: { min: 0, max: 0 },
  async run(ctx, values) {
    const mode = choiceOption(values, 'mode', MODES) ?? 'REPLACED';
    const dryRun = values['dry-run'] === true;
    const { reconcile: r } = await ctx.client.request(ReconcileDocument, { mode, dryRun }, { router: dryRun ? 'reconcile --dry-run' : 'reconcile' });
    if (ctx.output === 'json') return ctx.print(json(r));
    const head = fields([
      ['mode', r.mode],
      ['dry run', r.dryRun ? 'yes' : 'no'],
      ['applied', r.applied ? 'yes' : 'no'],
    ]);
    ctx.print(`${head}${r.dryRun ? 'would send' : 'sent'}:\n${commandList(r.commands)}\n${reportText(r.report)}`);
  },
};

export const driftCommands: Command[] = [report, reconcile];
