/** Starting one flow container process: its environment, the detached spawn and its failures. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CONTAINER_ENV } from '../../../../common/control-api.js';
import { RuntimeError } from '../container-runtime.js';
import { CONTAINER_MARKER_ENV } from './container-reaper.js';
import { CONTAINER_LOG_FILE } from './container-record.js';
import type { ContainerCommand } from './flow-container-command.js';
import { readProcStatSync } from './proc-table.js';

const TRANSIENT_SPAWN_ERRORS = new Set(['EAGAIN', 'EMFILE', 'ENFILE', 'ENOMEM']);

export interface ContainerEnvInput {
  /** The environment the container starts from; its CAISSON_* variables (server settings, secrets) are dropped. */
  baseEnv: Record<string, string | undefined>;
  /** The plan's environment (CAISSON_EXEC_ID, CAISSON_API_URL, CAISSON_EXEC_TOKEN, …). */
  planEnv: Record<string, string>;
  execId: number;
  workDir: string;
  /** Value of the marker variable (container-reaper.ts). */
  marker: string;
}

/** The container's environment: base minus CAISSON_*, then the plan's, then the runtime's own (which win). */
export function buildContainerEnv(input: ContainerEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.baseEnv)) {
    if (v !== undefined && !k.toUpperCase().startsWith('CAISSON_')) env[k] = v;
  }
  Object.assign(env, input.planEnv);
  env[CONTAINER_ENV.execId] = String(input.execId);
  env[CONTAINER_ENV.workDir] = input.workDir;
  env[CONTAINER_ENV.controlPort] = '0';
  env[CONTAINER_ENV.controlHost] = '127.0.0.1';
  env[CONTAINER_MARKER_ENV] = input.marker;
  return env;
}

export interface SpawnedContainer {
  child: ChildProcess;
  pid: number;
  /** Start time in clock ticks since boot, read before the container could be reaped. */
  startTicks: number;
}

/**
 * Spawns the container detached (setsid: its own session and process group) in `workDir`, output
 * appended to `container.log` through file descriptors, not pipes, so it survives the web server.
 * Throws RuntimeError: transient for resource shortages (EAGAIN, EMFILE, …), permanent otherwise.
 */
export async function spawnContainerProcess(
  execId: number,
  command: ContainerCommand,
  workDir: string,
  env: Record<string, string>,
): Promise<SpawnedContainer> {
  let child: ChildProcess;
  let spawnError: Promise<unknown> | undefined;
  try {
    await fs.mkdir(workDir, { recursive: true });
    const logFile = await fs.open(path.join(workDir, CONTAINER_LOG_FILE), 'a');
    try {
      child = spawn(command.executable, command.args, { cwd: workDir, env, detached: true, stdio: ['ignore', logFile.fd, logFile.fd] });
      // A failed spawn leaves pid unset and emits 'error' on the next tick: listen before anything awaits.
      if (child.pid === undefined) spawnError = new Promise((resolve) => child.once('error', resolve));
      // Never an unhandled 'error' event (Node would throw it), whoever listens later.
      child.on('error', () => undefined);
    } finally {
      await logFile.close();
    }
  } catch (e) {
    throw spawnFailure(execId, e);
  }
  const pid = child.pid;
  if (pid === undefined) throw spawnFailure(execId, await spawnError);
  // Synchronously, before the event loop can reap a container that exits at once.
  const stat = readProcStatSync(pid);
  if (!stat) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    throw new RuntimeError(`the flow container of execution ${execId} (pid ${pid}) vanished before it could be recorded`, true);
  }
  return { child, pid, startTicks: stat.startTicks };
}

function spawnFailure(execId: number, e: unknown): RuntimeError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code ?? 'unknown';
  const message = e instanceof Error ? e.message : String(e);
  return new RuntimeError(`starting the flow container of execution ${execId} failed: ${message}`, TRANSIENT_SPAWN_ERRORS.has(code), {
    cause: e,
  });
}
