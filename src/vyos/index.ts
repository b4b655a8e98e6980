// The router layer's public face: types, the NAT rule model and the HTTP client.
export * from './types';
export {
  NAT_DESTINATION_PATH,
  diffRule,
  inverse,
  parseNatDestination,
  renderDelete,
  renderReplace,
  renderRule,
  touchedRuleNumbers,
} from './nat-rule';
export { commandsToConfigJson } from './config-json';
export { commitConfirmFromProbe, confirmOrderFromReply, deriveCapabilities, natSyntaxOf } from './capabilities';
export type { CommitConfirmSetting, SyntaxSetting } from './capabilities';
export { VyosClient } from './client';
export type { RouterCallEvent, RouterClientLogger, VyosClientOptions } from './client';
