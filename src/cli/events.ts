// vmapi events [--follow]: the recorded rollback events, or (--follow) the rollbackEvents and
// driftDetected subscriptions over graphql-ws, one event per line until stopped.
import { choiceOption, intOption, type Command, type Context } from './command.js';
import { socketError } from './client.js';
import {
  DriftDetectedDocument,
  RollbackEventPageDocument,
  RollbackEventsDocument,
  type ReportFieldsFragment,
  type RollbackFieldsFragment,
} from './generated/graphql.js';
import { json, table } from './output.js';
import { print } from 'graphql';

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim(); // router messages span lines

export function rollbackLine(e: RollbackFieldsFragment): string {
  return `${e.at}  rollback  ${e.operation} failed at ${e.stage} -> ${e.outcome}: ${oneLine(e.reason)} (${e.commands.length} command(s))\n`;
}

export function driftLine(r: ReportFieldsFragment): string {
  const items = r.items.map((i) => `${i.ruleNumber} ${i.kind}`).join(', ');
  return `${r.checkedAt}  drift     ${r.items.length} item(s)${items ? `: ${items}` : ''}${r.pendingUndos ? `; ${r.pendingUndos} pending undo(s)` : ''}\n`;
}

type Kind = 'ROLLBACK' | 'DRIFT' | 'ALL';

/** Prints each event as it comes; resolves after `count` events (or never), rejects on failure. */
function follow(ctx: Context, kind: Kind, count: number | undefined): Promise<void> {
  const kinds = kind === 'ALL' ? ['rollback', 'drift'] : [kind.toLowerCase()];
  const client = ctx.client.socket({ connected: () => ctx.note(`vmapi: listening for ${kinds.join(' and ')} events (Ctrl-C to stop)\n`) });
  return new Promise<void>((resolve, reject) => {
    let seen = 0;
    const unsubscribe: (() => void)[] = [];
    const finish = (e?: unknown) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      for (const u of unsubscribe) u();
      void client.dispose();
      if (e === undefined) resolve();
      else reject(socketError(e, ctx.client.options.url));
    };
    const seenOne = () => {
      if (count !== undefined && ++seen >= count) finish();
    };
    const stop = () => finish();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const sink = <T>(render: (data: T) => void) => ({
      next: (result: { data?: T | null; errors?: readonly unknown[] }) => {
        if (result.errors?.length) return finish(result.errors);
        if (result.data) render(result.data);
        seenOne();
      },
      error: (e: unknown) => finish(e),
      // The server ends a subscription only when it shuts down.
      complete: () => finish(),
    });
    if (kinds.includes('rollback')) {
      unsubscribe.push(
        client.subscribe<{ rollbackEvents: RollbackFieldsFragment }>(
          { query: print(RollbackEventsDocument) },
          sink(({ rollbackEvents: e }) => ctx.print(ctx.output === 'json' ? `${JSON.stringify({ subscription: 'rollbackEvents', event: e })}\n` : rollbackLine(e))),
        ),
      );
    }
    if (kinds.includes('drift')) {
      unsubscribe.push(
        client.subscribe<{ driftDetected: ReportFieldsFragment }>(
          { query: print(DriftDetectedDocument) },
          sink(({ driftDetected: r }) => ctx.print(ctx.output === 'json' ? `${JSON.stringify({ subscription: 'driftDetected', event: r })}\n` : driftLine(r))),
        ),
      );
    }
  });
}

const events: Command = {
  group: 'events',
  name: '',
  args: '',
  summary: 'the latest rollback events; --follow: rollback and drift events as they happen',
  optionHelp: [
    '--follow, -f           subscribe and print each event as it happens (json: one object a line)',
    '--type rollback|drift|all   with --follow: which subscriptions (default all)',
    '--count N              with --follow: exit 0 after N events',
    '--first N              without --follow: how many recorded events (default 20, at most 200)',
  ],
  options: { follow: { type: 'boolean', short: 'f' }, type: { type: 'string' }, count: { type: 'string' }, first: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(ctx, values) {
    if (values.follow) return follow(ctx, choiceOption<Kind>(values, 'type', ['ROLLBACK', 'DRIFT', 'ALL']) ?? 'ALL', intOption(values, 'count', 1, 1_000_000));
    const { rollbackEvents } = await ctx.client.request(RollbackEventPageDocument, { first: intOption(values, 'first', 1, 200) ?? 20 });
    const list = rollbackEvents.edges.map((e) => e.node);
    if (ctx.output === 'json') return ctx.print(json(list));
    ctx.print(table(['AT', 'OPERATION', 'STAGE', 'OUTCOME', 'REASON'], list.map((e) => [e.at, e.operation, e.stage, e.outcome, oneLine(e.reason)])));
  },
};

export const eventCommands: Command[] = [events];
