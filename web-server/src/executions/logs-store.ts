/**
 * Data access for execution_logs: each log (flow log: name '', or a job's nested id and attempt)
 * is a run of gzip-compressed chunks keyed by their start byte offset. Offsets count bytes of the
 * uncompressed log; chunks are contiguous from 0.
 */
import type { Knex } from 'knex';

type Db = Knex | Knex.Transaction;

export interface LogKey {
  execId: number;
  name: string;
  attempt: number;
}

export interface LogChunk {
  startOffset: number;
  endOffset: number;
  encoding: string;
  content: Buffer;
}

/** Bytes stored contiguously from 0 (the end of the last chunk); uses the primary key. */
export async function storedLogEnd(db: Db, key: LogKey): Promise<number> {
  const r = (await db('execution_logs')
    .where({ exec_id: key.execId, name: key.name, attempt: key.attempt })
    .max({ e: 'end_offset' })
    .first()) as { e: number | string | null } | undefined;
  return Number(r?.e ?? 0);
}

export async function insertLogChunks(db: Db, key: LogKey, chunks: readonly LogChunk[], now: number): Promise<void> {
  for (const c of chunks) {
    await db('execution_logs').insert({
      exec_id: key.execId,
      name: key.name,
      attempt: key.attempt,
      start_offset: c.startOffset,
      end_offset: c.endOffset,
      encoding: c.encoding,
      content: c.content,
      upload_time: now,
    });
  }
}

/** Chunks overlapping [from, to), in order. */
export async function readLogChunks(db: Db, key: LogKey, from: number, to: number): Promise<LogChunk[]> {
  const rows = (await db('execution_logs')
    .where({ exec_id: key.execId, name: key.name, attempt: key.attempt })
    .andWhere('end_offset', '>', from)
    .andWhere('start_offset', '<', to)
    .orderBy('start_offset')) as Record<string, unknown>[];
  return rows.map((r) => ({
    startOffset: Number(r.start_offset),
    endOffset: Number(r.end_offset),
    encoding: String(r.encoding),
    content: Buffer.from(r.content as Buffer),
  }));
}

/** Names and attempts of the logs stored for an execution. */
export async function listLogs(db: Db, execId: number): Promise<{ name: string; attempt: number; size: number }[]> {
  const rows = (await db('execution_logs')
    .where({ exec_id: execId })
    .groupBy('name', 'attempt')
    .select('name', 'attempt')
    .max({ size: 'end_offset' })) as {
    name: string;
    attempt: number;
    size: number | string;
  }[];
  return rows.map((r) => ({ name: r.name, attempt: Number(r.attempt), size: Number(r.size) }));
}
