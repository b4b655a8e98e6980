// Idempotency keys (docs/api-reference.md "Idempotency"): a retried create or apply with the same
// key and the same input gets the first result and changes nothing; with another input it is a
// CONFLICT naming the key. The key row is written in the same transaction as the change (the batch
// transaction for router changes), so a key exists exactly when its change committed, and its
// primary key keeps two concurrent first requests from both applying. Within a batch, a second
// change set with the key finds the first one's row in the shared transaction and replays it.
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { IdempotencyRecord } from '../domain/entities/index.js';
import { badInput, conflict } from '../domain/errors.js';
import type { ChangeSet } from './change-set.js';

/** What identifies one request: its key, the mutation, and the hash of its normalized input. */
export interface IdempotencyClaim {
  key: string;
  operation: string;
  hash: string;
}

/** The key as the client gave it, checked; null when none was given. */
export function idempotencyKey(field: string, raw: string | null | undefined): string | null {
  const key = raw?.trim() || null;
  if (key !== null && (key.length > 200 || !/^[\x21-\x7e]+$/.test(key))) throw badInput(field, 'must be 1-200 printable ASCII characters without spaces');
  return key;
}

/** A claim for `input` (already validated and normalized), or null without a key. */
export function claimFor(key: string | null, operation: string, input: unknown): IdempotencyClaim | null {
  return key === null ? null : { key, operation, hash: inputHash(operation, input) };
}

/** sha256 over the operation and the input as canonical JSON (object keys sorted). */
export function inputHash(operation: string, input: unknown): string {
  return createHash('sha256').update(JSON.stringify([operation, canonical(input)])).digest('hex');
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}

export interface Earlier {
  resultRef: string;
  result: unknown;
}

/**
 * The first result for the claim, or null when the key is new (or expired). A key used with
 * another input, or by another mutation, is a CONFLICT naming it.
 */
export async function findEarlier(em: EntityManager, claim: IdempotencyClaim, retentionMs: number): Promise<Earlier | null> {
  const row = await em.findOne(IdempotencyRecord, { key: claim.key, createdAt: { $gt: new Date(Date.now() - retentionMs) } }, { refresh: true });
  if (!row) return null;
  // A null hash is a key carried over from vm.idempotency_key: as before, any provisionVm input matches.
  if (row.operation !== claim.operation || (row.inputHash !== null && row.inputHash !== undefined && row.inputHash !== claim.hash)) {
    throw conflict(`idempotencyKey "${claim.key}" was already used by ${row.operation} with a different input; use a new key for a different request`, { field: 'idempotencyKey', idempotencyKey: claim.key });
  }
  return { resultRef: row.resultRef, result: row.result ?? null };
}

/** Records the claim in `em`'s transaction; expired rows (this key's included) are purged first. */
export async function recordClaim(em: EntityManager, claim: IdempotencyClaim, retentionMs: number, resultRef: string, result: unknown): Promise<void> {
  await em.nativeDelete(IdempotencyRecord, { createdAt: { $lte: new Date(Date.now() - retentionMs) } });
  em.create(IdempotencyRecord, { key: claim.key, operation: claim.operation, inputHash: claim.hash, resultRef, result: result ?? null });
  await em.flush();
}

/**
 * The change set with its key: a replay answers the first result with no intents (nothing reaches
 * the router), a first run records the key with its result in the change's own savepoint.
 */
export function idempotent<T>(set: ChangeSet<T>, claim: IdempotencyClaim | null, retentionMs: number, codec: { ref(result: T): string; replay(earlier: Earlier): T }): ChangeSet<T> {
  if (!claim) return set;
  return {
    ...set,
    async prepare(ctx) {
      const earlier = await findEarlier(ctx.em, claim, retentionMs);
      if (earlier) return { intents: [], result: codec.replay(earlier) };
      const prepared = await set.prepare(ctx);
      const ref = codec.ref(prepared.result);
      await recordClaim(ctx.em, claim, retentionMs, ref, typeof prepared.result === 'string' ? null : prepared.result);
      return prepared;
    },
  };
}

/** For change sets whose result is the id of what they made. */
export const byId = { ref: (id: string) => id, replay: (e: Earlier) => e.resultRef };
