/** Median of a non-empty list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (`p` in 0..100) of a list that is already sorted ascending. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const gcFunction = (globalThis as { gc?: () => void }).gc;

/** Whether the process runs with `--expose-gc` (needed for the memory figures). */
export const canCollectGarbage = gcFunction !== undefined;

/** A full collection, when exposed; otherwise nothing. */
export function collectGarbage(): void {
  if (gcFunction !== undefined) {
    gcFunction();
    gcFunction();
  }
}

/** Lets pending microtasks, `nextTick`s and immediates run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Nanoseconds since an arbitrary origin, as a bigint (`process.hrtime.bigint`). */
export function now(): bigint {
  return process.hrtime.bigint();
}
