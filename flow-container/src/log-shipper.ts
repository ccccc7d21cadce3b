/**
 * Ships every log file of the execution to the server with PUT /logs, in order and idempotently
 * by byte offset (DESIGN §4): a file is shipped when `intervalMs` passed since its last shipment
 * or `thresholdBytes` are pending, in chunks of at most `maxChunkBytes` read from disk one at a
 * time (a 200 MB log never sits in memory), each ending on a whole UTF-8 character. When the
 * server's LogAck reports another `storedUntil` than expected, shipping resumes from there.
 * Unreachable server or 5xx: retried with back-off. 409 EXECUTION_FINAL or 401: shipping stops.
 * `flushAll()` ships everything written so far and resolves once the server has it all.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../common/clock.js';
import { isRetryable, isExecutionFinal, type ContainerApiClient } from './api-client.js';
import { CaissonError } from '../../common/errors.js';
import { fileSize, LogRegistry, readLogBytes, type LogFile } from './log-files.js';
import { backoffDelay, delay, DEFAULT_BACKOFF, type BackoffOptions } from './retry.js';

export interface LogShipperOptions {
  client: Pick<ContainerApiClient, 'putLog'>;
  logs: LogRegistry;
  intervalMs: number;
  thresholdBytes: number;
  clock: Clock;
  logger: Logger;
  /** Largest PUT body; the server stores at most 1 MiB per chunk. */
  maxChunkBytes?: number;
  /** How often file sizes are checked, ms. */
  pollMs?: number;
  backoff?: BackoffOptions;
}

interface Tracked {
  file: LogFile;
  /** Bytes the server holds contiguously from 0. */
  shipped: number;
  lastShipAt: number;
  failures: number;
  retryAt: number;
  gaveUp: boolean;
}

export const MAX_LOG_CHUNK_BYTES = 1024 * 1024;

export class LogShipper {
  private readonly tracked = new Map<string, Tracked>();
  private readonly wake = new AbortController();
  private readonly halt = new AbortController();
  private loop: Promise<void> | undefined;
  private looping = false;
  private refused = false;
  private readonly maxChunk: number;
  private readonly pollMs: number;

  constructor(private readonly options: LogShipperOptions) {
    this.maxChunk = Math.max(1, Math.min(options.maxChunkBytes ?? MAX_LOG_CHUNK_BYTES, MAX_LOG_CHUNK_BYTES));
    this.pollMs = options.pollMs ?? Math.max(10, Math.min(250, options.intervalMs));
  }

  start(): void {
    if (this.loop !== undefined) return;
    this.looping = true;
    this.loop = this.runLoop();
  }

  /** Ships every byte written so far (retrying while the server is unreachable) and stops the periodic loop. */
  async flushAll(): Promise<void> {
    this.looping = false;
    this.wake.abort();
    await this.loop;
    await this.shipDue(true);
  }

  /** Stops at once, abandoning what is not shipped yet (idempotent). */
  async stop(): Promise<void> {
    this.looping = false;
    this.wake.abort();
    this.halt.abort();
    await this.loop;
  }

  /** Bytes of each log acknowledged by the server, by registry key (for tests and diagnostics). */
  shippedBytes(): Map<string, number> {
    return new Map([...this.tracked].map(([k, t]) => [k, t.shipped]));
  }

  private async runLoop(): Promise<void> {
    while (this.looping && !this.halt.signal.aborted) {
      try {
        await this.shipDue(false);
      } catch (e) {
        this.options.logger.error({ err: e }, 'Log shipping failed unexpectedly; trying again.');
      }
      await delay(this.pollMs, this.wake.signal);
    }
  }

  private trackedFor(file: LogFile): Tracked {
    const key = LogRegistry.keyOf(file.key);
    let t = this.tracked.get(key);
    if (t === undefined) {
      t = { file, shipped: 0, lastShipAt: this.options.clock.now(), failures: 0, retryAt: 0, gaveUp: false };
      this.tracked.set(key, t);
    }
    return t;
  }

  private async shipDue(drain: boolean): Promise<void> {
    const { clock, thresholdBytes, intervalMs } = this.options;
    for (const file of this.options.logs.all()) {
      if (this.refused || this.halt.signal.aborted) return;
      const t = this.trackedFor(file);
      if (t.gaveUp || (!drain && clock.now() < t.retryAt)) continue;
      const pending = (await fileSize(file.path)) - t.shipped;
      if (pending <= 0) continue;
      const due = drain || file.complete || pending >= thresholdBytes || clock.now() - t.lastShipAt >= intervalMs;
      if (due) await this.shipFile(t, drain);
    }
  }

  /** Ships the file up to its current end (drain: retrying failures until done). */
  private async shipFile(t: Tracked, drain: boolean): Promise<void> {
    const { client, clock, logger } = this.options;
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF;
    const logName = t.file.key.job === undefined ? 'flow log' : `log of job ${t.file.key.job} attempt ${t.file.key.attempt}`;
    while (!this.refused && !t.gaveUp && !this.halt.signal.aborted) {
      let { bytes } = await readLogBytes(t.file.path, t.shipped, this.maxChunk, true);
      if (bytes.length === 0 && t.file.complete && (await fileSize(t.file.path)) > t.shipped) {
        // A finished file ending in an incomplete character: ship those bytes as they are.
        ({ bytes } = await readLogBytes(t.file.path, t.shipped, this.maxChunk, false));
      }
      if (bytes.length === 0) return;
      try {
        const ack = await client.putLog(t.file.key, t.shipped, bytes, this.halt.signal);
        const expected = t.shipped + bytes.length;
        if (typeof ack.storedUntil !== 'number' || !Number.isSafeInteger(ack.storedUntil) || ack.storedUntil < 0) {
          throw new CaissonError('UNAVAILABLE', `invalid LogAck ${JSON.stringify(ack)}`, { retryable: true });
        }
        if (ack.storedUntil !== expected) {
          logger.warn(
            { log: logName, sent: expected, storedUntil: ack.storedUntil },
            `The server holds ${ack.storedUntil} bytes of the ${logName}, not ${expected}; resuming from there.`,
          );
        }
        const progressed = ack.storedUntil > t.shipped;
        t.shipped = ack.storedUntil;
        t.lastShipAt = clock.now();
        if (progressed) {
          t.failures = 0;
          continue;
        }
        t.failures += 1;
      } catch (e) {
        if (isExecutionFinal(e) || (e instanceof CaissonError && e.code === 'UNAUTHENTICATED')) {
          this.refused = true;
          logger.warn({ err: e }, 'The server no longer accepts logs for this execution; log shipping stops.');
          return;
        }
        if (this.halt.signal.aborted) return;
        if (!isRetryable(e)) {
          t.gaveUp = true;
          logger.error({ err: e, log: logName }, `The server refused the ${logName}; it is not shipped any further.`);
          return;
        }
        t.failures += 1;
        logger.warn({ err: e, log: logName, failures: t.failures }, `Shipping the ${logName} failed; retrying.`);
      }
      const wait = backoffDelay(t.failures - 1, backoff);
      if (!drain) {
        t.retryAt = clock.now() + wait;
        return;
      }
      await delay(wait, this.halt.signal);
    }
  }
}
