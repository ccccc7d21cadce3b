/**
 * The ordered event reporter (DESIGN §4): numbers events 1, 2, 3, … from the server's `nextSeq`,
 * sends them in batches with POST /events, one request at a time and in order, and drops them once
 * acknowledged. While the server is unreachable or answers 5xx it retries with jittered
 * exponential back-off, so nothing is lost across a web-server restart. When the server says the
 * execution is final (409 EXECUTION_FINAL, 401, or `final: true` in an ack) it stops and calls
 * `onFinal`; later events are dropped.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../common/clock.js';
import type { ContainerEvent, ContainerEventType, EventAck } from '../../common/control-api.js';
import { CaissonError } from '../../common/errors.js';
import type { Status } from '../../common/status.js';
import { isExecutionFinal, isRetryable, type ContainerApiClient } from './api-client.js';
import { backoffDelay, delay, DEFAULT_BACKOFF, type BackoffOptions } from './retry.js';

export interface ReporterOptions {
  client: Pick<ContainerApiClient, 'postEvents'>;
  /** First sequence number to use (RegisterResponse.nextSeq). */
  firstSeq: number;
  clock: Clock;
  logger: Logger;
  /** The server considers the execution final (`status` when it said which). Called once. */
  onFinal: (status: Status | undefined, reason: string) => void;
  backoff?: BackoffOptions;
  maxBatch?: number;
  /** Consecutive refusals (4xx other than final) before giving up. */
  maxRefusals?: number;
}

export class EventReporter {
  private pending: ContainerEvent[] = [];
  private nextSeq: number;
  private lastAcked: number;
  private loop: Promise<void> | undefined;
  private readonly halt = new AbortController();
  private wakeUp: (() => void) | undefined;
  private flushWaiters: (() => void)[] = [];
  private finalSeen = false;
  private stopped = false;

  constructor(private readonly options: ReporterOptions) {
    this.nextSeq = Math.max(1, Math.floor(options.firstSeq));
    this.lastAcked = this.nextSeq - 1;
  }

  /** True once the server said the execution is final. */
  get isFinal(): boolean {
    return this.finalSeen;
  }

  /** Highest sequence number the server acknowledged. */
  get ackedSeq(): number {
    return this.lastAcked;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Queues an event; returns it with its sequence number, or undefined once the reporter stopped. */
  emit(type: ContainerEventType, payload: ContainerEvent['payload']): ContainerEvent | undefined {
    if (this.finalSeen || this.stopped) return undefined;
    const event: ContainerEvent = { seq: this.nextSeq, type, time: this.options.clock.now(), payload };
    this.nextSeq += 1;
    this.pending.push(event);
    this.wakeUp?.();
    return event;
  }

  /** Resolves when every event emitted so far is acknowledged, or the reporter stopped. */
  flush(): Promise<void> {
    if (this.pending.length === 0 || this.finalSeen || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  /** Stops sending (idempotent); unacknowledged events are abandoned. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halt.abort();
    this.wakeUp?.();
    await this.loop;
    this.releaseWaiters();
  }

  private releaseWaiters(): void {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w();
  }

  private becomeFinal(status: Status | undefined, reason: string): void {
    if (this.finalSeen) return;
    this.finalSeen = true;
    this.pending = [];
    this.releaseWaiters();
    this.options.onFinal(status, reason);
  }

  private async run(): Promise<void> {
    const { client, logger } = this.options;
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF;
    const maxBatch = this.options.maxBatch ?? 200;
    const maxRefusals = this.options.maxRefusals ?? 10;
    let failures = 0;
    let refusals = 0;
    while (!this.stopped && !this.finalSeen) {
      if (this.pending.length === 0) {
        this.releaseWaiters();
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        this.wakeUp = undefined;
        continue;
      }
      const batch = this.pending.slice(0, maxBatch);
      let ack: EventAck;
      try {
        ack = await client.postEvents({ events: batch }, this.halt.signal);
      } catch (e) {
        if (this.stopped) return;
        if (isExecutionFinal(e)) {
          logger.info('The server says the execution is final; no more events are sent.');
          this.becomeFinal(undefined, 'EXECUTION_FINAL');
          return;
        }
        if (e instanceof CaissonError && e.code === 'UNAUTHENTICATED') {
          logger.warn({ err: e }, 'The server no longer accepts the execution token; no more events are sent.');
          this.becomeFinal(undefined, 'UNAUTHENTICATED');
          return;
        }
        if (!isRetryable(e)) {
          refusals += 1;
          if (refusals >= maxRefusals) {
            logger.error({ err: e, refusals }, 'The server keeps refusing events; giving up.');
            this.becomeFinal(undefined, 'EVENTS_REFUSED');
            return;
          }
        }
        logger.warn({ err: e, failures: failures + 1, firstSeq: batch[0]?.seq }, 'Sending events failed; retrying.');
        await delay(backoffDelay(failures, backoff), this.halt.signal);
        failures += 1;
        continue;
      }
      refusals = 0;
      const acked = typeof ack.ackedSeq === 'number' ? ack.ackedSeq : this.lastAcked;
      const progressed = acked > this.lastAcked;
      this.lastAcked = Math.max(this.lastAcked, acked);
      this.pending = this.pending.filter((e) => e.seq > this.lastAcked);
      if (ack.final === true) {
        this.becomeFinal(ack.status, 'FINAL_ACK');
        return;
      }
      if (progressed) {
        failures = 0;
      } else {
        logger.warn({ ackedSeq: acked, firstSeq: batch[0]?.seq }, 'The server acknowledged none of the events sent; retrying.');
        await delay(backoffDelay(failures, backoff), this.halt.signal);
        failures += 1;
      }
    }
  }
}
