// docs/operations.md's protocol table, rendered from the stage table so the two cannot drift
// apart (test/unit/stage-doc.test.ts compares them; `npm run docs` rewrites the section).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../database/orm.js';
import { REVERT_STEPS, STAGES } from './transaction.js';

export const OPERATIONS_DOC = path.join(projectRoot, 'docs', 'operations.md');
const START = '<!-- stage-table: generated from src/changes/transaction.ts by `npm run docs` -->';
const END = '<!-- /stage-table -->';

const cell = (text: string | undefined) => (text ?? '').replace(/\|/g, '\\|');

/** The markdown between the markers (pure). */
export function renderStageTable(): string {
  const rows = STAGES.map((s, i) => {
    const journal = s.journal ? `\`${s.journal.state}\`` : '';
    const stage = s.rollbackStage ? `\`${s.rollbackStage}\`` : '';
    return `| ${i + 1} | **${s.name}** | ${cell(s.does)}${s.branches ? `. ${cell(s.branches[0].toUpperCase() + s.branches.slice(1))}` : ''} | ${journal} | ${s.onFailure} | ${stage} |`;
  });
  const revert = REVERT_STEPS.map((step, i) => `${i + 1}. ${step}`);
  return [
    '| # | stage | what it does | journal after it | a failure here is undone by | event stage |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'The undo paths: **none** undoes nothing (the change is correct on both sides); **release** rolls the database back (nothing reached the router); **discarded** rolls it back and records `ROLLED_BACK` (the router refused the batch and discarded it itself; a commit-confirm timer a failed commit left armed is stopped first); **revert** rolls the database back and, still holding the router lock:',
    '',
    ...revert,
  ].join('\n');
}

/** The doc's current section, or null when the markers are missing. */
export function documentedStageTable(doc: string): string | null {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  return a < 0 || b < a ? null : doc.slice(a + START.length, b).trim();
}

export function writeStageTable(): void {
  const doc = readFileSync(OPERATIONS_DOC, 'utf8');
  if (documentedStageTable(doc) === null) throw new Error(`${OPERATIONS_DOC} has no stage-table markers`);
  const a = doc.indexOf(START) + START.length;
  writeFileSync(OPERATIONS_DOC, `${doc.slice(0, a)}\n${renderStageTable()}\n${doc.slice(doc.indexOf(END))}`);
}

if (require.main === module) writeStageTable();
