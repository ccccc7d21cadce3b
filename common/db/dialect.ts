/** Dialect differences in one place: skip-locked claims, insert-or-ignore, column types. */
import type { Knex } from 'knex';
import { dialectOf } from './knex.js';

/** Appends FOR UPDATE SKIP LOCKED on MySQL/MariaDB; SQLite's single writer makes it unnecessary. */
export function forUpdateSkipLocked<T extends Knex.QueryBuilder>(db: Knex, query: T): T {
  return dialectOf(db) === 'mysql' ? (query.forUpdate().skipLocked() as T) : query;
}

/** INSERT that silently keeps an existing row with the same key; resolves to the number of rows inserted. */
export async function insertOrIgnore(
  db: Knex | Knex.Transaction,
  table: string,
  rows: Record<string, unknown> | Record<string, unknown>[],
): Promise<number> {
  const list = Array.isArray(rows) ? rows : [rows];
  if (list.length === 0) return 0;
  const result: unknown = await db(table).insert(list).onConflict().ignore();
  // mysql2 answers [ResultSetHeader]; better-sqlite3 through knex answers the last row id only.
  if (Array.isArray(result) && result[0] && typeof result[0] === 'object' && 'affectedRows' in result[0]) {
    return Number((result[0] as { affectedRows: number }).affectedRows);
  }
  return -1;
}

/** True when an error is a unique-key violation on either dialect. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; errno?: number } | undefined;
  return err?.code === 'ER_DUP_ENTRY' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Number of rows touched by an update or delete, as knex reports it on both dialects. */
export function affected(result: unknown): number {
  return typeof result === 'number' ? result : Number(result ?? 0);
}

/**
 * The value of an `update_time` column for a write at `now`: never equal to, nor before, the row's
 * previous value. Two writes within one millisecond still change the row's validator (the status
 * ETag is built from it), and a clock that stepped back never moves it backwards.
 */
export function nextUpdateTime(db: Knex | Knex.Transaction, now: number): Knex.Raw {
  return db.raw(`${dialectOf(db as Knex) === 'mysql' ? 'GREATEST' : 'MAX'}(update_time + 1, ?)`, [now]);
}
