/** Data access for projects, their versions, files and parsed flows. */
import type { Knex } from 'knex';

export interface ProjectRow {
  id: number;
  name: string;
  description: string;
  createdBy: string;
  createdAt: number;
  modifiedBy: string;
  modifiedAt: number;
  currentVersion: number | null;
}

export interface ProjectVersionRow {
  projectId: number;
  version: number;
  format: string;
  fileName: string;
  archiveSize: number;
  archiveSha256: string;
  numFiles: number;
  uploadedBy: string;
  uploadedAt: number;
}

export interface StoredFlow {
  flowId: string;
  file: string;
  definition: string;
}

/** Largest piece of a file stored in one row (MySQL's max_allowed_packet defaults to 16-64 MiB). */
export const FILE_CHUNK_BYTES = 4 * 1024 * 1024;

type Db = Knex | Knex.Transaction;

/** Maps a `projects` row (snake_case columns) to a ProjectRow. */
export const toProject = (r: Record<string, unknown>): ProjectRow => ({
  id: Number(r.id),
  name: String(r.name),
  description: String(r.description ?? ''),
  createdBy: String(r.created_by),
  createdAt: Number(r.created_at),
  modifiedBy: String(r.modified_by),
  modifiedAt: Number(r.modified_at),
  currentVersion: r.current_version === null || r.current_version === undefined ? null : Number(r.current_version),
});

export async function insertProject(db: Db, p: { name: string; description: string; user: string; now: number }): Promise<number> {
  const [id] = await db('projects').insert({
    name: p.name,
    live_name: p.name,
    description: p.description,
    created_by: p.user,
    created_at: p.now,
    modified_by: p.user,
    modified_at: p.now,
  });
  return Number(id);
}

/** A live (not deleted) project by name; uses uq_projects_live_name. */
export async function findLiveProjectByName(db: Db, name: string, options: { forUpdate?: boolean } = {}): Promise<ProjectRow | undefined> {
  let q = db('projects').where({ live_name: name }).first();
  if (options.forUpdate) q = q.forUpdate();
  const row = (await q) as Record<string, unknown> | undefined;
  return row ? toProject(row) : undefined;
}

export async function findLiveProjectById(db: Db, id: number): Promise<ProjectRow | undefined> {
  const row = (await db('projects').where({ id }).whereNotNull('live_name').first()) as Record<string, unknown> | undefined;
  return row ? toProject(row) : undefined;
}

export async function listLiveProjects(db: Db): Promise<ProjectRow[]> {
  const rows = (await db('projects').whereNotNull('live_name').orderBy('name')) as Record<string, unknown>[];
  return rows.map(toProject);
}

/** Live projects on which the user, or one of the groups, holds any grant. */
export async function listLiveProjectsGrantedTo(db: Db, username: string, groups: readonly string[]): Promise<ProjectRow[]> {
  const rows = (await db('projects')
    .whereNotNull('live_name')
    .whereIn('id', (sub) => {
      void sub
        .select('project_id')
        .from('project_permissions')
        .where((w) => {
          void w.where({ principal_type: 'user', principal: username });
          if (groups.length > 0) void w.orWhere((g) => void g.where({ principal_type: 'group' }).whereIn('principal', [...groups]));
        });
    })
    .orderBy('name')) as Record<string, unknown>[];
  return rows.map(toProject);
}

/** Soft delete: keeps the rows (executions refer to them) and frees the name. Returns rows changed. */
export async function softDeleteProject(db: Db, id: number, user: string, now: number): Promise<number> {
  return db('projects')
    .where({ id })
    .whereNotNull('live_name')
    .update({ live_name: null, deleted_at: now, deleted_by: user, modified_by: user, modified_at: now });
}

export async function updateProjectDescription(db: Db, id: number, description: string, user: string, now: number): Promise<void> {
  await db('projects').where({ id }).update({ description, modified_by: user, modified_at: now });
}

export async function latestVersionNumber(db: Db, projectId: number): Promise<number> {
  const row = (await db('project_versions').where({ project_id: projectId }).max({ v: 'version' }).first()) as
    { v: number | null } | undefined;
  return Number(row?.v ?? 0);
}

export async function insertProjectVersion(db: Db, v: ProjectVersionRow): Promise<void> {
  await db('project_versions').insert({
    project_id: v.projectId,
    version: v.version,
    format: v.format,
    file_name: v.fileName,
    archive_size: v.archiveSize,
    archive_sha256: v.archiveSha256,
    num_files: v.numFiles,
    uploaded_by: v.uploadedBy,
    uploaded_at: v.uploadedAt,
  });
}

