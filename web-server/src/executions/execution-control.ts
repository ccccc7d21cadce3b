/**
 * What happens to running executions from the server's side: cancel (DESIGN §3), infrastructure
 * stops (EXECUTION_STOPPED with a reason), runtime events (a container that exits), the heartbeat
 * watchdog, and re-attaching to containers after a restart.
 */
import type { Knex } from 'knex';
import type { Clock } from '../../../common/clock.js';
import { CaissonError } from '../../../common/errors.js';
import { FLOW_ACTIVE_STATUSES, isFlowFinal } from '../../../common/status.js';
import type { Logger } from '../log.js';
import type { ContainerRuntime, RuntimeEvent } from '../runtime/container-runtime.js';
import type { ContainerClient } from './container-client.js';
import { appendServerEvent } from './events-store.js';
import type { ExecTokens } from './exec-token.js';
import {
  findExecution,
  listExecutionsIn,
  refineFailureReason,
  transitionExecution,
  updateExecutionFields,
  type ExecutionRow,
} from './executions-store.js';
import { SIGTERM_STOP_REASON } from './event-applier.js';
import { submitFlowRetryIfDue } from './flow-retries.js';
import { finalizeJobsOf } from './jobs-finalize.js';
import type { Metrics } from '../metrics/metrics.js';

export interface ExecutionControlDeps {
  db: Knex;
  clock: Clock;
  log: Logger;
  runtime: ContainerRuntime;
  tokens: ExecTokens;
  client: ContainerClient;
  killGraceMs: number;
  heartbeatTimeoutMs: number;
  /**
   * How long a PREPARING execution whose container never reported may wait (default: the heartbeat
   * timeout). In Kubernetes a pod may rightly wait longer (scheduling, image pulls), and the pod
   * watch ends it with the specific reason when its own graces pass.
   */
  preparingTimeoutMs?: number;
  /** How often the watchdog looks; default a fifth of the timeout. */
  watchIntervalMs?: number;
  metrics?: Metrics;
  /** Wakes the local queue processor (a flow retry was just submitted). */
  nudge?: () => void;
}

export type CancelOutcome = 'killed' | 'killing' | 'already-final';

export class ExecutionControl {
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Work started by the timer or by runtime events, awaited by stop() before the pool closes. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private checking = false;
  private readonly chains = new Map<number, Promise<void>>();
  private readonly log: Logger;

  constructor(private readonly deps: ExecutionControlDeps) {
    this.startedAt = deps.clock.now();
    this.log = deps.log.child({ component: 'execution-control' });
  }

  controlUrlOf(exec: ExecutionRow): string | undefined {
    // A route the runtime set up (Kubernetes: the ingress or the Service) wins over the address the container reports.
    const url = exec.runtimeInfo?.routeUrl ?? exec.runtimeInfo?.controlUrl;
    return typeof url === 'string' && url !== '' ? url : undefined;
  }

  tokenOf(exec: ExecutionRow): string | undefined {
    return exec.tokenNonce ? this.deps.tokens.tokenFor(exec.tokenNonce) : undefined;
  }

  /**
   * READY/DISPATCHING → KILLED at once; later → KILLING and the container's /cancel. If the
   * container cannot be reached, the runtime stops it and the execution ends KILLED.
   */
  async cancel(exec: ExecutionRow, user: string): Promise<CancelOutcome> {
    const { db, clock } = this.deps;
    const now = clock.now();
    if (isFlowFinal(exec.status)) return 'already-final';
    if (
      await transitionExecution(db, exec.execId, 'KILLED', now, { onlyFrom: ['READY', 'DISPATCHING'], set: { cancel_requested: true } })
    ) {
      await finalizeJobsOf(db, exec.execId, now);
      await appendServerEvent(db, exec.execId, 'FLOW_STATUS_CHANGED', { status: 'KILLED', by: user }, now);
      // A launch in flight notices the KILLED status when it tries to move on, and tears down.
      return 'killed';
    }
    await updateExecutionFields(db, exec.execId, { cancel_requested: true });
    await transitionExecution(db, exec.execId, 'KILLING', now, { onlyFrom: ['PREPARING', 'RUNNING', 'FAILED_FINISHING', 'PAUSED'] });
    const current = await findExecution(db, exec.execId);
    if (!current || isFlowFinal(current.status)) return 'already-final';
    await appendServerEvent(db, exec.execId, 'CANCEL_REQUESTED', { by: user }, now);
    void this.deliverCancel(current);
    return 'killing';
  }

