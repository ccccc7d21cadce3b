/**
 * The Kubernetes client's rate limit, as client-go has it: a bucket of `burst` tokens refilled at
 * `qps` per second; a call takes one token, or waits in FIFO order until one is there. (bottleneck's
 * reservoir refill stalled at high rates and starts each job a timer tick apart: see
 * queue/launch-limiter.ts.)
 */

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`a token bucket needs qps > 0 and burst ≥ 1, got ${qps} and ${burst}`);
    this.tokens = burst;
    this.last = now();
  }

  /** Calls waiting for a token. */
  get waiting(): number {
    return this.waiters.length;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.qps) / 1000);
    this.last = t;
  }

  /** Resolves when the caller may make one call. */
  take(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('the Kubernetes API client has been stopped'));
    this.refill();
    if (this.waiters.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer || this.waiters.length === 0) return;
    const needMs = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.qps));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
      while (this.waiters.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.waiters.shift()!.resolve();
      }
      this.schedule();
    }, needMs);
  }

  /** Rejects every waiting call; later calls are refused. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiters.splice(0)) w.reject(new Error('the Kubernetes API client has been stopped'));
  }
}
