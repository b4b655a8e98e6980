// Graceful shutdown (docs/deploy.md): on SIGTERM the server stops taking new work, lets the work
// it has (HTTP requests, WebSocket queries and mutations, and the router batches they wait on)
// finish and be answered, bounded by the router's write timeout, and only then closes.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Config } from './config.js';
import { shuttingDown } from './domain/errors.js';

/**
 * How long running work may take after SIGTERM: a router commit that runs into its timeout
 * (VYOS_COMMIT_TIMEOUT_MS) and the read that settles it (VYOS_TIMEOUT_MS), capped by
 * SHUTDOWN_DRAIN_SECONDS: the write timeout follows the router's own 600 s bound, and a batch cut
 * off past the cap is settled by the journal at the next start, like a crash.
 */
export function drainTimeoutMs(config: Pick<Config, 'vyosCommitTimeoutMs' | 'vyosTimeoutMs' | 'shutdownDrainMs'>): number {
  return Math.min(config.vyosCommitTimeoutMs + config.vyosTimeoutMs, config.shutdownDrainMs);
}

/** Then closing sockets, listeners and the pool; past drain + close, main.ts exits anyway. */
export const CLOSE_TIMEOUT_MS = 10_000;

// Still answered while draining: liveness (the process is alive until it exits) and the metrics.
const ANSWERED_WHILE_DRAINING = new Set(['/live', '/metrics']);

export class Shutdown {
  private draining = false;
  /** responses not yet finished */
  private readonly responses = new Set<Response>();
  /** WebSocket queries and mutations executing */
  private operations = 0;
  private waiters: (() => void)[] = [];

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Express middleware, right after the request log: counts every request until its response is
   * done; while draining, answers new ones 503 with `Connection: close` (/ready: not ready).
   */
  gate(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      const path = req.path.replace(/\/+$/, '').toLowerCase();
      if (this.draining && !ANSWERED_WHILE_DRAINING.has(path)) {
        res.setHeader('Connection', 'close');
        res.setHeader('Retry-After', '1');
        if (path === '/ready') {
          res.status(503).json({ ready: false, detail: 'shutting down' });
          return;
        }
        const e = shuttingDown();
        res.status(503).json({ errors: [{ message: e.message, extensions: { ...e.extensions, code: e.code } }] });
        return;
      }
      this.responses.add(res);
      res.once('close', () => {
        this.responses.delete(res);
        this.settle();
      });
      next();
    };
  }

  /** Counts a WebSocket operation's execution (graphql-ws's `execute` option) until its result is ready. */
  track<T>(work: () => T | Promise<T>): Promise<T> {
    this.operations++;
    return Promise.resolve()
      .then(work)
      .finally(() => {
        this.operations--;
        this.settle();
      });
  }

  /** Stops taking new work. Responses still running close their connection when they are sent. */
  begin(): void {
    this.draining = true;
    for (const res of this.responses) if (!res.headersSent) res.setHeader('Connection', 'close');
  }

  /** Resolves true once nothing is running, or false when `timeoutMs` passed first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.quiet) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }

  /** What is still running (for the shutdown log line). */
  running(): { requests: number; operations: number } {
    return { requests: this.responses.size, operations: this.operations };
  }

  private get quiet(): boolean {
    return this.responses.size === 0 && this.operations === 0;
  }

  private settle(): void {
    if (!this.quiet) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
