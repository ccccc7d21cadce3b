/**
 * The dispatch loop of one replica (DESIGN §3 steps 2 and 4; STYLE §5, §6, §11). It takes over
 * expired claims and claims READY executions in batches, hands each to the dispatcher through a
 * launch limiter (launches per second, concurrent launches), and when the queue is empty waits
 * on an abortable delay that backs off from the poll interval to the maximum. A local submit
 * nudges it awake; polling alone keeps it correct. Database errors are logged and retried with
 * back-off; the loop never crashes and never spins.
 */
import { EventEmitter } from 'node:events';
import type { Knex } from 'knex';
import type { Clock } from '../../../common/clock.js';
import { ExecTokens } from '../executions/exec-token.js';
import type { ExecutionRow } from '../executions/executions-store.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import { isAbortError, Wakeup } from './abortable-delay.js';
import { claimReady, takeOverExpired, type MintedToken } from './claims-store.js';
import { LaunchLimiter } from './launch-limiter.js';
import type { DispatchOutcome } from './dispatcher.js';

export interface QueueProcessorDeps {
  db: Knex;
  dispatcher: { dispatch(row: ExecutionRow, signal?: AbortSignal): Promise<DispatchOutcome> };
  tokens: ExecTokens;
  clock: Clock;
  log: Logger;
  /** This replica's claimer id; must be the dispatcher's too. */
  claimer: string;
  leaseMs: number;
  batchSize: number;
  launchesPerSecond: number;
  maxConcurrentLaunches: number;
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  /** Solo mode: most executions active at once. */
  maxActive?: number;
  /** How long stop() lets dispatches in flight finish before aborting them (default 10 s). */
  stopGraceMs?: number;
  metrics?: Metrics;
}

export interface QueueCounters {
  /** READY executions claimed. */
  claimed: number;
  /** Expired claims taken over. */
  takenOver: number;
  launched: number;
  stopped: number;
  lost: number;
  cancelled: number;
  /** Dispatches that ended in an error (database down, aborted): their claims expire and are taken over. */
  failed: number;
  /** Claim or takeover transactions that failed. */
  claimErrors: number;
}

/** A fresh token for a claim: 256 random bits of nonce, and the SHA-256 of the token derived from it. */
export function mintExecToken(tokens: ExecTokens): MintedToken {
  const nonce = tokens.newNonce();
  return { nonce, hash: ExecTokens.hash(tokens.tokenFor(nonce)) };
}

/** After a stop's grace ran out and dispatches were aborted, how long stop() still waits for them. */
const ABORT_WAIT_MS = 1_000;

/** What a processor reports as it works (for tests and metrics). */
export interface QueueProcessorEvents {
  /** A claim found nothing to take (the loop is about to wait). */
  idle: [];
  /** A dispatch ended; `outcome` is 'failed' when it threw (database down, aborted). */
  dispatched: [execId: number, outcome: DispatchOutcome | 'failed'];
}

export class QueueProcessor {
  readonly events = new EventEmitter<QueueProcessorEvents>();
  private readonly log: Logger;
  private readonly limiter: LaunchLimiter;
  private readonly wakeup = new Wakeup();
  private readonly loopAbort = new AbortController();
  private readonly dispatchAbort = new AbortController();
  private readonly inFlight = new Map<number, Promise<void>>();
  /** Most rows claimed but not yet dispatched or dispatching: keeps the limiter fed without hoarding the queue. */
  private readonly capacity: number;
  /**
   * Room needed before claiming again (half a batch): refilling one slot per finished dispatch
   * would cost one claim transaction per execution; half a batch keeps claims batched while the
   * limiter still has the other rows claimed earlier to work on.
   */
  private readonly refillAt: number;
  private readonly counters: QueueCounters = {
    claimed: 0,
    takenOver: 0,
    launched: 0,
    stopped: 0,
    lost: 0,
    cancelled: 0,
    failed: 0,
    claimErrors: 0,
  };
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private nudged = false;
  private waitingForRoom = false;
  private nextTakeoverCheck = 0;

  constructor(private readonly deps: QueueProcessorDeps) {
    this.log = deps.log.child({ component: 'queue-processor', claimer: deps.claimer });
    this.limiter = new LaunchLimiter(deps.maxConcurrentLaunches, deps.launchesPerSecond);
    this.capacity = deps.maxConcurrentLaunches + deps.batchSize;
    this.refillAt = Math.max(1, Math.ceil(deps.batchSize / 2));
    deps.metrics?.setLimiterWaitingSource(() => this.limiter.waiting);
  }

  /** Starts the loop; idempotent. A stopped processor stays stopped. */
  async start(): Promise<void> {
    if (this.loop || this.stopping) return;
    this.log.info(
      {
        batchSize: this.deps.batchSize,
        launchesPerSecond: this.deps.launchesPerSecond,
        maxConcurrentLaunches: this.deps.maxConcurrentLaunches,
      },
      `Queue processor ${this.deps.claimer} started: batches of ${this.deps.batchSize}, at most ${this.deps.launchesPerSecond} launches/s and ${this.deps.maxConcurrentLaunches} at once.`,
    );
    this.loop = this.run();
  }

  /**
   * Stops claiming at once, lets the dispatches in flight finish for up to the grace, then aborts
   * them (their claims expire and another replica takes them over). Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** A local submit: look for work now (and reset the idle back-off). */
  nudge(): void {
    this.nudged = true;
    this.wakeup.wake();
  }

  stats(): Readonly<QueueCounters> {
    return { ...this.counters };
  }

