/**
 * Holds a named lease while the process runs: tries to take it every third of its duration, and
 * calls `onAcquired` / `onLost` when leadership changes. Work that must run on one replica at a
 * time (the pod watch, the cleanup sweep) starts and stops with it.
 */
import type { Knex } from 'knex';
import type { Clock } from '../../../common/clock.js';
import type { Logger } from '../log.js';
import { acquireLease, releaseLease } from './lease-store.js';

export interface LeaderLeaseOptions {
  db: Knex;
  clock: Clock;
  log: Logger;
  name: string;
  holder: string;
  durationMs: number;
  onAcquired: () => void | Promise<void>;
  onLost: () => void | Promise<void>;
}

export class LeaderLease {
  private timer: NodeJS.Timeout | undefined;
  private leader = false;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: LeaderLeaseOptions) {}

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule(Math.max(200, Math.floor(this.o.durationMs / 3))));
    }, ms);
    this.timer.unref();
  }

  /** One attempt to take or renew the lease. */
  async tick(): Promise<void> {
    const { db, clock, name, holder, durationMs, log } = this.o;
    let held: boolean;
    try {
      held = await acquireLease(db, name, holder, clock.now(), durationMs);
    } catch (e) {
      log.warn({ err: e, lease: name }, `renewing the lease ${name} failed; will retry`);
      // Without a renewal the lease may expire and be taken: stop leading before that can happen.
      held = false;
    }
    if (this.stopped) return;
    if (held && !this.leader) {
      this.leader = true;
      log.info({ lease: name, holder }, `This replica now holds the lease ${name}.`);
      await this.o.onAcquired();
    } else if (!held && this.leader) {
      this.leader = false;
      log.warn({ lease: name, holder }, `This replica lost the lease ${name}.`);
      await this.o.onLost();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    if (this.leader) {
      this.leader = false;
      await this.o.onLost();
      await releaseLease(this.o.db, this.o.name, this.o.holder).catch(() => undefined);
    }
  }
}
