/**
 * ProcessRuntime (solo mode, DESIGN §2): each flow container is a local process started detached
 * (its own session and process group) in `<dataDir>/executions/<execId>/`, with its output appended
 * to `container.log` there. `container.json` beside it records pid and start time, so a restarted
 * web server adopts or re-attaches to what an earlier one launched and never mistakes a recycled
 * pid for a container. When a container exits or dies, every process of it is killed — its jobs
 * too, although they run in sessions of their own (see container-processes.ts, container-reaper.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../../../../common/clock.js';
import type { Logger } from '../../log.js';
import {
  RuntimeError,
  type ContainerDescription,
  type ContainerRuntime,
  type LaunchPlan,
  type LaunchResult,
  type RuntimeEvent,
  type RuntimeInfo,
} from '../container-runtime.js';
import { findContainerProcesses, identityOf, killContainerProcesses, sendSignal, type ContainerIdentity } from './container-reaper.js';
import { readContainerRecord, writeContainerRecord, type ContainerRecord } from './container-record.js';
import { buildContainerEnv, spawnContainerProcess } from './container-spawn.js';
import type { ContainerCommand } from './flow-container-command.js';
import { copyPayloads } from '../../../../image-mgmt/src/jobtype-payloads.js';
import { CONTAINER_ENV } from '../../../../common/control-api.js';
import { isLiveState, listProcesses, readProcStat, startTicksToEpochMs, type ProcStat } from './proc-table.js';

export { defaultFlowContainerCommand, type ContainerCommand } from './flow-container-command.js';

export interface ProcessRuntimeDeps {
  dataDir: string;
  log: Logger;
  clock: Clock;
  /** How a flow container is started; see defaultFlowContainerCommand. */
  command: ContainerCommand;
  /** How long the processes a container leaves behind get between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** How long a finished container's working directory is kept (0: removed at cleanup). */
  retentionMs: number;
  /** How often containers are checked (liveness of re-attached ones, their descendants); default 1 s. */
  pollIntervalMs?: number;
  /** Where jobtype payloads are found (CAISSON_IMAGE_DIRS); none: a plan needing a jobtype image cannot launch. */
  imageDirs?: readonly string[];
  /**
   * The environment a container starts from, before the plan's: default this process's, minus
   * every CAISSON_* variable (the server's own settings and secrets never reach a container).
   */
  baseEnv?: Record<string, string | undefined>;
}

interface Container {
  execId: number;
  /** The state on disk (container.json); mutated in place and persisted through `persist`. */
  record: ContainerRecord;
  /** Set when this runtime spawned the container and still listens to it. */
  child: ChildProcess | undefined;
  detachChild: (() => void) | undefined;
  state: 'running' | 'exited';
  /** Resolves once `started` was emitted (or at once for adopted containers): `exited` never precedes it. */
  started: Promise<void>;
  markStarted: () => void;
  /** Resolves once the exit was handled: the container's processes killed and `exited` emitted. */
  settled: Promise<void>;
  markSettled: () => void;
  writes: Promise<void>;
}

const DEFAULT_POLL_INTERVAL_MS = 1000;
/** How long stopContainer waits, after SIGKILL, for the exit of a container it spawned to be handled. */
const SETTLE_TIMEOUT_MS = 10_000;

export class ProcessRuntime implements ContainerRuntime {
  readonly name = 'process' as const;
  private readonly log: Logger;
  private readonly pollIntervalMs: number;
  private readonly containers = new Map<number, Container>();
  private readonly listeners = new Set<(e: RuntimeEvent) => void>();
  private readonly locks = new Map<number, Promise<void>>();
  private readonly launching = new Set<number>();
  private readonly exitsInFlight = new Set<Promise<void>>();
  private polling = false;
  private timer: NodeJS.Timeout | undefined;
  private tickInFlight: Promise<void> | undefined;

  constructor(private readonly deps: ProcessRuntimeDeps) {
    this.log = deps.log.child({ component: 'process-runtime' });
    this.pollIntervalMs = deps.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  }

