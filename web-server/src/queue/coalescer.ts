/**
 * Group commit for the dispatch path: callers submit one item each and get their own answer, while
 * the items that arrive together (in the same turn of the event loop, or while the previous batch
 * is being written) are handed to one batch function — one statement or transaction for many
 * executions instead of one each. An idle coalescer adds one setImmediate of latency; a busy one
 * batches by itself. Pure scheduling: the batch function does the I/O.
 */

/** The answer for one item of a batch: its value, or the error that concerns it alone. */
export type ItemOutcome<O> = { value: O } | { error: unknown };

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export class Coalescer<I, O> {
  private pending: Pending<I, O>[] = [];
  private draining = false;
  private scheduled = false;

  /**
   * `flush` answers each item, in order; when it throws, every item of that batch is rejected with
   * the error (a database that is down fails each caller, as one-at-a-time writes would).
   */
  constructor(
    private readonly flush: (items: I[]) => Promise<ItemOutcome<O>[]>,
    private readonly maxBatch = 500,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.draining || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        let outcomes: ItemOutcome<O>[];
        try {
          outcomes = await this.flush(batch.map((p) => p.item));
        } catch (e) {
          for (const p of batch) p.reject(e);
          continue;
        }
        batch.forEach((p, i) => {
          const o = outcomes[i];
          if (!o) p.reject(new Error(`the batch answered ${outcomes.length} of ${batch.length} items`));
          else if ('error' in o) p.reject(o.error);
          else p.resolve(o.value);
        });
      }
    } finally {
      this.draining = false;
    }
  }
}
