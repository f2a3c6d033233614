import { Fifo } from './fifo.js';

/**
 * The floor: the simplest correct pool (a stack of free items, lazy creation up to `max`, and a FIFO
 * of waiters served by direct hand-off). Nothing async can be cheaper than this in Node, so it is the
 * physical limit every real pool is measured against.
 */
export class FloorPool<T> {
  private readonly free: T[] = [];
  private readonly waiters = new Fifo<(item: T) => void>();
  private created = 0;

  constructor(
    private readonly create: () => T,
    private readonly max: number,
  ) {}

  acquire(): Promise<T> {
    if (this.free.length > 0) return Promise.resolve(this.free.pop()!);
    if (this.created < this.max) {
      this.created++;
      return Promise.resolve(this.create());
    }
    return new Promise<T>((resolve) => {
      this.waiters.push(resolve);
    });
  }

  release(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter === undefined) this.free.push(item);
    else waiter(item);
  }
}
