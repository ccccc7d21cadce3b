/**
 * One flow container run, start to exit (DESIGN §4):
 *   1. control API up (ping, cancel, logs), then POST /register with its URL and our pid;
 *   2. GET /plan, project files downloaded into `<workDir>/project/`;
 *   3. the DAG runs; events go through the ordered reporter, logs through the shipper, heartbeats
 *      on the plan's schedule;
 *   4. every log flushed, then FLOW_FINISHED, then every event acknowledged; the exit code is 0
 *      when the flow SUCCEEDED.
 * A cancel (POST /cancel, a heartbeat asking for it, SIGTERM) kills the jobs and ends the flow
 * KILLED; after a SIGTERM without a prior cancel FLOW_FINISHED says `reason: 'SIGTERM'`. When the
 * server says the execution is already final, jobs are killed and the container exits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../../common/clock.js';
import type { ContainerEventType, ExecutionPlan } from '../../common/control-api.js';
import { CaissonError } from '../../common/errors.js';
import { isFlowFinal, type Status } from '../../common/status.js';
import { ContainerApiClient, isRetryable } from './api-client.js';
import type { ContainerConfig } from './config.js';
import { ControlServer } from './control-server.js';
import { DagRunner } from './engine/dag-runner.js';
import { Heartbeat } from './heartbeat.js';
import { builtInJobtypes } from './jobtypes/registry.js';
import { LineLog, LogRegistry } from './log-files.js';
import { LogShipper } from './log-shipper.js';
import { downloadProjectFiles } from './project-download.js';
import { EventReporter } from './reporter.js';
import { withRetries, type BackoffOptions } from './retry.js';

export interface FlowContainerDeps {
  clock: Clock;
  logger: Logger;
  pid: number;
  fetch?: typeof fetch;
  backoff?: BackoffOptions;
  /** How long registration and the plan are retried while the server is unreachable. */
  prepareGiveUpAfterMs?: number;
}

export interface ContainerPaths {
  projectDir: string;
  logsDir: string;
  jobLogsDir: string;
  outputsDir: string;
  flowLog: string;
}

export function containerPaths(workDir: string): ContainerPaths {
  const logsDir = path.join(workDir, 'logs');
  return {
    projectDir: path.join(workDir, 'project'),
    logsDir,
    jobLogsDir: path.join(logsDir, 'jobs'),
    outputsDir: path.join(workDir, 'outputs'),
    flowLog: path.join(logsDir, 'flow.log'),
  };
}

type CancelReason = 'CANCEL' | 'SIGTERM' | 'EXECUTION_FINAL';

const FALLBACK_SHIPPING = { intervalMs: 2_000, thresholdBytes: 64 * 1024 };

export class FlowContainer {
  private readonly paths: ContainerPaths;
  private readonly logs = new LogRegistry();
  private readonly flowLog: LineLog;
  private readonly client: ContainerApiClient;
  private readonly control: ControlServer;
  private readonly preparing = new AbortController();
  private reporter: EventReporter | undefined;
  private shipper: LogShipper | undefined;
  private heartbeat: Heartbeat | undefined;
  private runner: DagRunner | undefined;
  private cancelReason: CancelReason | undefined;
  private status: Status = 'PREPARING';
  private finishing = false;
  /** The server declared the execution final before the flow finished here. */
  private serverEndedEarly = false;

  constructor(
    private readonly config: ContainerConfig,
    private readonly deps: FlowContainerDeps,
  ) {
    this.paths = containerPaths(config.workDir);
    for (const dir of [this.paths.projectDir, this.paths.jobLogsDir, this.paths.outputsDir]) fs.mkdirSync(dir, { recursive: true });
    fs.appendFileSync(this.paths.flowLog, '');
    this.logs.add({ attempt: 0 }, this.paths.flowLog);
    this.flowLog = new LineLog(this.paths.flowLog, deps.clock);
    this.client = new ContainerApiClient({ apiUrl: config.apiUrl, execId: config.execId, token: config.token, fetch: deps.fetch });
    this.control = new ControlServer({
      host: config.controlHost,
      port: config.controlPort,
      token: config.token,
      execId: config.execId,
      logs: this.logs,
      flowStatus: () => this.runner?.status ?? this.status,
      onCancel: () => this.cancel('CANCEL'),
      onRetryFailed: () => (this.finishing ? [] : (this.runner?.retryFailedJobs() ?? [])),
    });
  }

