/**
 * Reading Linux's /proc: one process's identity (pid + start time, so a recycled pid is never
 * mistaken for ours) and a snapshot of every process, for walking a container's descendants.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';

export interface ProcStat {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** One-letter state: R, S, D, Z (zombie), X (dead), … */
  state: string;
  /** Start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  startTicks: number;
}

/**
 * USER_HZ, the unit of /proc/<pid>/stat start times. Linux fixes it at 100 on every architecture
 * Node runs on (it is part of the ABI, independent of the kernel's CONFIG_HZ); Node cannot call
 * sysconf(_SC_CLK_TCK) to ask.
 */
export const CLOCK_TICKS_PER_SECOND = 100;

/** Parses the text of /proc/<pid>/stat; undefined when it is not in the expected shape. */
export function parseProcStat(text: string): ProcStat | undefined {
  // Field 2 (comm) is in parentheses and may itself hold spaces and parentheses: split after the last ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const field = (n: number): number => Number(rest[n - 3]);
  const stat: ProcStat = { pid, state: rest[0] ?? '', ppid: field(4), pgid: field(5), sid: field(6), startTicks: field(22) };
  const numbers = [stat.pid, stat.ppid, stat.pgid, stat.sid, stat.startTicks];
  return stat.state !== '' && numbers.every((n) => Number.isInteger(n) && n >= 0) ? stat : undefined;
}

/** A process that has ended but is not reaped yet (zombie) counts as gone. */
export function isLiveState(state: string): boolean {
  return state !== 'Z' && state !== 'X' && state !== 'x';
}

/** Synchronous on purpose: used right after spawn, before the event loop can reap a fast-exiting child. */
export function readProcStatSync(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await fsp.readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every process visible in /proc right now (processes that vanish while reading are skipped). */
export async function listProcesses(): Promise<ProcStat[]> {
  const names = await fsp.readdir('/proc');
  const stats = await Promise.all(names.filter((n) => /^\d+$/.test(n)).map((n) => readProcStat(Number(n))));
  return stats.filter((s): s is ProcStat => s !== undefined);
}

let bootTimeMs: number | undefined;

/** Boot time in epoch ms (`btime` of /proc/stat), read once: it is fixed for the life of the machine. */
export function readBootTimeMs(): number {
  if (bootTimeMs === undefined) {
    const match = /^btime\s+(\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
    if (!match?.[1]) throw new Error('/proc/stat has no btime line');
    bootTimeMs = Number(match[1]) * 1000;
  }
  return bootTimeMs;
}

/** A /proc start time (clock ticks since boot) as epoch ms. */
export function startTicksToEpochMs(startTicks: number, bootMs = readBootTimeMs()): number {
  return bootMs + Math.round((startTicks * 1000) / CLOCK_TICKS_PER_SECOND);
}
