/**
 * A map bounded to `maxEntries` and, optionally, to a total weight (bytes, say), least recently
 * used first out (a Map iterates in insertion order). A value heavier than the whole budget is not
 * kept.
 */
export interface LruWeight<V> {
  maxWeight: number;
  weigh: (value: V) => number;
}

export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();
  private weight = 0;

  constructor(
    readonly maxEntries: number,
    private readonly budget?: LruWeight<V>,
  ) {}

  get(key: K): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.delete(key);
    const w = this.budget ? this.budget.weigh(value) : 0;
    if (this.maxEntries <= 0 || (this.budget && w > this.budget.maxWeight)) return;
    while (this.entries.size >= this.maxEntries || (this.budget && this.weight + w > this.budget.maxWeight)) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    this.entries.set(key, value);
    this.weight += w;
  }

  delete(key: K): void {
    const v = this.entries.get(key);
    if (v === undefined) return;
    this.entries.delete(key);
    if (this.budget) this.weight -= this.budget.weigh(v);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Total weight of the values kept (0 without a weight budget). */
  get totalWeight(): number {
    return this.weight;
  }
}
