/** Data access for version sets (version_sets, stored once by hash) and per-version execution stats. */
import type { Knex } from 'knex';
import { isUniqueViolation } from '../../common/db/dialect.js';

type Db = Knex | Knex.Transaction;

export interface StoredVersionSet {
  id: number;
  hash: string;
  body: string;
  createdAt: number;
}

function toSet(r: Record<string, unknown>): StoredVersionSet {
  return { id: Number(r.id), hash: String(r.hash), body: String(r.body), createdAt: Number(r.created_at) };
}

/**
 * Stores a version set once by its hash and resolves to its id. Two servers inserting the same set
 * concurrently: one insert wins on uq_version_sets_hash, the other reads the winner's row.
 */
export async function storeVersionSet(db: Knex, hash: string, body: string, now: number): Promise<number> {
  const existing = (await db('version_sets').where({ hash }).first('id')) as { id: number } | undefined;
  if (existing) return Number(existing.id);
  try {
    const [id] = await db('version_sets').insert({ hash, body, created_at: now });
    return Number(id);
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
    const row = (await db('version_sets').where({ hash }).first('id')) as { id: number } | undefined;
    if (!row) throw e;
    return Number(row.id);
  }
}

/**
 * storeVersionSet for several sets at once (a dispatch batch): one read of the hashes already
 * stored, then an insert for each new one. Resolves to the id of each hash.
 */
export async function storeVersionSets(
  db: Knex,
  sets: readonly { hash: string; json: string }[],
  now: number,
): Promise<Map<string, number>> {
  const bodies = new Map(sets.map((s) => [s.hash, s.json] as const));
  const ids = new Map<string, number>();
  if (bodies.size === 0) return ids;
  // uq_version_sets_hash serves the lookup.
  const existing = (await db('version_sets')
    .whereIn('hash', [...bodies.keys()])
    .select('id', 'hash')) as { id: number; hash: string }[];
  for (const r of existing) ids.set(String(r.hash), Number(r.id));
  for (const [hash, body] of bodies) if (!ids.has(hash)) ids.set(hash, await storeVersionSet(db, hash, body, now));
  return ids;
}

export async function findVersionSet(db: Db, id: number): Promise<StoredVersionSet | undefined> {
  const r = (await db('version_sets').where({ id }).first()) as Record<string, unknown> | undefined;
  return r ? toSet(r) : undefined;
}

export async function findVersionSets(db: Db, ids: readonly number[]): Promise<StoredVersionSet[]> {
  if (ids.length === 0) return [];
  const rows = (await db('version_sets').whereIn('id', [...ids])) as Record<string, unknown>[];
  return rows.map(toSet);
}

/** Execution counts per version set and status (finished or not), for the per-version statistics. */
export async function countExecutionsByVersionSet(db: Db): Promise<{ versionSetId: number; status: string; n: number }[]> {
  const rows = (await db('execution_flows')
    .whereNotNull('version_set_id')
    .select('version_set_id', 'status')
    .count({ n: '*' })
    .groupBy('version_set_id', 'status')) as Record<string, unknown>[];
  return rows.map((r) => ({ versionSetId: Number(r.version_set_id), status: String(r.status), n: Number(r.n) }));
}

export interface RecordedResolution {
  imageType: string;
  version: string;
  reason: string;
  why: string;
  repinned?: boolean;
}

/** Records on the execution why each version was picked (once, at dispatch). */
export async function recordImageResolution(
  db: Db,
  execId: number,
  versionSetId: number,
  resolution: readonly RecordedResolution[],
): Promise<void> {
  await db('execution_flows')
    .where({ exec_id: execId })
    .update({ version_set_id: versionSetId, image_resolution: JSON.stringify(resolution) });
}

/** recordImageResolution for several executions in one statement (a dispatch batch); PRIMARY key. */
export async function recordImageResolutions(
  db: Db,
  records: readonly { execId: number; versionSetId: number; resolution: readonly RecordedResolution[] }[],
): Promise<void> {
  if (records.length === 0) return;
  if (records.length === 1) {
    const [r] = records;
    await recordImageResolution(db, r!.execId, r!.versionSetId, r!.resolution);
    return;
  }
  const caseOf = (pick: (r: (typeof records)[number]) => string | number): Knex.Raw =>
    db.raw(
      `CASE exec_id ${records.map(() => 'WHEN ? THEN ?').join(' ')} END`,
      records.flatMap((r) => [r.execId, pick(r)]),
    );
  await db('execution_flows')
    .whereIn(
      'exec_id',
      records.map((r) => r.execId),
    )
    .update({ version_set_id: caseOf((r) => r.versionSetId), image_resolution: caseOf((r) => JSON.stringify(r.resolution)) });
}

/** The version set id and recorded resolution of an execution, or undefined when it does not exist. */
export async function findExecutionImages(
  db: Db,
  execId: number,
): Promise<{ versionSetId: number | null; resolution: RecordedResolution[] | null } | undefined> {
  const r = (await db('execution_flows').where({ exec_id: execId }).first('version_set_id', 'image_resolution')) as
    Record<string, unknown> | undefined;
  if (!r) return undefined;
  return {
    versionSetId: r.version_set_id == null ? null : Number(r.version_set_id),
    resolution: r.image_resolution == null ? null : (JSON.parse(String(r.image_resolution)) as RecordedResolution[]),
  };
}

/**
 * Finished executions per version set and status that ended at or after `since` (the ramp-down
 * window). Scans ix_execution_flows_status_update's status prefix; update_time ≥ end_time.
 */
export async function countFinishedExecutionsSince(
  db: Db,
  statuses: readonly string[],
  since: number,
): Promise<{ versionSetId: number; status: string; n: number }[]> {
  const rows = (await db('execution_flows')
    .whereIn('status', [...statuses])
    .andWhere('update_time', '>=', since)
    .andWhere('end_time', '>=', since)
    .whereNotNull('version_set_id')
    .select('version_set_id', 'status')
    .count({ n: '*' })
    .groupBy('version_set_id', 'status')) as Record<string, unknown>[];
  return rows.map((r) => ({ versionSetId: Number(r.version_set_id), status: String(r.status), n: Number(r.n) }));
}
