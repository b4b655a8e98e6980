// docs/operations.md's protocol table is the stage table the runner executes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { OPERATIONS_DOC, documentedStageTable, renderStageTable } from '../../src/changes/stage-doc.js';
import { STAGES, UndoPath } from '../../src/changes/transaction.js';

test('docs/operations.md shows the stage table as the runner has it (run `npm run docs` after changing it)', () => {
  const documented = documentedStageTable(readFileSync(OPERATIONS_DOC, 'utf8'));
  assert.ok(documented !== null, 'operations.md has the stage-table markers');
  assert.equal(documented, renderStageTable());
});

test('every stage names how its failure is undone, and every stage that can touch the router names the event stage', () => {
  for (const s of STAGES) {
    assert.ok(s.does.length > 0 && s.onFailure, `${s.name} is described`);
    if (s.onFailure === UndoPath.REVERT || s.onFailure === UndoPath.DISCARDED) assert.ok(s.rollbackStage, `${s.name} names the RollbackStage its events carry`);
  }
});
