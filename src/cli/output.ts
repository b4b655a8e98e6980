// What vmapi prints: JSON (the GraphQL result, for scripts) or aligned text tables (for people).
// Pure functions: the commands pick the data, these only render it.
import type { CommandFieldsFragment, ReportFieldsFragment, RuleFieldsFragment } from './generated/graphql.js';

export type OutputMode = 'json' | 'table';

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** `key: value` lines, keys aligned. */
export function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join('\n') + '\n';
}

const dash = (v: string | number | null | undefined) => (v === null || v === undefined || v === '' ? '-' : String(v));

/** `8080`, or `30000-30099` for a range. */
const ports = (first: number, count: number) => (count === 1 ? String(first) : `${first}-${first + count - 1}`);

export function ruleTable(rules: readonly RuleFieldsFragment[]): string {
  if (!rules.length) return '(no port rules)\n';
  return table(
    ['ID', 'NAME', 'RULE', 'PROTOCOL', 'EXTERNAL', 'INTERNAL', 'SOURCE', 'ENABLED', 'DESCRIPTION'],
    rules.map((r) => [r.id, dash(r.name), String(r.ruleNumber), r.protocol, ports(r.externalPort, r.portCount), ports(r.internalPort, r.portCount), dash(r.sourceAddress), r.enabled ? 'yes' : 'no' + (r.needsRepair ? ' (needs repair)' : ''), dash(r.description)]),
  );
}

/** A router command as one would type it in the VyOS CLI (values with spaces quoted). */
export function commandLine(c: CommandFieldsFragment): string {
  return [c.op, ...c.path.map((p) => (/^[\w./:@-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`))].join(' ');
}

export function commandList(commands: readonly CommandFieldsFragment[]): string {
  return commands.length ? commands.map((c) => `  ${commandLine(c)}\n`).join('') : '  (none)\n';
}

export function reportText(report: ReportFieldsFragment): string {
  const head = fields([
    ['checked at', report.checkedAt],
    ['in sync', report.inSync ? 'yes' : 'no'],
    ...(report.pendingUndos ? [['pending undos', String(report.pendingUndos)] as const] : []),
    ...(report.unsavedSince ? [['unsaved since', report.unsavedSince] as const] : []),
  ]);
  if (!report.items.length) return head;
  const rows = report.items.map((i) => {
    const vm = i.portRule?.vm.name;
    const detail = i.fields.length
      ? i.fields.map((f) => `${f.field}: ${dash(f.expected)} -> ${dash(f.actual)}`).join(', ')
      : i.routerRule
        ? `${dash(i.routerRule.protocol)} ${dash(i.routerRule.externalPort)} -> ${dash(i.routerRule.translationAddress)}:${dash(i.routerRule.internalPort)}`
        : '';
    return [String(i.ruleNumber), i.kind, dash(vm), detail];
  });
  return head + '\n' + table(['RULE', 'KIND', 'VM', 'DETAIL'], rows);
}
