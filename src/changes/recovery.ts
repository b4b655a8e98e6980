// Resuming a journal entry (design.md "Crash safety"): an entry a dead process left unfinished, or
// one whose undo is still owed, is settled through the runner like any change: the database is
// the truth, so the touched rules are made to look on the router as the database says. The
// runner decides, in the batch transaction, what the entry settled as (transaction.ts).
import { intentsFor, type JournalRow } from './change-store.js';
import type { ChangeSet } from './change-set.js';
import { touchedRuleNumbers } from '../vyos/nat-rule.js';

/** A change set that brings the entry's rules back to the database's state. */
export function resumeEntry(row: JournalRow): ChangeSet<JournalRow | null> {
  return {
    operation: 'resume',
    resumes: row,
    wholePicture: true,
    async prepare({ em, config }) {
      return { intents: await intentsFor(em, config, touchedRuleNumbers(row.commands)), result: row };
    },
  };
}
