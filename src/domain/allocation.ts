// Pure allocation arithmetic. The search itself is indexed SQL from a pool's mark
// (change-store.ts `unusedValues`); callers hold the router lock, so "free" is stable.

/**
 * Where a pool's mark moves once this change set's values are used: the lowest value of `free`
 * (the unused values from the old mark on, ascending) that is not `taken`. Every value below it
 * is then in use, which is all a mark promises (allocation-mark.ts). When the probe held nothing
 * else, the value after its last one.
 */
export function nextMark(free: readonly number[], taken: (v: number) => boolean, last: number): number {
  const next = free.find((v) => !taken(v));
  if (next !== undefined) return next;
  return free.length > 0 ? free[free.length - 1] + 1 : last + 1;
}
