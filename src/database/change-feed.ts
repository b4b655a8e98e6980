// Other processes' commits, as PostgreSQL announces them: statement triggers on the tables cached
// reads show (migrations/Migration20261125190000_change_notifications.ts) NOTIFY this channel, delivered when the writing
// transaction commits. A NOTIFY can't be lost while the listening connection lives, so the risk
// is a connection that dies silently: the feed NOTIFYs itself every second over the same
// connection, and when its own beat stops coming back it stops vouching for the clock (the
// caches step aside) until it has listened again.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../observability/logger.js';
import type { ChangeClock } from './change-clock.js';

/** Also written, literally, in the migration that creates the triggers. */
export const CHANGES_CHANNEL = 'vyos_vm_api_changes';
export const HEARTBEAT_MS = 1000;
/** Three missed beats and the connection is presumed dead. */
export const HEARTBEAT_TIMEOUT_MS = 3 * HEARTBEAT_MS;
export const FEED_APPLICATION_NAME = 'vyos-vm-api change feed';

export class ChangeFeed {
  private client: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private beat: NodeJS.Timeout | undefined;
  private lastBeat = 0;
  private beatInFlight = false;
  private readonly beatPayload = `beat:${randomUUID()}`;

  private constructor(
    private readonly url: string,
    private readonly clock: ChangeClock,
    private readonly logger: Logger,
    private readonly onLost: () => void,
  ) {}

  /** Listens (or keeps trying in the background); until it does, and whenever it can't, the clock is not fresh. */
  static async start(url: string, clock: ChangeClock, logger: Logger, onLost: () => void = () => {}): Promise<ChangeFeed> {
    const feed = new ChangeFeed(url, clock, logger, onLost);
    clock.setTrusted(false);
    await feed.connect().catch((err: unknown) => {
      logger.warn({ err }, 'change feed could not listen; read caches bypassed, retrying');
      feed.reconnectSoon(1000);
    });
    feed.beat = setInterval(() => feed.heartbeat(), HEARTBEAT_MS);
    feed.beat.unref();
    return feed;
  }

  /** The PostgreSQL backend serving the LISTEN (pg_stat_activity.pid), while connected. */
  get backendPid(): number | null {
    return (this.client as (pg.Client & { processID?: number }) | null)?.processID ?? null;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: FEED_APPLICATION_NAME, keepAlive: true });
    client.on('notification', (n) => {
      if (n.payload === this.beatPayload) this.lastBeat = Date.now();
      else if (!n.payload?.startsWith('beat:')) this.clock.tick();
    });
    const lost = (err?: unknown) => {
      if (this.client !== client) return;
      this.logger.warn({ err }, 'change feed connection lost: read caches bypassed until it is back');
      this.onLost();
      this.reconnectSoon(1000);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`listen ${CHANGES_CHANNEL}`);
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.lastBeat = Date.now();
    this.beatInFlight = false;
    // Anything committed while no one listened is unknown: trusting again ticks the clock.
    this.clock.setTrusted(true);
  }

  private heartbeat(): void {
    const client = this.client;
    if (!client) return;
    if (Date.now() - this.lastBeat > HEARTBEAT_TIMEOUT_MS) {
      this.logger.warn({ silentForMs: Date.now() - this.lastBeat }, 'change feed heartbeat stopped: read caches bypassed, reconnecting');
      this.onLost();
      this.reconnectSoon(0);
      return;
    }
    // A beat still unanswered is not sent again: its absence is the signal.
    if (this.beatInFlight) return;
    this.beatInFlight = true;
    client
      .query('select pg_notify($1, $2)', [CHANGES_CHANNEL, this.beatPayload])
      .catch(() => {
        // 'error' or the missed beat deals with it
      })
      .finally(() => {
        if (this.client === client) this.beatInFlight = false;
      });
  }

  private reconnectSoon(delay: number): void {
    this.clock.setTrusted(false);
    this.client?.end().catch(() => {});
    this.client = null;
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.connect().catch((err: unknown) => {
        this.logger.warn({ err }, 'change feed could not listen; retrying');
        this.reconnectSoon(Math.min(Math.max(delay * 2, 1000), 30_000));
      });
    }, delay);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.beat);
    const client = this.client;
    this.client = null;
    this.clock.setTrusted(false);
    await client?.end().catch(() => {});
  }
}
