/**
 * POST /heartbeat every `intervalMs`. The answer may ask for a cancel (a cancel whose /cancel call
 * did not get through) or say the execution is final; failures are logged and the next beat comes
 * on schedule.
 */
import type { Logger } from 'pino';
import type { Status } from '../../common/status.js';
import { isExecutionFinal, type ContainerApiClient } from './api-client.js';
import { delay } from './retry.js';

export interface HeartbeatOptions {
  client: Pick<ContainerApiClient, 'heartbeat'>;
  intervalMs: number;
  logger: Logger;
  onCancelRequested: () => void;
  onFinal: (status: Status | undefined) => void;
}

export class Heartbeat {
  private readonly halt = new AbortController();
  private loop: Promise<void> | undefined;
  private beats = 0;

  constructor(private readonly options: HeartbeatOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.halt.abort();
    await this.loop;
  }

  /** Heartbeats answered so far. */
  get answered(): number {
    return this.beats;
  }

  private async run(): Promise<void> {
    const { client, logger } = this.options;
    const interval = Math.max(10, this.options.intervalMs);
    while (!this.halt.signal.aborted) {
      try {
        const answer = await client.heartbeat(this.halt.signal);
        this.beats += 1;
        if (answer.final) this.options.onFinal(answer.status);
        else if (answer.cancelRequested) this.options.onCancelRequested();
      } catch (e) {
        if (this.halt.signal.aborted) return;
        if (isExecutionFinal(e)) this.options.onFinal(undefined);
        else logger.warn({ err: e }, 'Heartbeat failed; the next one follows on schedule.');
      }
      await delay(interval, this.halt.signal);
    }
  }
}
