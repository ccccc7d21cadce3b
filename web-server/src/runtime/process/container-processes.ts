/**
 * Which processes belong to a flow container (pure; the caller reads /proc).
 *
 * The container is started detached, so it leads its own session and process group, and every
 * descendant that does not call setsid() shares that session id. Its jobs do call setsid() (the
 * flow container spawns them detached, each in a group of its own), and once the container dies
 * they are re-parented to init, so nothing on the machine links them to it any more. Hence the
 * runtime tracks them while the container lives: each poll walks the parent links down from the
 * container and from the processes already tracked, and remembers every member with its start time.
 *
 * Given those roots, a process belongs to the container when it is a root that is still the same
 * process (pid and start time match), or is in the group or session of such a root, or descends
 * from a member. A root's id also counts when no process holds that pid any more but its group or
 * session still has members: Linux does not hand out a pid while it names a live group or session,
 * so such members are the root's. A root whose pid now holds a different process (a recycled pid)
 * counts for nothing — it is never killed.
 */
import { isLiveState, type ProcStat } from './proc-table.js';

/** One process as recorded by the runtime: pid plus start time (clock ticks since boot). */
export interface ProcessIdentity {
  pid: number;
  startTicks: number;
}

export interface ContainerProcesses {
  /** Live members, sorted by pid (the container itself included when alive). */
  members: ProcStat[];
  /** Process groups to signal as a whole (`kill(-pgid)`), sorted; each has a live member. */
  groups: number[];
}

/**
 * Selects the live processes that belong to a container, given its roots (the container and the
 * processes tracked so far). `protectedPids` (this process, its ancestors, init) are never members.
 */
export function selectContainerProcesses(
  table: readonly ProcStat[],
  roots: readonly ProcessIdentity[],
  protectedPids: ReadonlySet<number>,
): ContainerProcesses {
  const byPid = new Map(table.map((p) => [p.pid, p]));
  const ids = new Set<number>();
  for (const root of roots) {
    const now = byPid.get(root.pid);
    if (now && now.startTicks !== root.startTicks) continue; // recycled pid: someone else's process
    if (!protectedPids.has(root.pid)) ids.add(root.pid);
  }
  const live = table.filter((p) => isLiveState(p.state) && !protectedPids.has(p.pid));
  const members = new Map<number, ProcStat>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of live) {
      if (members.has(p.pid)) continue;
      if (ids.has(p.pid) || ids.has(p.pgid) || ids.has(p.sid) || members.has(p.ppid)) {
        members.set(p.pid, p);
        // A member leading its own group or session (a job after setsid) brings that group along.
        ids.add(p.pid);
        grew = true;
      }
    }
  }
  const sorted = [...members.values()].sort((a, b) => a.pid - b.pid);
  const groups = [...new Set(sorted.map((p) => p.pgid))].filter((g) => ids.has(g) && !protectedPids.has(g)).sort((a, b) => a - b);
  return { members: sorted, groups };
}

/** This process, its ancestors and init: never signalled, whatever the table says. */
export function protectedPidsOf(table: readonly ProcStat[], selfPid: number): Set<number> {
  const byPid = new Map(table.map((p) => [p.pid, p]));
  const result = new Set<number>([0, 1, selfPid]);
  let cursor = byPid.get(selfPid);
  while (cursor && !result.has(cursor.ppid)) {
    result.add(cursor.ppid);
    cursor = byPid.get(cursor.ppid);
  }
  return result;
}
