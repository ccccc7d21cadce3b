/**
 * The launch limiter of the dispatch loop (DESIGN §3 step 4): at most `maxConcurrent` launches at
 * once, and starts spaced by 1000 / perSecond ms on average, in FIFO order. It replaces bottleneck
 * on this path: bottleneck registers each job after a setTimeout(0), one job at a time, which caps
 * it near one job per timer tick (~300 jobs/s on a busy 2-core machine, benchmark 1) whatever the
 * configured rate. Here jobs whose start time has come are started in the same turn of the loop.
 */

/** Why a waiting job was dropped (stop with dropWaitingJobs). */
export class LimiterStoppedError extends Error {
  constructor() {
    super('This limiter has been stopped.');
    this.name = 'LimiterStoppedError';
  }
}

interface Waiting {
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Starts due within this many ms of now are started at once (timers are not finer than 1 ms). */
const START_SLACK_MS = 1;
/** How far behind schedule the limiter may fall and still catch up (a short burst, never more than this window's worth). */
const CATCH_UP_MS = 100;

export class LaunchLimiter {
  private readonly queue: Waiting[] = [];
  private readonly spacingMs: number;
  private running = 0;
  /** performance.now() at which the next job may start. */
  private nextStartAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly maxConcurrent: number,
    perSecond: number,
  ) {
    this.spacingMs = perSecond > 0 ? 1000 / perSecond : 0;
  }

  /** Runs `fn` when a slot and a start are available; rejects with LimiterStoppedError once stopped. */
  schedule<T>(fn: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new LimiterStoppedError());
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: fn, resolve: resolve as (value: unknown) => void, reject });
      this.pump();
    });
  }

  /** Jobs waiting for a slot or a start. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Refuses new jobs; with dropWaitingJobs, rejects the waiting ones. Running jobs are not touched. */
  stop(options: { dropWaitingJobs: boolean }): void {
    this.stopped = true;
    if (!options.dropWaitingJobs) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.queue.splice(0)) w.reject(new LimiterStoppedError());
  }

  private pump(): void {
    if (this.timer) return;
    while (this.queue.length > 0 && this.running < this.maxConcurrent) {
      const now = performance.now();
      if (this.nextStartAt > now + START_SLACK_MS) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, this.nextStartAt - now);
        return;
      }
      // A timer that fires late does not lower the rate: starts owed from the last CATCH_UP_MS are made up.
      // After an idle spell the schedule starts again from now.
      this.nextStartAt = (this.nextStartAt >= now - CATCH_UP_MS ? this.nextStartAt : now) + this.spacingMs;
      const w = this.queue.shift()!;
      this.running++;
      let p: Promise<unknown>;
      try {
        p = w.run();
      } catch (e) {
        p = Promise.reject(e);
      }
      void p.then(w.resolve, w.reject).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }
}
