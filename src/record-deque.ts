/**
 * The idle set of a QueuePool: a growable ring buffer, so both FIFO (`shift`) and LIFO (`pop`)
 * checkouts and every return are O(1) whatever the pool size. `Array.prototype.shift` is O(n).
 */
export class RecordDeque<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(16);
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) & (this.#items.length - 1)] = item;
    this.#length++;
  }

  /** Oldest first (FIFO). */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const items = this.#items;
    const item = items[this.#head];
    items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (items.length - 1);
    this.#length--;
    return item;
  }

  /** Newest first (LIFO). */
  pop(): T | undefined {
    if (this.#length === 0) return undefined;
    this.#length--;
    const index = (this.#head + this.#length) & (this.#items.length - 1);
    const item = this.#items[index];
    this.#items[index] = undefined;
    return item;
  }

  /** Put an item back at the oldest end (a keep-alive ping is not a use: the record keeps its turn). */
  unshift(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#head = (this.#head - 1) & (this.#items.length - 1);
    this.#items[this.#head] = item;
    this.#length++;
  }

  /** The first item (oldest first) that `test` accepts, removed; O(n), for background maintenance only. */
  takeFirst(test: (item: T) => boolean): T | undefined {
    const items = this.drain();
    const index = items.findIndex(test);
    for (let i = 0; i < items.length; i++) if (i !== index) this.push(items[i] as T);
    return index === -1 ? undefined : items[index];
  }

  /** Remove and return everything, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  #grow(): void {
    const old = this.#items;
    const items = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#length; i++) items[i] = old[(this.#head + i) & (old.length - 1)];
    this.#items = items;
    this.#head = 0;
  }
}
