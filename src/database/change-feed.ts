// Other processes' commits, as PostgreSQL announces them: statement triggers on the tables cached
// reads show (migrations/Migration20261125190000_change_notifications.ts) NOTIFY this channel,
// delivered when the writing transaction commits. A NOTIFY can't be lost while the listening
// connection lives, so the risk is a connection that dies silently: the feed NOTIFYs itself every
// second over the same connection, and when its own beat stops coming back it stops vouching for
// the clock (the caches step aside) until it has listened again.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../observability/logger.js';
import type { ChangeClock } from './change-clock.js';
import { Listener } from './listener.js';

/** Also written, literally, in the migration that creates the triggers. */
export const CHANGES_CHANNEL = 'vyos_vm_api_changes';
export const HEARTBEAT_MS = 1000;
/** Three missed beats and the connection is presumed dead. */
export const HEARTBEAT_TIMEOUT_MS = 3 * HEARTBEAT_MS;
export const FEED_APPLICATION_NAME = 'vyos-vm-api change feed';

export class ChangeFeed {
  private readonly listener: Listener;
  private beat: NodeJS.Timeout | undefined;
  private lastBeat = 0;
  private beatInFlight = false;
  private readonly beatPayload = `beat:${randomUUID()}`;

  private constructor(
    url: string,
    private readonly clock: ChangeClock,
    private readonly logger: Logger,
    private readonly onLost: () => void,
  ) {
    this.listener = new Listener({
      url,
      channel: CHANGES_CHANNEL,
      applicationName: FEED_APPLICATION_NAME,
      logger,
      name: 'change feed',
      lossMeans: 'read caches bypassed until it is back',
      onNotification: (payload) => {
        if (payload === this.beatPayload) this.lastBeat = Date.now();
        else if (!payload?.startsWith('beat:')) clock.tick();
      },
      onListening: () => {
        this.lastBeat = Date.now();
        this.beatInFlight = false;
        // Anything committed while no one listened is unknown: trusting again ticks the clock.
        clock.setTrusted(true);
      },
      onLost: () => this.lose(),
    });
  }

  /** Listens (or keeps trying in the background); until it does, and whenever it can't, the clock is not fresh. */
  static async start(url: string, clock: ChangeClock, logger: Logger, onLost: () => void = () => {}): Promise<ChangeFeed> {
    const feed = new ChangeFeed(url, clock, logger, onLost);
    clock.setTrusted(false);
    await feed.listener.connect().catch((err: unknown) => {
      logger.warn({ err }, 'change feed could not listen; read caches bypassed, retrying');
      feed.listener.reconnectSoon(1000);
    });
    feed.beat = setInterval(() => feed.heartbeat(), HEARTBEAT_MS);
    feed.beat.unref();
    return feed;
  }

  /** The PostgreSQL backend serving the LISTEN (pg_stat_activity.pid), while connected. */
  get backendPid(): number | null {
    return this.listener.backendPid;
  }

  private lose(): void {
    this.clock.setTrusted(false);
    this.onLost();
  }

  private heartbeat(): void {
    if (!this.listener.connected) return;
    if (Date.now() - this.lastBeat > HEARTBEAT_TIMEOUT_MS) {
      this.logger.warn({ silentForMs: Date.now() - this.lastBeat }, 'change feed heartbeat stopped: read caches bypassed, reconnecting');
      this.lose();
      this.listener.reconnectSoon(0);
      return;
    }
    // A beat still unanswered is not sent again: its absence is the signal.
    if (this.beatInFlight) return;
    const sent = this.listener.query('select pg_notify($1, $2)', [CHANGES_CHANNEL, this.beatPayload]);
    if (!sent) return;
    const on = this.listener.backendPid;
    this.beatInFlight = true;
    sent
      .catch(() => {
        // the listener's 'error', or the missed beat, deals with it
      })
      .finally(() => {
        // a beat stuck on a connection since replaced must not free the new one's
        if (this.listener.backendPid === on) this.beatInFlight = false;
      });
  }

  async close(): Promise<void> {
    clearInterval(this.beat);
    await this.listener.close();
    this.clock.setTrusted(false);
  }
}
