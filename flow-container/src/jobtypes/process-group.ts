/**
 * One job process started without a shell as the leader of its own process group (and session),
 * so that everything it starts can be signalled together: SIGTERM to the group, then SIGKILL once
 * the grace has passed. When the leader ends, processes it left behind in its group are ended the
 * same way, so a finished job leaves nothing running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { delay } from '../retry.js';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started (e.g. ENOENT). */
  error?: Error;
}

export interface ProcessGroupOptions {
  cwd: string;
  env: Record<string, string>;
  /** File descriptor receiving stdout and stderr. */
  outputFd: number;
  killGraceMs: number;
}

/** How long to wait for a group to vanish after SIGKILL before giving up on it. */
const AFTER_KILL_MS = 2_000;
const POLL_MS = 25;

export class ProcessGroup {
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcess;
  private terminating = false;
  private killSentAt: number | undefined;
  private leaderDone = false;

  constructor(
    args: readonly string[],
    private readonly options: ProcessGroupOptions,
  ) {
    const [program, ...rest] = args;
    this.child = spawn(program ?? '', rest, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', options.outputFd, options.outputFd],
      detached: true,
      shell: false,
    });
    const leader = new Promise<ProcessExit>((resolve) => {
      this.child.once('error', (error) => resolve({ code: null, signal: null, error }));
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    this.exited = leader.then(async (exit) => {
      this.leaderDone = true;
      await this.reapGroup();
      return exit;
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGTERM to the whole group now, SIGKILL after the grace if anything is left (idempotent). */
  terminate(): void {
    if (this.terminating) return;
    this.terminating = true;
    const pgid = this.child.pid;
    if (pgid === undefined) return;
    signalGroup(pgid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (isGroupAlive(pgid)) {
        this.killSentAt = Date.now();
        signalGroup(pgid, 'SIGKILL');
      }
    }, this.options.killGraceMs);
    timer.unref();
    void this.exited.finally(() => clearTimeout(timer));
  }

  /** After the leader ended: end what is left of its group and wait until it is gone. */
  private async reapGroup(): Promise<void> {
    const pgid = this.child.pid;
    if (pgid === undefined || !this.leaderDone) return;
    if (!isGroupAlive(pgid)) return;
    this.terminate();
    const deadline = Date.now() + this.options.killGraceMs + AFTER_KILL_MS;
    while (isGroupAlive(pgid)) {
      if (this.killSentAt !== undefined && Date.now() - this.killSentAt > AFTER_KILL_MS) return;
      if (Date.now() > deadline) return;
      await delay(POLL_MS);
    }
  }
}

/**
 * Whether any process of group `pgid` still runs. Zombies do not count (on Linux, where /proc
 * tells them apart): an orphan that its new parent has not reaped yet is no longer running.
 */
export function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return hasRunningMember(pgid) ?? true;
}

/** From /proc: true/false, or undefined where /proc cannot say. */
function hasRunningMember(pgid: number): boolean | undefined {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}
