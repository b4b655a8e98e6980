import { createPubSub } from '@graphql-yoga/subscription';
import type { RollbackOutcome, RollbackStage } from '../domain/entities/index.js';
import type { RouterCommand } from '../vyos/types.js';

/** A rollback event as it travels to subscribers (plain data, so it can cross processes). */
export interface RollbackEventPayload {
  id: string;
  at: Date;
  /** the router the change was for */
  router: string;
  operation: string;
  stage: RollbackStage;
  reason: string;
  outcome: RollbackOutcome;
  commands: RouterCommand[];
}

export const Topic = {
  ROLLBACK_EVENT: 'ROLLBACK_EVENT',
  DRIFT_DETECTED: 'DRIFT_DETECTED',
} as const;

export function createAppPubSub() {
  return createPubSub<{
    ROLLBACK_EVENT: [RollbackEventPayload];
    DRIFT_DETECTED: [unknown];
  }>();
}

export type AppPubSub = ReturnType<typeof createAppPubSub>;