  private async deliverCancel(exec: ExecutionRow): Promise<void> {
    const url = this.controlUrlOf(exec);
    const token = this.tokenOf(exec);
    try {
      if (!url || !token) throw new Error('the container has not registered its control URL yet');
      await this.deps.client.cancel(url, token);
      this.log.info({ execId: exec.execId }, 'Cancel delivered to the flow container.');
    } catch (e) {
      this.log.warn({ execId: exec.execId, err: e }, 'The flow container did not take the cancel; stopping it through the runtime.');
      await this.forceStop(exec.execId, 'KILLED', undefined);
    }
  }

  /** Stops the container and ends the execution with `status` (KILLED, or EXECUTION_STOPPED and a reason). */
  async forceStop(execId: number, status: 'KILLED' | 'EXECUTION_STOPPED', reason: string | undefined): Promise<void> {
    try {
      await this.deps.runtime.stopContainer(execId, this.deps.killGraceMs);
    } catch (e) {
      this.log.warn({ execId, err: e }, 'stopping the container failed');
    }
    await this.endExecution(execId, status, reason);
  }

  /** Moves a not-yet-final execution to a final status decided by the server. */
  async endExecution(execId: number, status: 'KILLED' | 'EXECUTION_STOPPED', reason: string | undefined): Promise<boolean> {
    const now = this.deps.clock.now();
    let startedAt: number | null = null;
    let retried = false;
    const moved = await this.deps.db.transaction(async (trx) => {
      // Only the metrics need the run's start; without them this read is skipped.
      if (this.deps.metrics) startedAt = (await findExecution(trx, execId))?.startTime ?? null;
      const ok = await transitionExecution(trx, execId, status, now, { set: reason ? { failure_reason: reason } : {} });
      if (ok) {
        await finalizeJobsOf(trx, execId, now);
        await appendServerEvent(
          trx,
          execId,
          status === 'KILLED' ? 'FLOW_STATUS_CHANGED' : 'EXECUTION_STOPPED',
          { status, reason: reason ?? null },
          now,
        );
        retried = (await submitFlowRetryIfDue(trx, execId, now)) !== null;
      }
      return ok;
    });
    if (retried) this.deps.nudge?.();
    if (moved) {
      if (startedAt !== null) this.deps.metrics?.observeStage('running_to_final', startedAt, now);
      this.log.info({ execId, status, reason }, `Execution ${execId} ended ${status}${reason ? `: ${reason}` : ''}.`);
      await this.deps.runtime.cleanup(execId).catch((e: unknown) => this.log.warn({ execId, err: e }, 'cleanup failed'));
    }
    return moved;
  }

  /** A container exited or failed: if the execution did not report a final status, it is over now. */
  async onRuntimeEvent(e: RuntimeEvent): Promise<void> {
    if (e.type === 'started') return;
    if (e.type === 'phase') {
      await appendServerEvent(this.deps.db, e.execId, 'POD_PHASE_CHANGED', { phase: e.phase, ...e.detail }, e.at);
      return;
    }
    const exec = await findExecution(this.deps.db, e.execId);
    if (!exec) return;
    if (isFlowFinal(exec.status)) {
      if (e.type === 'stopped' && exec.failureReason === SIGTERM_STOP_REASON) await this.refineSigtermReason(e.execId, e.reason);
      await this.deps.runtime.cleanup(e.execId).catch(() => undefined);
      return;
    }
    if (e.type === 'terminated') return; // the final report may still be in flight; the runtime says when to stop
    // Only a cancel makes it KILLED: a container that moved itself to KILLING on an unasked SIGTERM was stopped.
    if (exec.cancelRequested) {
      await this.endExecution(e.execId, 'KILLED', undefined);
      return;
    }
    if (exec.status === 'DISPATCHING') return; // the dispatcher owns it until PREPARING
    const reason =
      e.type === 'stopped'
        ? e.reason
        : e.type === 'failed'
          ? `the flow container failed: ${e.reason}`
          : `the flow container exited ${e.signal ? `on signal ${e.signal}` : `with code ${e.exitCode ?? 'unknown'}`} before reporting a final status`;
    const moved = await this.endExecution(e.execId, 'EXECUTION_STOPPED', reason);
    // The container's report of the same SIGTERM may have landed between our read and our write.
    if (!moved && e.type === 'stopped') await this.refineSigtermReason(e.execId, e.reason);
  }

