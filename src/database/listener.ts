// One PostgreSQL connection that LISTENs on a channel and keeps listening: when the connection
// fails or ends it is replaced, retrying with back-off. The event bus and the change feed each
// hold one; what a notification means is theirs to say.
import pg from 'pg';
import type { Logger } from '../observability/logger.js';

export interface ListenerOptions {
  url: string;
  channel: string;
  /** pg_stat_activity.application_name, so operators can tell the connection apart */
  applicationName?: string;
  logger: Logger;
  /** the log lines' subject, e.g. "event bus" */
  name: string;
  /** what the log says a lost connection means */
  lossMeans?: string;
  onNotification(payload: string | undefined): void;
  /** LISTEN is in place (first time or again) */
  onListening?(): void;
  /** the connection failed or ended (not called for reconnectSoon's own drops); a new one is on its way */
  onLost?(): void;
}

const MAX_RETRY_MS = 30_000;

export class Listener {
  private client: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ListenerOptions) {}

  get connected(): boolean {
    return this.client !== null;
  }

  /** The backend serving the LISTEN (pg_stat_activity.pid), while connected. */
  get backendPid(): number | null {
    return (this.client as (pg.Client & { processID?: number }) | null)?.processID ?? null;
  }

  /** Connects and LISTENs; rejects if that fails (the caller decides whether to retry). */
  async connect(): Promise<void> {
    const { url, channel, applicationName, logger, name, lossMeans } = this.opts;
    const client = new pg.Client({ connectionString: url, application_name: applicationName, keepAlive: true });
    client.on('notification', (n) => this.opts.onNotification(n.payload));
    const lost = (err?: unknown) => {
      if (this.client !== client) return;
      logger.warn({ err }, `${name} connection lost${lossMeans ? `: ${lossMeans}` : ''}; reconnecting`);
      this.opts.onLost?.();
      this.reconnectSoon(1000);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`listen ${channel}`);
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.opts.onListening?.();
  }

  /** A query on the listening connection itself (a heartbeat); null when there is none. */
  query(text: string, values: unknown[]): Promise<unknown> | null {
    return this.client?.query(text, values) ?? null;
  }

  /** Drops the connection (if any) and makes a new one after `delay` ms, backing off while that fails. */
  reconnectSoon(delay: number): void {
    this.client?.end().catch(() => {});
    this.client = null;
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect().catch((err: unknown) => {
        this.opts.logger.warn({ err }, `${this.opts.name} could not listen; retrying`);
        this.reconnectSoon(Math.min(Math.max(delay * 2, 1000), MAX_RETRY_MS));
      });
    }, delay);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }
}
