// API key format and hashing (pure). A key is `vmk_<prefix>_<secret>`: the prefix finds the row,
// the sha256 of the whole key is compared in constant time; the key itself is never stored.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface NewKey {
  key: string;
  prefix: string;
  hash: string;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateKey(): NewKey {
  const prefix = randomBytes(6).toString('hex');
  const key = `vmk_${prefix}_${randomBytes(24).toString('base64url')}`;
  return { key, prefix, hash: hashKey(key) };
}

/** The lookup prefix of a well-formed key; seeded keys of any other form use a hash-derived one. */
export function prefixOf(key: string): string {
  const m = /^vmk_([0-9a-f]{12})_[A-Za-z0-9_-]+$/.exec(key);
  return m ? m[1] : `h${hashKey(key).slice(0, 15)}`;
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
