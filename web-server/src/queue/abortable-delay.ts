/** Waiting that never outlives a stop (STYLE §6): abortable delays and a wake-up a nudge can cut short. */

/** Resolves after `ms`, or rejects with the signal's reason as soon as it is aborted. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted.', 'AbortError');
}

export function isAbortError(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

export type WakeCause = 'timeout' | 'woken' | 'aborted';

/**
 * One waiter at a time sleeps until a timeout, a `wake()` or an abort. A wake that arrives while
 * nobody waits is kept, so the next wait returns at once (no lost wake-up between a look and a wait).
 */
export class Wakeup {
  private pending = false;
  private release: ((cause: WakeCause) => void) | undefined;

  wake(): void {
    if (this.release) this.release('woken');
    else this.pending = true;
  }

  wait(ms: number, signal: AbortSignal): Promise<WakeCause> {
    if (signal.aborted) return Promise.resolve('aborted');
    if (this.pending) {
      this.pending = false;
      return Promise.resolve('woken');
    }
    return new Promise((resolve) => {
      const finish = (cause: WakeCause): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.release = undefined;
        resolve(cause);
      };
      const onAbort = (): void => finish('aborted');
      const timer = setTimeout(() => finish('timeout'), ms);
      signal.addEventListener('abort', onAbort, { once: true });
      this.release = finish;
    });
  }
}