  /** `<dataDir>/executions/<execId>`: the container's working directory. */
  workDirOf(execId: number): string {
    return path.join(this.deps.dataDir, 'executions', String(execId));
  }

  async start(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    this.schedulePoll();
  }

  /** Stops polling and listening; containers keep running (a restarted server re-attaches). */
  async stop(): Promise<void> {
    this.polling = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.tickInFlight;
    for (const c of this.containers.values()) c.detachChild?.();
    await Promise.all([...this.exitsInFlight]);
  }

  onEvent(listener: (e: RuntimeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async launch(plan: LaunchPlan): Promise<LaunchResult> {
    return this.withLock(plan.execId, async () => {
      const known = await this.findLiveContainer(plan.execId);
      if (known) return { runtimeInfo: runtimeInfoOf(known.record), adopted: true };
      this.launching.add(plan.execId);
      try {
        return await this.spawnContainer(plan);
      } finally {
        this.launching.delete(plan.execId);
      }
    });
  }

  async reattach(execId: number, runtimeInfo: RuntimeInfo): Promise<void> {
    await this.withLock(execId, async () => {
      if (this.containers.get(execId)?.state === 'running') return;
      const pid = runtimeInfo.pid;
      if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) {
        throw new RuntimeError(`execution ${execId} has no container pid to re-attach to`, false);
      }
      const workDir = typeof runtimeInfo.workDir === 'string' ? runtimeInfo.workDir : this.workDirOf(execId);
      const startTicks = await this.startTicksFromInfo(pid, runtimeInfo);
      const onDisk = await readContainerRecord(workDir);
      const record: ContainerRecord =
        onDisk && onDisk.pid === pid && onDisk.startTicks === startTicks
          ? onDisk
          : { ...newRecord(execId, pid, startTicks, workDir), startTime: numberOr(runtimeInfo.startTime, 0) };
      const c = this.track(record, undefined);
      this.log.info({ execId, pid }, 'Re-attached to the flow container.');
      // An exit an earlier server saw keeps its code; one nobody saw has none.
      if (!(await this.isAlive(c))) this.handleExit(c, record.exitedAt === null ? null : record.exitCode, record.signal);
    });
  }

  async stopContainer(execId: number, graceMs: number): Promise<void> {
    await this.withLock(execId, async () => {
      let c = this.containers.get(execId);
      if (!c) {
        const record = await readContainerRecord(this.workDirOf(execId));
        if (!record) return;
        if (!(await isRecordAlive(record))) {
          // Gone before this server knew it: only what it may have left behind remains to kill.
          await killContainerProcesses(identityOfRecord(record), 0, this.log);
          return;
        }
        c = this.track(record, undefined);
      }
      if (c.state === 'exited') {
        await c.settled;
        return;
      }
      await this.refreshTracked(c);
      if (await this.isAlive(c)) {
        this.log.info({ execId, pid: c.record.pid, graceMs }, 'Stopping the flow container: SIGTERM, then SIGKILL after the grace.');
        if (!sendSignal(-c.record.pid, 'SIGTERM', this.log)) sendSignal(c.record.pid, 'SIGTERM', this.log);
        const deadline = performance.now() + Math.max(0, graceMs);
        while ((await this.isAlive(c)) && performance.now() < deadline) {
          await delay(Math.min(25, Math.max(1, deadline - performance.now())));
        }
      }
      const killed = await killContainerProcesses(this.identityOf(c), 0, this.log);
      if (killed > 0) this.log.info({ execId, killed }, 'Killed the processes left of the flow container.');
      if (!c.child && !(await this.isAlive(c))) this.handleExit(c, null, null);
      await Promise.race([c.settled, delay(SETTLE_TIMEOUT_MS, undefined, { ref: false })]);
    });
  }

  async describe(execId: number): Promise<ContainerDescription | undefined> {
    const c = this.containers.get(execId);
    if (c) {
      const base = { execId, runtimeInfo: runtimeInfoOf(c.record) };
      return c.state === 'running' ? { ...base, state: 'running' } : { ...base, state: 'exited', exitCode: c.record.exitCode };
    }
    const record = await readContainerRecord(this.workDirOf(execId));
    if (!record) return this.launching.has(execId) ? { execId, state: 'starting', runtimeInfo: {} } : undefined;
    const base = { execId, runtimeInfo: runtimeInfoOf(record) };
    return (await isRecordAlive(record)) ? { ...base, state: 'running' } : { ...base, state: 'exited', exitCode: record.exitCode };
  }

  /** Removes the working directory once `retentionMs` has passed since the exit; a live container's never. */
  async cleanup(execId: number): Promise<void> {
    await this.cleanupWorkDir(execId);
  }

  /** Removes every expired working directory; call it periodically. Returns the execution ids removed. */
  async sweepExpiredWorkDirs(): Promise<number[]> {
    let names: string[];
    try {
      names = await fs.readdir(path.join(this.deps.dataDir, 'executions'));
    } catch {
      return [];
    }
    const removed: number[] = [];
    for (const name of names.filter((n) => /^\d+$/.test(n))) {
      const execId = Number(name);
      try {
        if (await this.cleanupWorkDir(execId)) removed.push(execId);
      } catch (err) {
        this.log.warn({ execId, err }, 'Removing an expired working directory failed; the next sweep retries.');
      }
    }
    return removed;
  }

  // ---- launching ----

  private async spawnContainer(plan: LaunchPlan): Promise<LaunchResult> {
    const { execId } = plan;
    const workDir = this.workDirOf(execId);
    const marker = `${execId}.${randomUUID()}`;
    const planEnv = { ...plan.env };
    if (plan.jobtypeImages && plan.jobtypeImages.length > 0) {
      // The init containers' work: each jobtype payload into the execution's jobtypes directory.
      const jobtypesDir = path.join(workDir, 'jobtypes');
      try {
        await copyPayloads(plan.jobtypeImages, this.deps.imageDirs ?? [], jobtypesDir);
      } catch (e) {
        throw new RuntimeError(e instanceof Error ? e.message : String(e), false, { cause: e });
      }
      planEnv[CONTAINER_ENV.jobtypesDir] = jobtypesDir;
    }
    const env = buildContainerEnv({ baseEnv: this.deps.baseEnv ?? process.env, planEnv, execId, workDir, marker });
    const { child, pid, startTicks } = await spawnContainerProcess(execId, this.deps.command, workDir, env);
    const record = { ...newRecord(execId, pid, startTicks, workDir), startTime: startTicksToEpochMs(startTicks), marker };
    const c = this.track(record, child);
    child.unref();
    try {
      await this.persist(c);
    } catch (e) {
      this.log.error({ execId, pid, err: e }, 'Recording the flow container failed; killing it.');
      c.detachChild?.();
      this.containers.delete(execId);
      c.markStarted(); // lets an exit already being handled finish
      sendSignal(-pid, 'SIGKILL', this.log);
      throw new RuntimeError(`the flow container of execution ${execId} could not be recorded`, false, { cause: e });
    }
    this.log.info({ execId, pid, workDir }, 'Started the flow container.');
    this.emit({ type: 'started', execId, at: this.deps.clock.now() });
    c.markStarted();
    return { runtimeInfo: runtimeInfoOf(c.record), adopted: false };
  }

  /** The live container of an execution, from memory or container.json (then adopted); else undefined. */
  private async findLiveContainer(execId: number): Promise<Container | undefined> {
    const known = this.containers.get(execId);
    if (known?.state === 'running') {
      if (await this.isAlive(known)) return known;
      // Dead but not handled yet: report that exit first, so it is never taken for the new container's.
      if (!known.child) this.handleExit(known, null, null);
      await Promise.race([known.settled, delay(SETTLE_TIMEOUT_MS, undefined, { ref: false })]);
    }
    if (known) return undefined;
    const record = await readContainerRecord(this.workDirOf(execId));
    if (!record || !(await isRecordAlive(record))) return undefined;
    this.log.info({ execId, pid: record.pid }, 'Adopted the running flow container recorded in container.json.');
    return this.track(record, undefined);
  }

  private track(record: ContainerRecord, child: ChildProcess | undefined): Container {
    let markStarted = (): void => undefined;
    let markSettled = (): void => undefined;
    const c: Container = {
      execId: record.execId,
      record,
      child,
      detachChild: undefined,
      state: 'running',
      started: new Promise<void>((r) => (markStarted = r)),
      markStarted: () => markStarted(),
      settled: new Promise<void>((r) => (markSettled = r)),
      markSettled: () => markSettled(),
      writes: Promise.resolve(),
    };
    if (child) {
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => this.handleExit(c, code, signal);
      const onError = (err: Error): void => {
        this.log.error({ execId: c.execId, err }, 'The flow container process reported an error.');
        this.emit({ type: 'failed', execId: c.execId, at: this.deps.clock.now(), reason: err.message });
      };
      child.once('exit', onExit);
      child.on('error', onError);
      c.detachChild = () => {
        child.off('exit', onExit);
        child.off('error', onError);
        c.child = undefined;
        c.detachChild = undefined;
      };
    } else {
      c.markStarted();
    }
    this.containers.set(record.execId, c);
    return c;
  }

  // ---- exits ----

  /** Idempotent: kills what is left of the container, records the exit, then emits `exited`. */
  private handleExit(c: Container, exitCode: number | null, signal: string | null): void {
    if (c.state === 'exited') return;
    c.state = 'exited';
    c.record.exitedAt ??= this.deps.clock.now();
    c.record.exitCode = exitCode;
    c.record.signal = signal;
    c.detachChild?.();
    const work = (async () => {
      await c.started;
      try {
        const killed = await killContainerProcesses(this.identityOf(c), this.deps.killGraceMs, this.log);
        if (killed > 0) this.log.warn({ execId: c.execId, killed }, 'Killed the processes the flow container left behind.');
      } catch (err) {
        this.log.error({ execId: c.execId, err }, 'Killing the processes left of the flow container failed.');
      }
      await this.persist(c).catch((err: unknown) => this.log.warn({ execId: c.execId, err }, 'Recording the container exit failed.'));
      this.log.info({ execId: c.execId, exitCode, signal }, 'The flow container exited.');
      this.emit({ type: 'exited', execId: c.execId, at: c.record.exitedAt ?? this.deps.clock.now(), exitCode, signal });
    })().finally(() => {
      c.markSettled();
      this.exitsInFlight.delete(work);
    });
    this.exitsInFlight.add(work);
  }

  // ---- polling ----

  private schedulePoll(): void {
    if (!this.polling) return;
    this.timer = setTimeout(() => {
      this.tickInFlight = this.poll()
        .catch((err: unknown) => this.log.warn({ err }, 'Checking the flow containers failed; the next poll retries.'))
        .finally(() => {
          this.tickInFlight = undefined;
          this.schedulePoll();
        });
    }, this.pollIntervalMs);
    this.timer.unref();
  }

  /** Re-attached containers: gone yet? All running ones: remember their current descendants. */
  private async poll(): Promise<void> {
    const running = [...this.containers.values()].filter((c) => c.state === 'running');
    if (running.length === 0) return;
    const table = await listProcesses();
    for (const c of running) {
      if (!this.polling || c.state !== 'running') continue;
      if (!(await this.isAlive(c))) {
        if (!c.child) this.handleExit(c, null, null); // a child of ours: its exit event reports it
        continue;
      }
      await this.refreshTracked(c, table);
    }
  }

  private async refreshTracked(c: Container, table?: readonly ProcStat[]): Promise<void> {
    const found = await findContainerProcesses(this.identityOf(c), false, table);
    if (c.state !== 'running') return;
    const tracked = found.members.filter((p) => p.pid !== c.record.pid).map(identityOf);
    const key = (list: { pid: number; startTicks: number }[]): string => list.map((p) => `${p.pid}@${p.startTicks}`).join(',');
    if (key(tracked) === key(c.record.tracked)) return;
    c.record.tracked = tracked;
    await this.persist(c);
  }

  // ---- cleanup ----

  /** True when it removed the working directory. */
  private async cleanupWorkDir(execId: number): Promise<boolean> {
    return this.withLock(execId, async () => {
      if (this.launching.has(execId)) return false;
      const workDir = this.workDirOf(execId);
      const c = this.containers.get(execId);
      if (c?.state === 'running') return false;
      if (c) await c.settled;
      const record = c?.record ?? (await readContainerRecord(workDir));
      let exitedAt: number;
      if (record) {
        if (await isRecordAlive(record)) return false;
        if (!c && record.exitedAt === null) {
          // Recorded by an earlier server and never seen exiting: its jobs may still run.
          await killContainerProcesses(identityOfRecord(record), this.deps.killGraceMs, this.log);
        }
        if (record.exitedAt === null) {
          // It died unobserved (while no server watched): retention counts from now.
          record.exitedAt = this.deps.clock.now();
          await writeContainerRecord(record).catch(() => undefined);
        }
        exitedAt = record.exitedAt;
      } else {
        const stat = await fs.stat(workDir).catch(() => undefined);
        if (!stat) {
          this.containers.delete(execId);
          return false;
        }
        exitedAt = stat.mtimeMs; // a launch that failed before recording anything
      }
      if (this.deps.clock.now() - exitedAt < this.deps.retentionMs) return false;
      await fs.rm(workDir, { recursive: true, force: true });
      this.containers.delete(execId);
      this.log.info({ execId, workDir }, 'Removed the working directory of the finished container.');
      return true;
    });
  }

  // ---- helpers ----

  private async isAlive(c: Container): Promise<boolean> {
    if (c.child && (c.child.exitCode !== null || c.child.signalCode !== null)) return false;
    return isRecordAlive(c.record);
  }

  private identityOf(c: Container): ContainerIdentity {
    return identityOfRecord(c.record);
  }

  /** The start time a runtimeInfo names, as clock ticks; -1 when it names a different process than the pid's. */
  private async startTicksFromInfo(pid: number, info: RuntimeInfo): Promise<number> {
    if (typeof info.startTicks === 'number' && Number.isInteger(info.startTicks)) return info.startTicks;
    const stat = await readProcStat(pid);
    const startTime = info.startTime;
    // Only epoch ms recorded: the same process when they agree within a second (btime has second resolution).
    if (stat && typeof startTime === 'number' && Math.abs(startTicksToEpochMs(stat.startTicks) - startTime) <= 1000) return stat.startTicks;
    return -1;
  }

  private persist(c: Container): Promise<void> {
    const write = c.writes.then(() => writeContainerRecord({ ...c.record, tracked: [...c.record.tracked] }));
    c.writes = write.catch(() => undefined);
    return write;
  }

  private emit(e: RuntimeEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(e);
      } catch (err) {
        this.log.error({ err, event: e }, 'A runtime event listener threw.');
      }
    }
  }

  /** Runs `fn` after every earlier call for the same execution has finished. */
  private async withLock<T>(execId: number, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(execId) ?? Promise.resolve();
    let release = (): void => undefined;
    const mine = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => mine);
    this.locks.set(execId, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(execId) === tail) this.locks.delete(execId);
    }
  }
}

function newRecord(execId: number, pid: number, startTicks: number, workDir: string): ContainerRecord {
  return { execId, pid, startTicks, startTime: 0, workDir, exitedAt: null, exitCode: null, signal: null, tracked: [], marker: null };
}

function runtimeInfoOf(r: ContainerRecord): RuntimeInfo {
  return { pid: r.pid, startTime: r.startTime, startTicks: r.startTicks, workDir: r.workDir };
}

function identityOfRecord(r: ContainerRecord): ContainerIdentity {
  return { roots: [{ pid: r.pid, startTicks: r.startTicks }, ...r.tracked], marker: r.marker ?? undefined, startTicks: r.startTicks };
}

async function isRecordAlive(r: ContainerRecord): Promise<boolean> {
  const stat = await readProcStat(r.pid);
  return stat !== undefined && isLiveState(stat.state) && stat.startTicks === r.startTicks;
}

function numberOr(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}