  /** Asks the flow to stop: jobs are killed and the flow ends KILLED (idempotent; the first reason counts). */
  cancel(reason: CancelReason): void {
    if (this.finishing) return;
    this.cancelReason ??= reason;
    this.preparing.abort();
    this.runner?.cancel(reason);
  }

  /** Runs the whole container; resolves with the process exit code. */
  async run(): Promise<number> {
    const { logger } = this.deps;
    let port: number;
    try {
      port = await this.control.start();
    } catch (e) {
      logger.error({ err: e }, 'The control API could not start.');
      return 1;
    }
    const controlUrl = `http://${urlHost(this.config.controlHost)}:${port}`;
    logger.info({ controlUrl }, `Control API listening on ${controlUrl}.`);
    try {
      return await this.runRegistered(controlUrl);
    } finally {
      await this.shutdown();
    }
  }

  private async runRegistered(controlUrl: string): Promise<number> {
    const { logger, clock } = this.deps;
    const retry = {
      signal: this.preparing.signal,
      isRetryable,
      backoff: this.deps.backoff,
      giveUpAfterMs: this.deps.prepareGiveUpAfterMs ?? 5 * 60_000,
      onRetry: (e: unknown, attempt: number) => logger.warn({ err: e, attempt }, 'The server is not reachable yet; retrying.'),
    };

    let nextSeq: number;
    try {
      ({ nextSeq } = await withRetries(() => this.client.register({ controlUrl, pid: this.deps.pid }, this.preparing.signal), retry));
    } catch (e) {
      logger.error({ err: e }, 'Registration with the server failed; exiting.');
      return 1;
    }
    const reporter = new EventReporter({
      client: this.client,
      firstSeq: nextSeq,
      clock,
      logger: logger.child({ component: 'reporter' }),
      backoff: this.deps.backoff,
      onFinal: (status, reason) => this.onServerFinal(status, reason),
    });
    this.reporter = reporter;
    reporter.start();

    let plan: ExecutionPlan | undefined;
    let runner: DagRunner;
    try {
      plan = checkPlan(await withRetries(() => this.client.getPlan(this.preparing.signal), retry));
      this.startShippingAndHeartbeat(plan);
      this.flowLog.info(`Downloading ${plan.files.length} project files`);
      const bytes = await downloadProjectFiles({
        client: this.client,
        files: plan.files,
        projectDir: this.paths.projectDir,
        logger,
        signal: this.preparing.signal,
        giveUpAfterMs: this.deps.prepareGiveUpAfterMs,
      });
      this.flowLog.info(`Downloaded ${plan.files.length} project files (${bytes} bytes)`);
      runner = new DagRunner({
        plan,
        paths: { projectDir: this.paths.projectDir, jobLogsDir: this.paths.jobLogsDir, outputsDir: this.paths.outputsDir },
        jobBaseEnv: this.config.jobBaseEnv,
        killGraceMs: this.config.killGraceMs,
        jobtypes: builtInJobtypes(this.config.jobtypesDir, (m) => this.flowLog.warn(m)),
        emit: (type: ContainerEventType, payload) => reporter.emit(type, payload),
        flowLog: this.flowLog,
        logs: this.logs,
        clock,
      });
    } catch (e) {
      if (this.cancelReason !== undefined) {
        this.flowLog.info(`Execution killed while preparing (${this.cancelReason})`);
        return this.finish('KILLED', plan);
      }
      const message = e instanceof Error ? e.message : String(e);
      logger.error({ err: e }, 'Preparing the execution failed.');
      this.flowLog.error(`Preparing the execution failed: ${message}`);
      return this.finish('EXECUTION_STOPPED', plan, { reason: 'PREPARATION_FAILED', message });
    }
    if (this.cancelReason !== undefined) return this.finish('KILLED', plan);
    this.runner = runner;
    const status = await runner.run();
    return this.finish(status, plan);
  }

