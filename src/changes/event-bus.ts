// Fans events out to subscribers on every replica. On PostgreSQL: NOTIFY after the event row is
// committed, and every replica (this one included) LISTENs and publishes locally, so a client
// subscribed to any replica sees every event once. No extra infrastructure. A NOTIFY carries only
// a row id (payloads are limited to 8000 bytes): each replica loads the event whole from its row.
import type { MikroORM } from '@mikro-orm/postgresql';
import { Listener } from '../database/listener.js';
import { DriftReport, RollbackEvent } from '../domain/entities/index.js';
import type { Logger } from '../observability/logger.js';
import { Topic, type AppPubSub, type RollbackEventPayload } from './events.js';

export const CHANNEL = 'vyos_vm_api_events';
// A drift report row only has to outlive its NOTIFY's delivery; older ones are pruned as new ones come.
const KEEP_DRIFT_REPORTS_MS = 60 * 60_000;

// `report`: what replicas before drift_report sent (a rolling upgrade may still deliver one).
type Message = { t: 'rollback'; id: string } | { t: 'drift'; id: string } | { t: 'drift'; report: unknown };

export interface EventBus {
  /** after the event row is committed */
  rollback(event: RollbackEventPayload): Promise<void>;
  drift(report: { items: unknown[] } & Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/** One process (or the embedded database, which has no working LISTEN across connections). */
export class LocalEventBus implements EventBus {
  constructor(private readonly pubsub: AppPubSub) {}
  async rollback(event: RollbackEventPayload): Promise<void> {
    this.pubsub.publish(Topic.ROLLBACK_EVENT, event);
  }
  async drift(report: { items: unknown[] }): Promise<void> {
    this.pubsub.publish(Topic.DRIFT_DETECTED, report);
  }
  async close(): Promise<void> {}
}

export class PostgresEventBus implements EventBus {
  private readonly listener: Listener;

  private constructor(
    url: string,
    private readonly orm: MikroORM,
    private readonly pubsub: AppPubSub,
    private readonly logger: Logger,
  ) {
    this.listener = new Listener({ url, channel: CHANNEL, logger, name: 'event bus', onNotification: (payload) => void this.receive(payload) });
  }

  static async start(url: string, orm: MikroORM, pubsub: AppPubSub, logger: Logger): Promise<PostgresEventBus> {
    const bus = new PostgresEventBus(url, orm, pubsub, logger);
    await bus.listener.connect();
    return bus;
  }

  private async receive(text: string | undefined): Promise<void> {
    try {
      const msg = JSON.parse(text ?? '') as Message;
      if (msg.t === 'drift') {
        const report = 'report' in msg ? msg.report : (await this.orm.em.fork().findOne(DriftReport, { id: msg.id }))?.report;
        if (report === undefined) this.logger.warn({ driftReportId: 'id' in msg ? msg.id : null }, 'a driftDetected report was gone before it could be delivered');
        else this.pubsub.publish(Topic.DRIFT_DETECTED, report);
        return;
      }
      const row = await this.orm.em.fork().findOne(RollbackEvent, { id: msg.id });
      if (!row) return;
      this.pubsub.publish(Topic.ROLLBACK_EVENT, {
        id: row.id,
        at: row.at,
        router: row.router,
        operation: row.operation,
        stage: row.stage,
        reason: row.reason,
        outcome: row.outcome,
        commands: row.commands,
      });
    } catch (err) {
      this.logger.warn({ err }, 'could not deliver an event notification');
    }
  }

  private async notify(msg: Message): Promise<void> {
    await this.orm.em.fork().execute('select pg_notify(?, ?)', [CHANNEL, JSON.stringify(msg)]);
  }

  async rollback(event: RollbackEventPayload): Promise<void> {
    await this.notify({ t: 'rollback', id: event.id });
  }

  async drift(report: { items: unknown[] } & Record<string, unknown>): Promise<void> {
    // The whole report, however many items: stored, and delivered by reference.
    const em = this.orm.em.fork();
    const row = em.create(DriftReport, { report });
    await em.flush();
    await this.notify({ t: 'drift', id: row.id });
    await em
      .nativeDelete(DriftReport, { createdAt: { $lt: new Date(Date.now() - KEEP_DRIFT_REPORTS_MS) } })
      .catch((err: unknown) => this.logger.warn({ err }, 'could not prune old driftDetected reports'));
  }

  async close(): Promise<void> {
    await this.listener.close();
  }
}
