/**
 * Durable logs (DESIGN §4): ingest of shipped chunks, idempotent by byte offset, stored gzip'd in
 * pieces of at most 1 MiB; reads by offset and length that never split a UTF-8 character. A read
 * of a running execution joins the stored bytes with the container's live tail.
 */
import zlib from 'node:zlib';
import type { Knex } from 'knex';
import { isUniqueViolation } from '../../../common/db/dialect.js';
import { insertLogChunks, readLogChunks, storedLogEnd, type LogChunk, type LogKey } from './logs-store.js';
import { incompleteTail } from './utf8.js';

export const MAX_CHUNK_BYTES = 1024 * 1024;
/** Longest slice one read returns. */
export const MAX_READ_BYTES = 10 * 1024 * 1024;

export interface LogSliceResult {
  data: string;
  offset: number;
  /** Bytes returned (a trailing incomplete character is left for the next read). */
  length: number;
}

/**
 * Stores the part of `bytes` (which starts at `offset`) that extends the stored log. Returns the
 * stored end afterwards; when `offset` is beyond it, nothing is stored and the caller resends.
 */
export async function ingestLog(db: Knex, key: LogKey, offset: number, bytes: Buffer, now: number): Promise<number> {
  try {
    return await db.transaction(async (trx) => {
      const end = await storedLogEnd(trx, key);
      if (offset > end || offset + bytes.length <= end) return end;
      const fresh = bytes.subarray(end - offset);
      const chunks: LogChunk[] = [];
      for (let i = 0; i < fresh.length; i += MAX_CHUNK_BYTES) {
        const piece = fresh.subarray(i, i + MAX_CHUNK_BYTES);
        chunks.push({ startOffset: end + i, endOffset: end + i + piece.length, encoding: 'gzip', content: zlib.gzipSync(piece) });
      }
      await insertLogChunks(trx, key, chunks, now);
      return end + fresh.length;
    });
  } catch (e) {
    // A concurrent resend of the same bytes stored them first: report what is stored now.
    if (isUniqueViolation(e)) return storedLogEnd(db, key);
    throw e;
  }
}

function decode(chunk: LogChunk): Buffer {
  return chunk.encoding === 'gzip' ? zlib.gunzipSync(chunk.content) : chunk.content;
}

/** Raw bytes [offset, offset+length) of the stored log (shorter at its end). */
export async function readStoredBytes(db: Knex, key: LogKey, offset: number, length: number): Promise<Buffer> {
  const chunks = await readLogChunks(db, key, offset, offset + length);
  const parts: Buffer[] = [];
  let pos = offset;
  for (const c of chunks) {
    if (c.startOffset > pos) break; // a gap: stop at the contiguous part
    const data = decode(c);
    const from = pos - c.startOffset;
    const take = Math.min(data.length - from, offset + length - pos);
    if (take <= 0) continue;
    parts.push(data.subarray(from, from + take));
    pos += take;
    if (pos >= offset + length) break;
  }
  return Buffer.concat(parts);
}

/** Turns raw bytes into a slice whose end never splits a character. */
export function toSlice(offset: number, bytes: Buffer): LogSliceResult {
  const cut = bytes.length - incompleteTail(bytes);
  const body = bytes.subarray(0, cut);
  return { data: body.toString('utf8'), offset, length: body.length };
}

export function clampReadLength(length: number): number {
  return Math.max(0, Math.min(length, MAX_READ_BYTES));
}
