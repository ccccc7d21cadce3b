/**
 * Finding and killing every process of a flow container: the ancestry walk of
 * container-processes.ts plus the container's environment marker, read from /proc/<pid>/environ.
 *
 * The marker (`FLOW_CONTAINER_SESSION=<random>`) is set in the container's environment; the flow
 * container passes its environment minus CAISSON_* to its jobs, so the jobs and whatever they start
 * inherit it. It finds a job that the container started after the runtime's last ancestry walk and
 * that was orphaned when the container died — the one case the walk cannot see. A process that
 * clears its environment escapes the marker but not the walk; neither alone would be enough.
 */
import fsp from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../../log.js';
import { protectedPidsOf, selectContainerProcesses, type ContainerProcesses, type ProcessIdentity } from './container-processes.js';
import { isLiveState, listProcesses, type ProcStat } from './proc-table.js';

/** Environment variable marking every process of one container (not CAISSON_*, so jobs inherit it). */
export const CONTAINER_MARKER_ENV = 'FLOW_CONTAINER_SESSION';

export interface ContainerIdentity {
  /** The container first, then the descendants tracked so far. */
  roots: ProcessIdentity[];
  /** Value of CONTAINER_MARKER_ENV in this container's processes; undefined: do not look for it. */
  marker: string | undefined;
  /** The container's start time: marked processes cannot be older. */
  startTicks: number;
}

const SELF_PID = process.pid;

/** The live processes of a container right now (or as of `table`, a snapshot of /proc shared between containers). */
export async function findContainerProcesses(
  identity: ContainerIdentity,
  withMarker: boolean,
  table?: readonly ProcStat[],
): Promise<ContainerProcesses> {
  table ??= await listProcesses();
  const protectedPids = protectedPidsOf(table, SELF_PID);
  const roots = [...identity.roots];
  if (withMarker && identity.marker !== undefined) {
    const candidates = table.filter((p) => isLiveState(p.state) && p.startTicks >= identity.startTicks && !protectedPids.has(p.pid));
    const marked = await Promise.all(candidates.map((p) => hasMarker(p, `${CONTAINER_MARKER_ENV}=${identity.marker}`)));
    candidates.forEach((p, i) => {
      if (marked[i]) roots.push({ pid: p.pid, startTicks: p.startTicks });
    });
  }
  return selectContainerProcesses(table, roots, protectedPids);
}

async function hasMarker(p: ProcStat, entry: string): Promise<boolean> {
  try {
    // Processes of other users answer EACCES; processes that ended meanwhile, ENOENT or ESRCH.
    const environ = await fsp.readFile(`/proc/${p.pid}/environ`, 'utf8');
    return environ.split('\0').includes(entry);
  } catch {
    return false;
  }
}

/** Signals each group (`kill(-pgid)`) then each member; processes already gone are ignored. */
export function signalContainerProcesses(found: ContainerProcesses, signal: NodeJS.Signals, log: Logger): void {
  for (const group of found.groups) sendSignal(-group, signal, log);
  for (const member of found.members) sendSignal(member.pid, signal, log);
}

/** kill(2) that treats "no such process" as done; true when the signal was delivered. */
export function sendSignal(target: number, signal: NodeJS.Signals, log: Logger): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH') log.warn({ target, signal, code }, 'Sending a signal to a container process failed.');
    return false;
  }
}

/**
 * Kills every process of a container: SIGTERM and up to `graceMs` for them to end (skipped when
 * `graceMs` is 0), then SIGKILL, repeated while new ones appear (a process may fork between a scan
 * and its kill). Returns how many processes it found at first.
 */
export async function killContainerProcesses(identity: ContainerIdentity, graceMs: number, log: Logger): Promise<number> {
  let found = await findContainerProcesses(identity, true);
  const initial = found.members.length;
  // Later scans start from what was found, so orphans keep being recognized as they are re-parented.
  const widened: ContainerIdentity = { ...identity, roots: [...identity.roots] };
  if (initial > 0 && graceMs > 0) {
    widened.roots.push(...found.members.map(identityOf));
    signalContainerProcesses(found, 'SIGTERM', log);
    const deadline = performance.now() + graceMs;
    for (;;) {
      await delay(Math.min(25, Math.max(1, deadline - performance.now())));
      found = await findContainerProcesses(widened, false);
      if (found.members.length === 0 || performance.now() >= deadline) break;
    }
  }
  for (let round = 1; round <= 20 && found.members.length > 0; round++) {
    widened.roots.push(...found.members.map(identityOf));
    signalContainerProcesses(found, 'SIGKILL', log);
    await delay(10);
    found = await findContainerProcesses(widened, round % 5 === 0);
  }
  if (found.members.length > 0) {
    log.error({ pids: found.members.map((p) => p.pid) }, 'Some processes of the container survived SIGKILL.');
  }
  return initial;
}

export function identityOf(p: ProcStat): ProcessIdentity {
  return { pid: p.pid, startTicks: p.startTicks };
}