  /** The container's own report of an unasked SIGTERM won the race; the runtime knows why it came. */
  private async refineSigtermReason(execId: number, reason: string): Promise<void> {
    if (await refineFailureReason(this.deps.db, execId, SIGTERM_STOP_REASON, reason, this.deps.clock.now())) {
      this.log.info({ execId, reason }, `Execution ${execId} was stopped: ${reason}.`);
    }
  }

  /** Executions whose container has been silent for longer than the timeout end EXECUTION_STOPPED. */
  async checkHeartbeats(): Promise<number> {
    const now = this.deps.clock.now();
    const live = await listExecutionsIn(
      this.deps.db,
      FLOW_ACTIVE_STATUSES.filter((s) => s !== 'DISPATCHING'),
    );
    let stopped = 0;
    for (const exec of live) {
      // Deadlines count from the server's own start, so its outage never kills a healthy run.
      const last = Math.max(exec.heartbeatAt ?? 0, exec.updateTime, this.startedAt);
      const limit =
        exec.status === 'PREPARING' && exec.heartbeatAt === null
          ? (this.deps.preparingTimeoutMs ?? this.deps.heartbeatTimeoutMs)
          : this.deps.heartbeatTimeoutMs;
      if (now - last <= limit) continue;
      const secs = Math.round((now - last) / 1000);
      this.log.warn({ execId: exec.execId, silentForMs: now - last }, `No heartbeat from execution ${exec.execId} for ${secs} s.`);
      await this.forceStop(
        exec.execId,
        exec.status === 'KILLING' ? 'KILLED' : 'EXECUTION_STOPPED',
        exec.status === 'KILLING' ? undefined : `no heartbeat from the flow container for ${secs} s`,
      );
      stopped++;
    }
    return stopped;
  }

  /** After a restart: watch again every container recorded for a live execution. */
  async reattachAll(): Promise<void> {
    const live = await listExecutionsIn(
      this.deps.db,
      FLOW_ACTIVE_STATUSES.filter((s) => s !== 'DISPATCHING'),
    );
    for (const exec of live) {
      if (!exec.runtimeInfo) continue;
      try {
        await this.deps.runtime.reattach(exec.execId, exec.runtimeInfo);
      } catch (e) {
        this.log.warn({ execId: exec.execId, err: e }, 're-attaching to the flow container failed');
      }
    }
  }

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.deps.runtime.onEvent((e) => {
      // One execution's events are handled in order, one at a time (their server sequence numbers stay dense).
      const previous = this.chains.get(e.execId) ?? Promise.resolve();
      const next = previous
        .then(() => this.onRuntimeEvent(e))
        .catch((err: unknown) => this.log.error({ err, execId: e.execId }, 'handling a runtime event failed'));
      this.chains.set(e.execId, next);
      void next.finally(() => {
        if (this.chains.get(e.execId) === next) this.chains.delete(e.execId);
      });
      this.track(next);
    });
    const every = this.deps.watchIntervalMs ?? Math.max(1000, Math.floor(this.deps.heartbeatTimeoutMs / 5));
    this.timer = setInterval(() => {
      if (this.checking) return; // the previous check is still running
      this.checking = true;
      this.track(
        this.checkHeartbeats()
          .catch((err: unknown) => this.log.warn({ err }, 'the heartbeat check failed; it runs again shortly'))
          .finally(() => {
            this.checking = false;
          }),
      );
    }, every);
    this.timer.unref();
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Stops the watchdog and the runtime-event handling, then waits for work already started. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await Promise.allSettled([...this.inFlight]);
  }
}

export function requireExecution(exec: ExecutionRow | undefined, execId: number): ExecutionRow {
  if (!exec) throw new CaissonError('EXECUTION_NOT_FOUND', `Execution ${execId} does not exist.`);
  return exec;
}
