/**
 * Launches one claimed execution (DESIGN §3 step 4): builds its launch plan with the execution's
 * token, launches it through the runtime (idempotent by execution id), retries transient failures
 * in place with jittered exponential back-off while keeping the lease, and moves the execution to
 * PREPARING, or to EXECUTION_STOPPED with a reason. Every write is fenced by the claim; a launch
 * that lost a race with a cancel tears down what it created.
 */
import type { Knex } from 'knex';
import type { Clock } from '../../../common/clock.js';
import { CONTAINER_ENV } from '../../../common/control-api.js';
import { isCaissonError } from '../../../common/errors.js';
import { isFlowFinal } from '../../../common/status.js';
import type { ExecTokens } from '../executions/exec-token.js';
import { findExecution, type ExecutionRow } from '../executions/executions-store.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import { RuntimeError, type ContainerRuntime, type LaunchPlan, type LaunchResult } from '../runtime/container-runtime.js';
import { delay } from './abortable-delay.js';
import { markPreparing, markPreparingMany, markStopped, renewLease, type PreparingItem } from './claims-store.js';
import { Coalescer, type ItemOutcome } from './coalescer.js';

export type DispatchOutcome = 'launched' | 'stopped' | 'lost' | 'cancelled';

export interface DispatchRetry {
  /** Launch attempts before the execution ends EXECUTION_STOPPED (the first one included). */
  maxAttempts: number;
  /** Back-off before the second attempt; it doubles up to `maxMs`, with jitter. */
  baseMs: number;
  maxMs: number;
}

export interface DispatcherDeps {
  db: Knex;
  runtime: ContainerRuntime;
  clock: Clock;
  log: Logger;
  tokens: ExecTokens;
  buildLaunchPlan: (row: ExecutionRow) => Promise<LaunchPlan>;
  /** This replica's claimer id (execution_flows.claimed_by). */
  claimer: string;
  leaseMs: number;
  retry: DispatchRetry;
  /** Source of jitter in [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
  metrics?: Metrics;
  /** Wakes the local queue processor (a flow retry was just submitted). */
  nudge?: () => void;
}

