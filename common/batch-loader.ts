/**
 * Reads by key in batches, so that many concurrent readers cost a few database round trips
 * instead of one each (status pollers: each round trip costs the web server more CPU than the
 * rest of the request).
 *
 * A key asked while no batch is waiting starts one at the end of the current tick. A key asked
 * while batches are being read joins the next batch, which is sent as soon as fewer than
 * `maxInFlight` are in flight. A reader therefore never gets a value read before it asked (no
 * stale answer), and an idle loader adds no delay. Every reader of a key in one batch gets the
 * same value; an error rejects every reader of the batch that failed.
 */
export interface BatchLoaderOptions {
  /** Most keys per read; more waiting keys are split into several batches. */
  maxBatch: number;
  /** Most batches being read at once. */
  maxInFlight: number;
}

interface Waiter<V> {
  resolve: (v: V | undefined) => void;
  reject: (e: unknown) => void;
}

export class BatchLoader<K, V> {
  private waiting = new Map<K, Waiter<V>[]>();
  private scheduled = false;
  private inFlight = 0;

  constructor(
    /** Reads the values of `keys`; a key missing from the answer resolves to undefined. */
    private readonly readMany: (keys: K[]) => Promise<Map<K, V>>,
    private readonly options: BatchLoaderOptions = { maxBatch: 100, maxInFlight: 2 },
  ) {
    if (!(options.maxBatch >= 1) || !(options.maxInFlight >= 1)) throw new Error('maxBatch and maxInFlight must be at least 1');
  }

  load(key: K): Promise<V | undefined> {
    return new Promise<V | undefined>((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      this.schedule();
    });
  }

  /** Batches being read now (for tests and metrics). */
  get readsInFlight(): number {
    return this.inFlight;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight) return;
    this.scheduled = true;
    // Keys asked in the same tick share the batch.
    queueMicrotask(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.waiting.size > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = new Map<K, Waiter<V>[]>();
      for (const [key, list] of this.waiting) {
        if (batch.size >= this.options.maxBatch) break;
        batch.set(key, list);
      }
      for (const key of batch.keys()) this.waiting.delete(key);
      this.inFlight++;
      void this.read(batch);
    }
  }

  private async read(batch: Map<K, Waiter<V>[]>): Promise<void> {
    try {
      const values = await this.readMany([...batch.keys()]);
      for (const [key, list] of batch) for (const w of list) w.resolve(values.get(key));
    } catch (e) {
      for (const list of batch.values()) for (const w of list) w.reject(e);
    } finally {
      this.inFlight--;
      if (this.waiting.size > 0) this.schedule();
    }
  }
}
