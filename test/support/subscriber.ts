// A real graphql-ws client over a real WebSocket, collecting what a subscription delivers.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Subscriber<T> {
  received: T[];
  /** resolves with the next item that matches, waiting up to `ms` */
  next(match?: (item: T) => boolean, ms?: number): Promise<T>;
  close(): Promise<void>;
}

export async function subscribe<T = any>(httpUrl: string, key: string | null, query: string): Promise<Subscriber<T>> {
  const received: T[] = [];
  const waiters: { match: (i: T) => boolean; resolve: (i: T) => void }[] = [];
  let connected!: () => void;
  let failed!: (e: unknown) => void;
  const ready = new Promise<void>((res, rej) => ((connected = res), (failed = rej)));
  const client: Client = createClient({
    url: httpUrl.replace(/^http/, 'ws') + '/graphql',
    webSocketImpl: WebSocket,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    retryAttempts: 0,
    lazy: false,
    on: { connected: () => connected(), closed: (e) => failed(e) },
  });
  client.subscribe<T>(
    { query },
    {
      next: (value) => {
        if (value.errors) {
          failed(value.errors);
          return;
        }
        const item = value.data as T;
        received.push(item);
        for (const w of [...waiters]) {
          if (w.match(item)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(item);
          }
        }
      },
      error: (e) => failed(e),
      complete: () => {},
    },
  );
  await ready;
  // the subscribe message follows the connection ack; give the server a moment to register it
  await new Promise((r) => setTimeout(r, 100));
  return {
    received,
    next(match = () => true, ms = 10_000) {
      const seen = received.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching subscription event within ${ms} ms (got ${JSON.stringify(received)})`)), ms);
        waiters.push({ match, resolve: (i) => (clearTimeout(timer), resolve(i)) });
      });
    },
    async close() {
      await client.dispose();
    },
  };
}
