// One GraphQL operation over a real graphql-ws WebSocket, reporting what a client would see:
// the result, the errors, or the close code when the server shut the socket.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { GqlError } from './app.js';

export interface WsOutcome {
  data?: Record<string, unknown> | null;
  errors?: GqlError[];
  /** the server closed the socket (e.g. 4403 for a refused key) */
  closeCode?: number;
  closeReason?: string;
  /** a subscription that started and stayed open for the observation window */
  streaming?: boolean;
}

/** `params`: connectionParams as given, instead of the ones made from `key`. */
export function wsClient(httpUrl: string, key: string | null, params?: Record<string, unknown>): Client {
  return createClient({
    url: httpUrl.replace(/^http/, 'ws') + '/graphql',
    webSocketImpl: WebSocket,
    connectionParams: params ?? (key ? { authorization: `Bearer ${key}` } : {}),
    retryAttempts: 0,
    lazy: true,
    // keep the socket between operations of one test
    lazyCloseTimeout: 5_000,
  });
}

/**
 * Runs `query` on `client`. Queries and mutations settle with their result (waiting up to
 * `watchMs`, at least 10 s); a subscription that neither errors nor ends within `watchMs` counts
 * as started (and is then unsubscribed).
 */
export function wsOperation(client: Client, query: string, variables: Record<string, unknown> = {}, watchMs = 300): Promise<WsOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let outcome: WsOutcome = {};
    const done = (o: WsOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      resolve(o);
    };
    const timer = setTimeout(() => done({ ...outcome, streaming: true }), /^\s*subscription/.test(query) ? watchMs : Math.max(watchMs, 10_000));
    const unsubscribe = client.subscribe(
      { query, variables },
      {
        next: (value) => {
          outcome = { data: value.data as Record<string, unknown> | null, errors: value.errors as GqlError[] | undefined };
          if (value.errors) done(outcome);
        },
        error: (e) => {
          if (Array.isArray(e)) done({ errors: e as GqlError[] });
          else if (e && typeof e === 'object' && 'code' in e) done({ closeCode: (e as { code: number }).code, closeReason: String((e as { reason?: string }).reason ?? '') });
          else done({ errors: [{ message: String(e) }] });
        },
        complete: () => done(outcome),
      },
    );
  });
}
