/**
 * The container's log files — one per job attempt plus the flow log — and how they are read: in
 * bounded slices that never end inside a UTF-8 character (DESIGN §4), whatever the file's size.
 */
import fs from 'node:fs';
import type { LogSlice } from '../../common/control-api.js';
import type { Clock } from '../../common/clock.js';
import type { LogKey } from './api-client.js';

export interface LogFile {
  readonly key: LogKey;
  readonly path: string;
  /** True once nothing will be appended any more (the job attempt ended; the flow log at the end). */
  complete: boolean;
}

/** The log files of this execution, by key; shared by the log shipper and the control API. */
export class LogRegistry {
  private readonly files = new Map<string, LogFile>();
  private readonly listeners = new Set<(file: LogFile) => void>();

  static keyOf(key: LogKey): string {
    return key.job === undefined ? '' : `${key.attempt}\u0000${key.job}`;
  }

  add(key: LogKey, path: string): LogFile {
    const existing = this.files.get(LogRegistry.keyOf(key));
    if (existing !== undefined) return existing;
    const file: LogFile = { key, path, complete: false };
    this.files.set(LogRegistry.keyOf(key), file);
    for (const listener of this.listeners) listener(file);
    return file;
  }

  find(key: LogKey): LogFile | undefined {
    return this.files.get(LogRegistry.keyOf(key));
  }

  complete(key: LogKey): void {
    const file = this.find(key);
    if (file !== undefined) file.complete = true;
  }

  all(): LogFile[] {
    return [...this.files.values()];
  }

  onAdd(listener: (file: LogFile) => void): void {
    this.listeners.add(listener);
  }
}

/**
 * How many of the first `length` bytes can be sent without cutting a UTF-8 character: `length`,
 * or less when the bytes end with the start of an incomplete multi-byte sequence. Invalid bytes
 * are left alone (they never become valid by waiting).
 */
export function completeUtf8Length(bytes: Uint8Array, length = bytes.length): number {
  let i = length - 1;
  let continuation = 0;
  while (i >= 0 && continuation < 3 && ((bytes[i] ?? 0) & 0xc0) === 0x80) {
    i -= 1;
    continuation += 1;
  }
  if (i < 0) return length;
  const needed = utf8SequenceLength(bytes[i] ?? 0);
  return i + needed > length ? i : length;
}

/** Bytes of the UTF-8 sequence a lead byte starts (1 for ASCII and for bytes that start nothing valid). */
function utf8SequenceLength(lead: number): number {
  if ((lead & 0xe0) === 0xc0) return 2;
  if ((lead & 0xf0) === 0xe0) return 3;
  if ((lead & 0xf8) === 0xf0) return 4;
  return 1;
}

export async function fileSize(path: string): Promise<number> {
  try {
    return (await fs.promises.stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}

/**
 * Reads at most `maxBytes` from `offset`. With `wholeCharacters`, the result is shortened so that
 * it does not end inside a character — except that a first character longer than `maxBytes` is
 * returned whole, so that a reader paging by length always advances.
 */
export async function readLogBytes(
  path: string,
  offset: number,
  maxBytes: number,
  wholeCharacters: boolean,
): Promise<{ bytes: Buffer; size: number }> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { bytes: Buffer.alloc(0), size: 0 };
    throw e;
  }
  try {
    const size = (await handle.stat()).size;
    const wanted = Math.max(0, Math.min(maxBytes, size - offset));
    if (wanted === 0) return { bytes: Buffer.alloc(0), size };
    const buffer = Buffer.alloc(Math.min(wanted + 3, size - offset));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    const available = buffer.subarray(0, bytesRead);
    if (!wholeCharacters) return { bytes: available.subarray(0, Math.min(wanted, bytesRead)), size };
    let length = completeUtf8Length(available, Math.min(wanted, bytesRead));
    if (length === 0) {
      const first = utf8SequenceLength(available[0] ?? 0);
      length = first <= bytesRead ? first : 0;
    }
    return { bytes: available.subarray(0, length), size };
  } finally {
    await handle.close();
  }
}

/** A slice for the control API's GET /logs: UTF-8 text of whole characters, `length` in bytes. */
export async function readLogSlice(path: string, offset: number, length: number): Promise<LogSlice> {
  const { bytes, size } = await readLogBytes(path, offset, length, true);
  return { data: bytes.toString('utf8'), offset, length: bytes.length, size };
}

export type LogLevel = 'INFO' | 'WARN' | 'ERROR';

/** `2026-11-24 01:02:03.456 INFO - message` in local time, as Azkaban's logs read. */
export function formatLogLine(time: number, level: LogLevel, message: string): string {
  const d = new Date(time);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const stamp = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  return `${stamp} ${level} - ${message}\n`;
}

/** Appends timestamped lines to a log file (the flow log, or container lines in a job log). */
export class LineLog {
  constructor(
    readonly path: string,
    private readonly clock: Clock,
  ) {}

  info(message: string): void {
    this.write('INFO', message);
  }

  warn(message: string): void {
    this.write('WARN', message);
  }

  error(message: string): void {
    this.write('ERROR', message);
  }

  write(level: LogLevel, message: string): void {
    fs.appendFileSync(this.path, formatLogLine(this.clock.now(), level, message));
  }
}
