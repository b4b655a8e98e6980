// The names of changes a RollbackEvent can record. `RollbackEvent.operation` stays the String it
// was: a batch that failed as a whole records every member's name, comma-joined
// ("addPortRule,addPortRule,provisionVm"), which no enum value can hold. `operations` is the same
// list split into enum values, each name once, in order of first appearance.
import { registerEnumType } from 'type-graphql';

export enum ChangeOperation {
  provisionVm = 'provisionVm',
  decommissionVm = 'decommissionVm',
  addPortRule = 'addPortRule',
  updatePortRule = 'updatePortRule',
  setPortRuleEnabled = 'setPortRuleEnabled',
  removePortRule = 'removePortRule',
  applyVm = 'applyVm',
  updateVm = 'updateVm',
  reconcile = 'reconcile',
  importRouterRules = 'importRouterRules',
  takeSnapshot = 'takeSnapshot',
  restoreSnapshot = 'restoreSnapshot',
  resume = 'resume',
  save = 'save',
}

registerEnumType(ChangeOperation, {
  name: 'ChangeOperation',
  description: 'A kind of change the server sends to the router: the mutation of that name, or one of the server\'s own (`resume`, `save`).',
  valuesConfig: {
    provisionVm: { description: 'The mutation provisionVm.' },
    decommissionVm: { description: 'The mutation decommissionVm.' },
    addPortRule: { description: 'The mutation addPortRule.' },
    updatePortRule: { description: 'The mutation updatePortRule.' },
    setPortRuleEnabled: { description: 'The mutation setPortRuleEnabled.' },
    removePortRule: { description: 'The mutation removePortRule.' },
    applyVm: { description: 'The mutation applyVm.' },
    updateVm: { description: 'The mutation updateVm.' },
    reconcile: { description: 'The mutation reconcile.' },
    importRouterRules: { description: 'The mutation importRouterRules.' },
    takeSnapshot: { description: 'The mutation takeSnapshot.' },
    restoreSnapshot: { description: 'The mutation restoreSnapshot.' },
    resume: { description: 'The server settling a change a stopped process left unfinished, or an undo still owed.' },
    save: { description: 'The server retrying a failed `/config-file save`.' },
  },
});

const KNOWN = new Set<string>(Object.values(ChangeOperation));

/**
 * The enum values of a recorded `operation` text. A name this version does not know (a newer
 * replica's) is left out rather than failing the whole event; `operation` still has it.
 */
export function changeOperations(operation: string): ChangeOperation[] {
  const seen = new Set<string>();
  for (const name of operation.split(',')) if (KNOWN.has(name)) seen.add(name);
  return [...seen] as ChangeOperation[];
}