  /** Executions handed to the dispatcher and not finished yet. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private async shutdown(): Promise<void> {
    this.loopAbort.abort();
    if (!this.loop) return;
    await this.loop;
    const started = Date.now();
    const grace = this.deps.stopGraceMs ?? 10_000;
    if (!(await settlesWithin([...this.inFlight.values()], grace))) {
      this.log.warn(
        { inFlight: this.inFlight.size, graceMs: grace },
        `${this.inFlight.size} dispatches were still in flight after ${grace} ms; aborting them (their claims will be taken over).`,
      );
      this.dispatchAbort.abort();
      this.limiter.stop({ dropWaitingJobs: true });
      await settlesWithin([...this.inFlight.values()], ABORT_WAIT_MS);
    }
    this.log.info({ tookMs: Date.now() - started, counters: this.counters }, `Queue processor ${this.deps.claimer} stopped.`);
  }

  private async run(): Promise<void> {
    const signal = this.loopAbort.signal;
    const { pollIntervalMs, maxPollIntervalMs } = this.deps;
    let idleWait = pollIntervalMs;
    let errorWait = pollIntervalMs;
    while (!signal.aborted) {
      const room = this.capacity - this.inFlight.size;
      if (room < this.refillAt) {
        // Full: a finishing dispatch wakes the loop (the timeout only guards against a missed wake).
        this.waitingForRoom = true;
        await this.wakeup.wait(maxPollIntervalMs, signal);
        this.waitingForRoom = false;
        continue;
      }
      this.nudged = false;
      let rows: ExecutionRow[];
      try {
        rows = await this.claimBatch(room);
        errorWait = pollIntervalMs;
      } catch (e) {
        this.counters.claimErrors++;
        this.log.error(
          { err: e, retryInMs: errorWait },
          `Claiming executions failed (${e instanceof Error ? e.message : String(e)}); retrying in ${errorWait} ms.`,
        );
        // Nudges do not cut this wait short: a failing database is not hammered.
        await sleepUnlessAborted(errorWait, signal);
        errorWait = Math.min(errorWait * 2, maxPollIntervalMs);
        continue;
      }
      // Rows claimed while stop() began are ours: they are dispatched within the stop's grace.
      for (const row of rows) this.hand(row);
      if (rows.length > 0) {
        idleWait = pollIntervalMs;
        continue;
      }
      this.events.emit('idle');
      const cause = await this.wakeup.wait(idleWait, signal);
      idleWait = cause === 'woken' && this.nudged ? pollIntervalMs : Math.min(idleWait * 2, maxPollIntervalMs);
    }
  }

  private async claimBatch(room: number): Promise<ExecutionRow[]> {
    const { db, claimer, leaseMs, clock } = this.deps;
    const limit = Math.min(room, this.deps.batchSize);
    const rows: ExecutionRow[] = [];
    // Expired claims are rare: look for them at most once per poll interval.
    if (performance.now() >= this.nextTakeoverCheck) {
      this.nextTakeoverCheck = performance.now() + this.deps.pollIntervalMs;
      const taken = await takeOverExpired(db, { claimer, now: clock.now(), leaseMs, limit });
      if (taken.length > 0) {
        this.counters.takenOver += taken.length;
        this.log.info(
          { count: taken.length, execIds: taken.map((r) => r.execId) },
          `Took over ${taken.length} executions whose claims expired.`,
        );
      }
      rows.push(...taken);
    }
    if (rows.length < limit) {
      const claimed = await claimReady(db, {
        claimer,
        now: clock.now(),
        leaseMs,
        limit: limit - rows.length,
        ...(this.deps.maxActive !== undefined ? { maxActive: this.deps.maxActive } : {}),
        mintToken: () => mintExecToken(this.deps.tokens),
      });
      this.counters.claimed += claimed.length;
      // A claimed row's update_time is the claim's `now`.
      for (const r of claimed) this.deps.metrics?.observeStage('ready_to_dispatching', r.submitTime, r.updateTime);
      if (claimed.length > 0) this.log.debug({ count: claimed.length }, `Claimed ${claimed.length} executions.`);
      rows.push(...claimed);
    }
    return rows;
  }

  private hand(row: ExecutionRow): void {
    // Our own expired claim taken over by ourselves: the dispatch in flight still owns it.
    if (this.inFlight.has(row.execId)) return;
    const signal = this.dispatchAbort.signal;
    const run = async (): Promise<DispatchOutcome> => {
      signal.throwIfAborted();
      return this.deps.dispatcher.dispatch(row, signal);
    };
    const done = this.limiter
      .schedule(run)
      .then(
        (outcome) => {
          this.counters[outcome]++;
          this.events.emit('dispatched', row.execId, outcome);
        },
        (e: unknown) => {
          this.counters.failed++;
          if (isAbortError(e) || signal.aborted) {
            this.log.info(
              { execId: row.execId },
              `Dispatch of execution ${row.execId} was abandoned at stop; its claim will be taken over.`,
            );
          } else {
            this.log.error(
              { execId: row.execId, err: e },
              `Dispatch of execution ${row.execId} failed (${e instanceof Error ? e.message : String(e)}); its claim will be taken over when it expires.`,
            );
          }
          this.events.emit('dispatched', row.execId, 'failed');
        },
      )
      .finally(() => {
        this.inFlight.delete(row.execId);
        if (this.waitingForRoom && this.capacity - this.inFlight.size >= this.refillAt) this.wakeup.wake();
      });
    this.inFlight.set(row.execId, done);
  }
}

async function settlesWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const finish = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener('abort', finish, { once: true });
  });
}
