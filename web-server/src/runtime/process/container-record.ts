/**
 * `<workDir>/container.json`: what the process runtime knows about one container, kept on disk so
 * that a restarted web server can adopt, stop or clean up what an earlier one launched.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ProcessIdentity } from './container-processes.js';

export const CONTAINER_RECORD_FILE = 'container.json';
export const CONTAINER_LOG_FILE = 'container.log';

export interface ContainerRecord {
  execId: number;
  pid: number;
  /** Clock ticks since boot (/proc/<pid>/stat field 22): with pid, the container's identity. */
  startTicks: number;
  /** The same start time as epoch ms. */
  startTime: number;
  workDir: string;
  /** Epoch ms (runtime clock) when the runtime saw the container gone; null while it runs. */
  exitedAt: number | null;
  exitCode: number | null;
  signal: string | null;
  /** The container's descendants seen so far (its jobs), killed with it. */
  tracked: ProcessIdentity[];
  /** Value of the marker variable in the container's environment (container-reaper.ts). */
  marker: string | null;
}

export function recordPath(workDir: string): string {
  return path.join(workDir, CONTAINER_RECORD_FILE);
}

/** The record in `workDir`, or undefined when there is none or it cannot be read. */
export async function readContainerRecord(workDir: string): Promise<ContainerRecord | undefined> {
  let text: string;
  try {
    text = await fs.readFile(recordPath(workDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    return parseContainerRecord(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function parseContainerRecord(raw: unknown): ContainerRecord | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
  const intOrNull = (v: unknown): number | null => (int(v) ? v : null);
  if (!int(r.execId) || !int(r.pid) || !int(r.startTicks) || !int(r.startTime) || typeof r.workDir !== 'string') return undefined;
  const tracked = Array.isArray(r.tracked)
    ? r.tracked.filter((t): t is ProcessIdentity => {
        const o = t as Record<string, unknown> | null;
        return typeof o === 'object' && o !== null && int(o.pid) && int(o.startTicks);
      })
    : [];
  return {
    execId: r.execId,
    pid: r.pid,
    startTicks: r.startTicks,
    startTime: r.startTime,
    workDir: r.workDir,
    exitedAt: intOrNull(r.exitedAt),
    exitCode: intOrNull(r.exitCode),
    signal: typeof r.signal === 'string' ? r.signal : null,
    tracked: tracked.map((t) => ({ pid: t.pid, startTicks: t.startTicks })),
    marker: typeof r.marker === 'string' ? r.marker : null,
  };
}

let tmpCounter = 0;

/** Written to a temporary file and renamed, so a reader never sees half a record. */
export async function writeContainerRecord(record: ContainerRecord): Promise<void> {
  const file = recordPath(record.workDir);
  const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await fs.rename(tmp, file);
}