/** Inserts files split into FILE_CHUNK_BYTES pieces, batching small rows together. */
export async function insertProjectFiles(
  db: Db,
  projectId: number,
  version: number,
  files: readonly { path: string; content: Buffer }[],
): Promise<void> {
  let batch: Record<string, unknown>[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batch.length > 0) await db('project_files').insert(batch);
    batch = [];
    batchBytes = 0;
  };
  for (const f of files) {
    const pieces = Math.max(1, Math.ceil(f.content.length / FILE_CHUNK_BYTES));
    for (let i = 0; i < pieces; i++) {
      const content = f.content.subarray(i * FILE_CHUNK_BYTES, (i + 1) * FILE_CHUNK_BYTES);
      if (batchBytes + content.length > FILE_CHUNK_BYTES || batch.length >= 200) await flush();
      batch.push({ project_id: projectId, version, path: f.path, chunk: i, size: f.content.length, content });
      batchBytes += content.length;
    }
  }
  await flush();
}

export async function insertProjectFlows(db: Db, projectId: number, version: number, flows: readonly StoredFlow[]): Promise<void> {
  if (flows.length === 0) return;
  await db('project_flows').insert(
    flows.map((f) => ({ project_id: projectId, version, flow_id: f.flowId, file: f.file, definition: f.definition })),
  );
}

/** Compare-and-set of the current version: fails (0 rows) if another upload moved it first. */
export async function setCurrentVersion(
  db: Db,
  projectId: number,
  expected: number | null,
  version: number,
  user: string,
  now: number,
): Promise<number> {
  const q = db('projects').where({ id: projectId });
  if (expected === null) void q.whereNull('current_version');
  else void q.where({ current_version: expected });
  return q.update({ current_version: version, modified_by: user, modified_at: now });
}

export async function getProjectVersion(db: Db, projectId: number, version: number): Promise<ProjectVersionRow | undefined> {
  const r = (await db('project_versions').where({ project_id: projectId, version }).first()) as Record<string, unknown> | undefined;
  if (!r) return undefined;
  return {
    projectId: Number(r.project_id),
    version: Number(r.version),
    format: String(r.format),
    fileName: String(r.file_name),
    archiveSize: Number(r.archive_size),
    archiveSha256: String(r.archive_sha256),
    numFiles: Number(r.num_files),
    uploadedBy: String(r.uploaded_by),
    uploadedAt: Number(r.uploaded_at),
  };
}

export async function listFlowIds(db: Db, projectId: number, version: number): Promise<string[]> {
  const rows = (await db('project_flows').where({ project_id: projectId, version }).orderBy('flow_id').select('flow_id')) as {
    flow_id: string;
  }[];
  return rows.map((r) => r.flow_id);
}

export async function findFlow(db: Db, projectId: number, version: number, flowId: string): Promise<StoredFlow | undefined> {
  const r = (await db('project_flows').where({ project_id: projectId, version, flow_id: flowId }).first()) as
    Record<string, unknown> | undefined;
  return r ? { flowId: String(r.flow_id), file: String(r.file), definition: String(r.definition) } : undefined;
}

export async function listProjectFilePaths(db: Db, projectId: number, version: number): Promise<{ path: string; size: number }[]> {
  const rows = (await db('project_files').where({ project_id: projectId, version, chunk: 0 }).orderBy('path').select('path', 'size')) as {
    path: string;
    size: number;
  }[];
  return rows.map((r) => ({ path: r.path, size: Number(r.size) }));
}

export async function readProjectFile(db: Db, projectId: number, version: number, path: string): Promise<Buffer | undefined> {
  const rows = (await db('project_files').where({ project_id: projectId, version, path }).orderBy('chunk').select('content')) as {
    content: Buffer;
  }[];
  if (rows.length === 0) return undefined;
  return Buffer.concat(rows.map((r) => Buffer.from(r.content)));
}

export async function countProjectFileRows(db: Db, projectId: number): Promise<number> {
  const r = (await db('project_files').where({ project_id: projectId }).count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(r?.n ?? 0);
}

/** A project by id, deleted or not (executions keep pointing at their project). */
export async function findProjectById(db: Db, id: number): Promise<ProjectRow | undefined> {
  const row = (await db('projects').where({ id }).first()) as Record<string, unknown> | undefined;
  return row ? toProject(row) : undefined;
}
