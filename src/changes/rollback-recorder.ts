// Rollback events: persisted first (the store), then logged, counted and published to every
// replica's subscribers. A failure to record never hides the change's own outcome.
import { RollbackOutcome } from '../domain/entities/index.js';
import type { Logger } from '../observability/logger.js';
import type { ChangeStore, RollbackRecord } from './change-store.js';
import type { EventBus } from './event-bus.js';
import type { RollbackEventPayload } from './events.js';

export class RollbackRecorder {
  constructor(
    private readonly deps: {
      store: Pick<ChangeStore, 'saveRollback' | 'router'>;
      events: Pick<EventBus, 'rollback'>;
      logger: Logger;
      onRecorded?: (e: RollbackEventPayload) => void;
    },
  ) {}

  async record(r: RollbackRecord): Promise<RollbackEventPayload> {
    const { store, events, logger, onRecorded } = this.deps;
    let saved = { id: '', at: new Date() };
    try {
      saved = await store.saveRollback(r);
    } catch (e) {
      logger.error({ err: e }, 'could not persist a rollback event');
    }
    const payload: RollbackEventPayload = { ...saved, router: store.router, ...r };
    const level = r.outcome === RollbackOutcome.ROLLBACK_FAILED ? 'error' : 'warn';
    logger[level]({ rollback: { ...payload, commands: r.commands.length } }, `change rolled back at ${r.stage}: ${r.outcome}`);
    onRecorded?.(payload);
    await events.rollback(payload).catch((e: unknown) => logger.error({ err: e }, 'could not publish a rollback event'));
    return payload;
  }
}