/** Back-off before attempt `attempt + 1`: base·2^(attempt−1), capped, with "equal jitter" (half fixed, half random). */
export function launchBackoffMs(attempt: number, retry: DispatchRetry, random: () => number): number {
  const ceiling = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

function isTransient(e: unknown): boolean {
  if (e instanceof RuntimeError) return e.transient;
  if (isCaissonError(e)) return e.retryable;
  // An unexpected error from a runtime (a dropped connection, say): retried, within maxAttempts.
  return true;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Claims and takeovers of one execution before it ends EXECUTION_STOPPED. */
export const MAX_DISPATCH_ATTEMPTS = 10;

export class Dispatcher {
  private readonly log: Logger;
  private readonly random: () => number;
  /** Launches that complete together share one DISPATCHING → PREPARING transaction. */
  private readonly preparing: Coalescer<PreparingItem, { moved: boolean; now: number }>;

  constructor(private readonly deps: DispatcherDeps) {
    this.log = deps.log.child({ component: 'dispatcher', claimer: deps.claimer });
    this.random = deps.random ?? Math.random;
    this.preparing = new Coalescer((items) => this.markPreparingBatch(items));
  }

  /** The fenced DISPATCHING → PREPARING writes of a batch; `now` is the time of the write. */
  private async markPreparingBatch(items: PreparingItem[]): Promise<ItemOutcome<{ moved: boolean; now: number }>[]> {
    const { db, claimer, clock } = this.deps;
    const one = async (item: PreparingItem): Promise<ItemOutcome<{ moved: boolean; now: number }>> => {
      const now = clock.now();
      try {
        return { value: { moved: await markPreparing(db, item.execId, claimer, now, item.runtimeInfo), now } };
      } catch (error) {
        return { error };
      }
    };
    if (items.length === 1) return [await one(items[0]!)];
    const now = clock.now();
    try {
      const moved = await markPreparingMany(db, claimer, now, items);
      return items.map((i) => ({ value: { moved: moved.has(i.execId), now } }));
    } catch (e) {
      // A deadlock or a lost connection fails the batch; each execution then gets its own write.
      this.log.warn(
        { err: messageOf(e), count: items.length },
        `The batched DISPATCHING → PREPARING of ${items.length} executions failed (${messageOf(e)}); writing them one by one.`,
      );
      return Promise.all(items.map(one));
    }
  }

  /**
   * Dispatches one execution claimed by this dispatcher's claimer. Rejects with the signal's
   * reason when aborted during a back-off (the claim then expires and is taken over), and with
   * database errors (likewise: the lease makes them safe to leave).
   */
  async dispatch(row: ExecutionRow, signal?: AbortSignal): Promise<DispatchOutcome> {
    signal?.throwIfAborted();
    const { execId } = row;
    const log = this.log.child({ execId, attempt: row.attempt });
    if (!row.tokenNonce) return this.stop(row, log, 'the execution has no token: it was never claimed', false);
    // Each claim or takeover counts one dispatch attempt; a dispatch that keeps dying without a
    // verdict (an unexpected error, a crashing replica) must end rather than be taken over forever.
    if (row.attempt > MAX_DISPATCH_ATTEMPTS) {
      return this.stop(row, log, `dispatch was attempted ${row.attempt - 1} times without reaching the runtime; giving up`, false);
    }

    let plan: LaunchPlan;
    try {
      plan = await this.deps.buildLaunchPlan(row);
    } catch (e) {
      if (isCaissonError(e)) {
        this.deps.metrics?.launchFailures.inc({ reason: 'launch_plan' });
        return this.stop(row, log, messageOf(e), false);
      }
      throw e;
    }
    // The token derives from the nonce stored at claim: a retried or adopted launch carries the same one.
    plan = {
      ...plan,
      env: { ...plan.env, [CONTAINER_ENV.execId]: String(execId), [CONTAINER_ENV.token]: this.deps.tokens.tokenFor(row.tokenNonce) },
    };

    const { maxAttempts } = this.deps.retry;
    let leaseUntil = row.leaseUntil ?? 0;
    const startedAt = this.deps.clock.now();
    for (let attempt = 1; ; attempt++) {
      const now = this.deps.clock.now();
      // Keep the claim: renew before each retry, and before a first launch that waited long in the limiter.
      if (attempt > 1 || now >= leaseUntil - this.deps.leaseMs / 2) {
        if (!(await renewLease(this.deps.db, execId, this.deps.claimer, now, this.deps.leaseMs))) {
          return this.afterLostClaim(row, log, attempt > 1);
        }
        leaseUntil = now + this.deps.leaseMs;
      }
      let result: LaunchResult;
      try {
        result = await this.deps.runtime.launch(plan);
      } catch (e) {
        const message = messageOf(e);
        const transient = isTransient(e);
        this.deps.metrics?.launchFailures.inc({
          reason: !transient ? 'permanent' : attempt >= maxAttempts ? 'retries_exhausted' : 'transient',
        });
        if (!transient) return this.stop(row, log, `the launch failed: ${message}`, true);
        if (attempt >= maxAttempts) {
          return this.stop(row, log, `the launch failed ${attempt} times; last error: ${message}`, true);
        }
        const waitMs = launchBackoffMs(attempt, this.deps.retry, this.random);
        log.warn(
          { launchAttempt: attempt, maxAttempts, waitMs, err: message },
          `Launch attempt ${attempt} of ${maxAttempts} of execution ${execId} failed (${message}); retrying in ${waitMs} ms.`,
        );
        await delay(waitMs, signal);
        continue;
      }
      const { moved, now: now2 } = await this.preparing.submit({ execId, runtimeInfo: result.runtimeInfo });
      if (moved) {
        // DISPATCHING began at the claim (or takeover), the claimed row's update_time.
        this.deps.metrics?.observeStage('dispatching_to_preparing', row.updateTime, now2);
        this.deps.metrics?.launches.inc({ result: result.adopted ? 'adopted' : 'launched' });
        log.info(
          { launchAttempts: attempt, adopted: result.adopted, tookMs: now2 - startedAt },
          `Execution ${execId} ${result.adopted ? 'adopted its existing container' : 'launched'} after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${now2 - startedAt} ms; it is PREPARING.`,
        );
        return 'launched';
      }
      return this.afterLostClaim(row, log, true);
    }
  }

  /** Ends the execution EXECUTION_STOPPED (fenced by the claim) and removes whatever a failed launch left. */
  private async stop(row: ExecutionRow, log: Logger, reason: string, launchTried: boolean): Promise<DispatchOutcome> {
    const { execId } = row;
    const stopped = await markStopped(this.deps.db, execId, this.deps.claimer, this.deps.clock.now(), reason);
    if (stopped.retried) this.deps.nudge?.();
    if (stopped.moved) {
      log.warn({ reason }, `Execution ${execId} ended EXECUTION_STOPPED: ${reason}`);
      if (launchTried)
        await this.deps.runtime
          .cleanup(execId)
          .catch((e: unknown) => log.warn({ err: messageOf(e) }, `Cleanup of execution ${execId} failed: ${messageOf(e)}`));
      return 'stopped';
    }
    return this.afterLostClaim(row, log, launchTried);
  }

  /**
   * A fenced write moved nothing: either the execution ended meanwhile (a cancel) — then what this
   * launch created is torn down — or another replica took the claim over and adopts the container.
   */
  private async afterLostClaim(row: ExecutionRow, log: Logger, launched: boolean): Promise<DispatchOutcome> {
    const { execId } = row;
    const current = await findExecution(this.deps.db, execId);
    if (!current || isFlowFinal(current.status)) {
      log.info(
        { status: current?.status ?? null },
        `Execution ${execId} ended (${current?.status ?? 'deleted'}) while it was being launched; tearing down what was created.`,
      );
      if (launched) await this.tearDown(execId, log);
      return 'cancelled';
    }
    log.info(
      { status: current.status, claimedBy: current.claimedBy },
      `Execution ${execId} is now ${current.status} claimed by ${current.claimedBy ?? 'nobody'}; this replica lost its claim and leaves the container to it.`,
    );
    return 'lost';
  }

  private async tearDown(execId: number, log: Logger): Promise<void> {
    try {
      await this.deps.runtime.stopContainer(execId, 0);
      await this.deps.runtime.cleanup(execId);
    } catch (e) {
      // The periodic sweep removes containers with no live execution.
      log.warn({ err: messageOf(e) }, `Tearing down the container of execution ${execId} failed: ${messageOf(e)}`);
    }
  }
}
