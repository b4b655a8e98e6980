#!/usr/bin/env node
// vmapi: the command-line client (docs/cli.md). It talks GraphQL to the server like any client,
// with the typed documents of generated/graphql.ts; the exit status says how a call ended.
import { parseArgs } from 'node:util';
import { apiKey, GLOBAL_HELP, GLOBAL_OPTIONS, outputMode, serverUrl, type Command, type Context, type Values } from './command.js';
import { GraphQLClient } from './client.js';
import { driftCommands } from './drift.js';
import { eventCommands } from './events.js';
import { CliError, EXIT, usageError } from './exit-codes.js';
import { ruleCommands } from './rule.js';
import { vmApplyCommands } from './vm-apply.js';
import { vmCommands } from './vm.js';

export const COMMANDS: readonly Command[] = [...vmCommands, ...vmApplyCommands, ...ruleCommands, ...driftCommands, ...eventCommands];

/** Global options that take a value: their value is not a command word. */
const VALUE_OPTIONS = new Set(Object.entries(GLOBAL_OPTIONS).flatMap(([name, o]) => (o.type === 'string' ? [`--${name}`, ...(o.short ? [`-${o.short}`] : [])] : [])));

/** The command words (group, and name unless the group has a single nameless command) and the rest. */
function splitCommand(argv: readonly string[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const wanted = words.length === 0 || (words.length === 1 && COMMANDS.some((c) => c.group === words[0] && c.name !== ''));
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('-')) {
      rest.push(a);
      if (VALUE_OPTIONS.has(a) && i + 1 < argv.length) rest.push(argv[++i]);
    } else if (wanted) words.push(a);
    else rest.push(a);
  }
  return { words, rest };
}

const usageOf = (c: Command) => `vmapi ${[c.group, c.name, c.args].filter(Boolean).join(' ')}`;

export function helpText(command?: Command): string {
  if (command) {
    return [`usage: ${usageOf(command)} [options]`, '', command.summary, '', ...(command.optionHelp?.length ? ['options:', ...command.optionHelp.map((l) => `  ${l}`), ''] : []), 'global options:', ...GLOBAL_HELP.map((l) => `  ${l}`), ''].join('\n');
  }
  const width = Math.max(...COMMANDS.map((c) => usageOf(c).length));
  return [
    'usage: vmapi <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${usageOf(c).padEnd(width)}  ${c.summary}`),
    '',
    'global options:',
    ...GLOBAL_HELP.map((l) => `  ${l}`),
    '',
    '`vmapi <command> --help` shows a command\'s options; docs/cli.md has the exit statuses.',
    '',
  ].join('\n');
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { words, rest } = splitCommand(argv);
  const command = COMMANDS.find((c) => c.group === words[0] && c.name === (words[1] ?? ''));
  if (!command) {
    if (words.length === 0 && (rest.includes('--help') || rest.includes('-h'))) {
      process.stdout.write(helpText());
      return EXIT.OK;
    }
    throw usageError(words.length ? `unknown command: vmapi ${words.join(' ')}\n\n${helpText()}` : helpText());
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...rest], options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] });
  } catch (e) {
    throw usageError(`${(e as Error).message}\n\n${helpText(command)}`);
  }
  if (values.help) {
    process.stdout.write(helpText(command));
    return EXIT.OK;
  }
  if (positionals.length < command.positionals.min || positionals.length > command.positionals.max) {
    throw usageError(`usage: ${usageOf(command)}`);
  }
  const quiet = values.quiet === true;
  const progressAfterMs = Number(env.VMAPI_PROGRESS_AFTER_MS ?? 1000);
  const ctx: Context = {
    client: new GraphQLClient({
      url: serverUrl(values, env),
      key: apiKey(values, env),
      progress: quiet ? null : process.stderr,
      progressAfterMs: Number.isFinite(progressAfterMs) ? progressAfterMs : 1000,
    }),
    output: outputMode(values, process.stdout.isTTY === true),
    print: (text) => process.stdout.write(text),
    note: (text) => quiet || process.stderr.write(text),
  };
  await command.run(ctx, values, positionals);
  return EXIT.OK;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status;
    },
    (e: unknown) => {
      if (e instanceof CliError) {
        process.stderr.write(`vmapi: ${e.message}\n`);
        process.exitCode = e.status;
      } else {
        process.stderr.write(`vmapi: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exitCode = EXIT.ERROR;
      }
    },
  );
}
