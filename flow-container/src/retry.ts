/** Waiting between attempts: an abortable delay and jittered exponential back-off. */

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface BackoffOptions {
  /** First wait, in ms. */
  initialMs: number;
  /** Longest wait, in ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

/**
 * Wait before retry number `attempt` (0 for the first retry): exponential up to `maxMs`, with "equal
 * jitter" (half fixed, half random) so that containers restarting together do not retry in step.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface RetryOptions {
  signal?: AbortSignal;
  backoff?: BackoffOptions;
  /** Give up once this many ms passed since the first attempt. */
  giveUpAfterMs?: number;
  /** Whether an error is worth another attempt. */
  isRetryable: (e: unknown) => boolean;
  onRetry?: (e: unknown, attempt: number, waitMs: number) => void;
}

/** Calls `call` until it succeeds, an error is not retryable, time is up, or `signal` aborts (rethrows the last error). */
export async function withRetries<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await call();
    } catch (e) {
      const timeUp = options.giveUpAfterMs !== undefined && Date.now() - started >= options.giveUpAfterMs;
      if (options.signal?.aborted || timeUp || !options.isRetryable(e)) throw e;
      const wait = backoffDelay(attempt, options.backoff);
      options.onRetry?.(e, attempt + 1, wait);
      await delay(wait, options.signal);
      if (options.signal?.aborted) throw e;
    }
  }
}
