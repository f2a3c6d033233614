/**
 * What the harness needs from each pool under test. `uncontended` and `contended` are written out
 * once per pool (never through a shared wrapper) so each pool gets its own monomorphic loop, the way
 * a user would write it; every loop awaits acquire and release alike and holds with `await null`.
 */
export interface Subject {
  /** `cycles` times: acquire an idle connection, release it. Resolves to the cycles completed. */
  uncontended(cycles: number): Promise<number>;
  /** `callers` concurrent callers, `perCaller` cycles each, holding for one microtask. */
  contended(callers: number, perCaller: number): Promise<number>;
  /** Generic acquire and release, for filling a pool and measuring memory (not timed). */
  acquire(): Promise<unknown>;
  release(item: unknown): unknown;
  close(): Promise<void>;
}

/** `baseline`: lifeguard built from another git ref (`--baseline`), to measure a change. */
export type SubjectKind = 'floor' | 'lifeguard' | 'baseline' | 'other';

export interface SubjectFactory {
  /** Short name, used by `--only` and as the key in results.json. */
  readonly name: string;
  readonly label: string;
  readonly kind: SubjectKind;
  /** How the pool is configured, for the record. */
  readonly config: string;
  /** A pool of at most `size` connections whose creator is `creator`. */
  create(size: number, creator: () => object): Subject;
}
