/** Data access for image types, their ownerships and their versions (tables of migrations/0004). */
import type { Knex } from 'knex';
import type { ImageVersion, OwnerRole, VersionState } from './model.js';
import { versionKey } from './version.js';

type Db = Knex | Knex.Transaction;

export interface ImageTypeRow {
  id: number;
  name: string;
  description: string;
  deployable: string;
  createdBy: string;
  createdAt: number;
  modifiedBy: string;
  modifiedAt: number;
}

export interface OwnershipRow {
  ownerKind: 'user' | 'group';
  owner: string;
  role: OwnerRole;
}

function toType(r: Record<string, unknown>): ImageTypeRow {
  return {
    id: Number(r.id),
    name: String(r.name),
    description: String(r.description ?? ''),
    deployable: String(r.deployable),
    createdBy: String(r.created_by),
    createdAt: Number(r.created_at),
    modifiedBy: String(r.modified_by),
    modifiedAt: Number(r.modified_at),
  };
}

function toVersion(r: Record<string, unknown>): ImageVersion {
  return {
    id: Number(r.id),
    typeId: Number(r.type_id),
    imageType: String(r.type_name),
    path: String(r.path),
    version: String(r.version),
    state: String(r.state) as VersionState,
    releaseTag: r.release_tag == null ? null : String(r.release_tag),
    digest: r.digest == null ? null : String(r.digest),
    description: String(r.description ?? ''),
    createdBy: String(r.created_by),
    createdAt: Number(r.created_at),
    modifiedBy: String(r.modified_by),
    modifiedAt: Number(r.modified_at),
  };
}

export async function insertImageType(
  db: Db,
  t: { name: string; description: string; deployable: string; actor: string; now: number },
): Promise<number> {
  const [id] = await db('image_types').insert({
    name: t.name,
    description: t.description,
    deployable: t.deployable,
    created_by: t.actor,
    created_at: t.now,
    modified_by: t.actor,
    modified_at: t.now,
  });
  return Number(id);
}

/** `forUpdate` locks the type row: writers of one type's versions and plans serialize on it. */
export async function findImageTypeByName(db: Db, name: string, options: { forUpdate?: boolean } = {}): Promise<ImageTypeRow | undefined> {
  let q = db('image_types').where({ name }).first();
  if (options.forUpdate) q = q.forUpdate();
  const r = (await q) as Record<string, unknown> | undefined;
  return r ? toType(r) : undefined;
}

export async function findImageTypeById(db: Db, id: number): Promise<ImageTypeRow | undefined> {
  const r = (await db('image_types').where({ id }).first()) as Record<string, unknown> | undefined;
  return r ? toType(r) : undefined;
}

export async function listImageTypes(db: Db): Promise<ImageTypeRow[]> {
  const rows = (await db('image_types').orderBy('name')) as Record<string, unknown>[];
  return rows.map(toType);
}

/** Adds owners or changes their role (one row per type, kind and owner: uq_image_ownerships). */
export async function upsertOwnerships(db: Db, typeId: number, owners: readonly OwnershipRow[], actor: string, now: number): Promise<void> {
  for (const o of owners) {
    const updated = await db('image_ownerships')
      .where({ type_id: typeId, owner_kind: o.ownerKind, owner: o.owner })
      .update({ role: o.role, modified_by: actor, modified_at: now });
    if (Number(updated) > 0) continue;
    await db('image_ownerships').insert({
      type_id: typeId,
      owner_kind: o.ownerKind,
      owner: o.owner,
      role: o.role,
      created_by: actor,
      created_at: now,
      modified_by: actor,
      modified_at: now,
    });
  }
}

export async function deleteOwnership(db: Db, typeId: number, ownerKind: string, owner: string): Promise<number> {
  return Number(await db('image_ownerships').where({ type_id: typeId, owner_kind: ownerKind, owner }).del());
}