  private startShippingAndHeartbeat(plan: ExecutionPlan | undefined): void {
    const { logger, clock } = this.deps;
    if (this.shipper === undefined) {
      this.shipper = new LogShipper({
        client: this.client,
        logs: this.logs,
        intervalMs: plan?.logShipIntervalMs ?? FALLBACK_SHIPPING.intervalMs,
        thresholdBytes: plan?.logShipBytes ?? FALLBACK_SHIPPING.thresholdBytes,
        clock,
        logger: logger.child({ component: 'log-shipper' }),
        backoff: this.deps.backoff,
      });
      this.shipper.start();
    }
    if (this.heartbeat === undefined && plan !== undefined) {
      this.heartbeat = new Heartbeat({
        client: this.client,
        intervalMs: plan.heartbeatIntervalMs,
        logger: logger.child({ component: 'heartbeat' }),
        onCancelRequested: () => this.cancel('CANCEL'),
        onFinal: (status) => this.onServerFinal(status, 'HEARTBEAT'),
      });
      this.heartbeat.start();
    }
  }

  /** Logs flushed, then FLOW_FINISHED, then every event acknowledged. */
  private async finish(status: Status, plan: ExecutionPlan | undefined, extra: Record<string, unknown> = {}): Promise<number> {
    this.finishing = true;
    this.status = status;
    const { logger, clock } = this.deps;
    this.startShippingAndHeartbeat(plan);
    this.logs.complete({ attempt: 0 });
    await this.shipper?.flushAll();
    const payload: Record<string, unknown> = { status, endTime: clock.now(), ...extra };
    if (this.cancelReason === 'SIGTERM') payload.reason = 'SIGTERM';
    // The failure cause: the first job that failed for good, or why the flow was stopped.
    const cause = this.runner?.failureCause;
    if (status !== 'SUCCEEDED' && payload.cause === undefined) {
      if (cause !== undefined) payload.cause = { ...cause };
      else if (this.cancelReason !== undefined) payload.cause = { reason: this.cancelReason };
    }
    this.reporter?.emit('FLOW_FINISHED', payload);
    await this.reporter?.flush();
    logger.info({ status, acked: this.reporter?.ackedSeq }, `Flow finished with status ${status}.`);
    return status === 'SUCCEEDED' && !this.serverEndedEarly ? 0 : 1;
  }

  private onServerFinal(status: Status | undefined, reason: string): void {
    if (this.finishing) return;
    this.serverEndedEarly = true;
    this.deps.logger.warn({ status, reason }, 'The server says this execution is already final; killing the jobs and exiting.');
    this.flowLog.warn(`The server ended this execution${status ? ` (${status})` : ''}; killing the jobs`);
    this.cancel('EXECUTION_FINAL');
  }

  private async shutdown(): Promise<void> {
    await this.heartbeat?.stop();
    await this.shipper?.stop();
    await this.reporter?.stop();
    await this.control.stop();
    if (!isFlowFinal(this.status)) this.status = 'EXECUTION_STOPPED';
  }
}

/** The host in the control URL: the bound address, or this machine's first external IPv4 address when bound to all. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') {
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
    return external?.address ?? '127.0.0.1';
  }
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Checks the parts of the plan the container relies on and fills in defaults for the timing
 * settings (heartbeat 30 s, logs every 2 s or 64 KiB, 10 jobs at once) when they are missing.
 */
export function checkPlan(plan: ExecutionPlan): ExecutionPlan {
  const problems: string[] = [];
  if (typeof plan !== 'object' || plan === null) throw new CaissonError('BAD_REQUEST', 'the execution plan is not a JSON object');
  if (typeof plan.flow !== 'object' || plan.flow === null || !Array.isArray(plan.flow.nodes)) problems.push('flow.nodes is missing');
  if (!Array.isArray(plan.files)) problems.push('files is missing');
  if (typeof plan.options !== 'object' || plan.options === null) problems.push('options is missing');
  if (problems.length > 0) throw new CaissonError('BAD_REQUEST', `invalid execution plan: ${problems.join('; ')}`);
  const positive = (value: unknown, fallback: number): number =>
    typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
  return {
    ...plan,
    flowParams: plan.flowParams ?? {},
    flow: { ...plan.flow, config: plan.flow.config ?? {} },
    options: { ...plan.options, disabled: Array.isArray(plan.options.disabled) ? plan.options.disabled : [] },
    numJobThreads: positive(plan.numJobThreads, 10),
    heartbeatIntervalMs: positive(plan.heartbeatIntervalMs, 30_000),
    logShipIntervalMs: positive(plan.logShipIntervalMs, FALLBACK_SHIPPING.intervalMs),
    logShipBytes: positive(plan.logShipBytes, FALLBACK_SHIPPING.thresholdBytes),
  };
}