export async function listOwnerships(db: Db, typeId: number): Promise<OwnershipRow[]> {
  const rows = (await db('image_ownerships').where({ type_id: typeId }).orderBy(['owner_kind', 'owner'])) as Record<string, unknown>[];
  return rows.map((r) => ({
    ownerKind: String(r.owner_kind) as 'user' | 'group',
    owner: String(r.owner),
    role: String(r.role) as OwnerRole,
  }));
}

export interface NewVersion {
  typeId: number;
  path: string;
  version: string;
  state: VersionState;
  releaseTag: string | null;
  digest: string | null;
  description: string;
  actor: string;
  now: number;
}

export async function insertImageVersion(db: Db, v: NewVersion): Promise<number> {
  const [id] = await db('image_versions').insert({
    type_id: v.typeId,
    path: v.path,
    version: v.version,
    version_key: versionKey(v.version),
    state: v.state,
    active_type_id: v.state === 'ACTIVE' ? v.typeId : null,
    release_tag: v.releaseTag,
    digest: v.digest,
    description: v.description,
    created_by: v.actor,
    created_at: v.now,
    modified_by: v.actor,
    modified_at: v.now,
  });
  return Number(id);
}

function versionsQuery(db: Db): Knex.QueryBuilder {
  return db('image_versions as v').join('image_types as t', 't.id', 'v.type_id').select('v.*', 't.name as type_name');
}

export async function findImageVersionById(db: Db, id: number): Promise<ImageVersion | undefined> {
  const r = (await versionsQuery(db).where('v.id', id).first()) as Record<string, unknown> | undefined;
  return r ? toVersion(r) : undefined;
}

/** A type's versions, oldest first by numeric order (ix_image_versions_order). */
export async function listImageVersions(
  db: Db,
  typeId: number,
  filter: { version?: string; state?: string } = {},
): Promise<ImageVersion[]> {
  const q = versionsQuery(db).where('v.type_id', typeId);
  if (filter.version !== undefined) q.andWhere('v.version', filter.version);
  if (filter.state !== undefined) q.andWhere('v.state', filter.state);
  const rows = (await q.orderBy('v.version_key')) as Record<string, unknown>[];
  return rows.map(toVersion);
}

/** Versions of several types at once (the dispatch resolver), oldest first. */
export async function listVersionsOfTypes(db: Db, typeIds: readonly number[]): Promise<ImageVersion[]> {
  if (typeIds.length === 0) return [];
  const rows = (await versionsQuery(db)
    .whereIn('v.type_id', [...typeIds])
    .orderBy(['v.type_id', 'v.version_key'])) as Record<string, unknown>[];
  return rows.map(toVersion);
}

export async function findImageTypesByNames(db: Db, names: readonly string[]): Promise<ImageTypeRow[]> {
  if (names.length === 0) return [];
  const rows = (await db('image_types').whereIn('name', [...names])) as Record<string, unknown>[];
  return rows.map(toType);
}

/** Demotes the type's ACTIVE version (if any) to STABLE; uq_image_versions_active keeps one ACTIVE per type. */
export async function demoteActiveVersion(db: Db, typeId: number, actor: string, now: number): Promise<number> {
  return Number(
    await db('image_versions')
      .where({ active_type_id: typeId })
      .update({ state: 'STABLE', active_type_id: null, modified_by: actor, modified_at: now }),
  );
}

export async function updateImageVersion(
  db: Db,
  id: number,
  fields: { state?: VersionState; path?: string; version?: string; description?: string; typeId: number; actor: string; now: number },
): Promise<void> {
  const patch: Record<string, unknown> = { modified_by: fields.actor, modified_at: fields.now };
  if (fields.state !== undefined) {
    patch.state = fields.state;
    patch.active_type_id = fields.state === 'ACTIVE' ? fields.typeId : null;
  }
  if (fields.path !== undefined) patch.path = fields.path;
  if (fields.version !== undefined) {
    patch.version = fields.version;
    patch.version_key = versionKey(fields.version);
  }
  if (fields.description !== undefined) patch.description = fields.description;
  await db('image_versions').where({ id }).update(patch);
}

export async function deleteImageVersion(db: Db, id: number): Promise<void> {
  await db('image_versions').where({ id }).del();
}
