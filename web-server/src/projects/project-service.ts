/**
 * Projects: create, list, describe, delete (soft), upload a zip as a new version, and the
 * permissions on each. Every call takes the caller and checks the permission it needs.
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Clock } from '../../../common/clock.js';
import { CaissonError } from '../../../common/errors.js';
import { parseFlow1Project } from '../../../common/dsl/flow1.js';
import { detectProjectFormat, parseFlow2Project } from '../../../common/dsl/flow2.js';
import type { FlowDefinition } from '../../../common/dsl/model.js';
import { isUniqueViolation } from '../../../common/db/dialect.js';
import { isAdmin, type Principal } from '../auth/principal.js';
import { appendAudit, listAudit, type AuditEntry } from '../../../common/db/audit-store.js';
import { readProjectArchive, type ArchiveLimits } from './archive.js';
import { grantsAllow, normalizePermissions, type PermissionGrant, type PermissionType } from './permissions.js';
import * as store from './projects-store.js';
import * as perms from './permissions-store.js';
import { FlowCache } from './flow-cache.js';
import { PermissionCache } from './permission-cache.js';

export type { ProjectRow } from './projects-store.js';

const PROJECT_NAME = /^[a-zA-Z][a-zA-Z0-9_-]*$/;
const MAX_NAME = 64;

export interface UploadResult {
  projectId: number;
  version: number;
  flows: string[];
}

export interface ProjectServiceDeps {
  db: Knex;
  clock: Clock;
  archiveLimits: ArchiveLimits;
  /** Non-admin grants per project and caller; defaults: 1 s, 10,000 entries (ttlMs 0 turns it off). */
  permissionCache?: { ttlMs: number; maxEntries: number };
  /** Parsed flows of uploaded versions; default 1,000 entries. */
  flowCacheEntries?: number;
}

export class ProjectService {
  private readonly grantsCache: PermissionCache;
  private readonly flows: FlowCache;

  constructor(private readonly deps: ProjectServiceDeps) {
    this.grantsCache = new PermissionCache(deps.permissionCache?.ttlMs, deps.permissionCache?.maxEntries);
    this.flows = new FlowCache(deps.flowCacheEntries);
  }

  private get db(): Knex {
    return this.deps.db;
  }

  async createProject(caller: Principal, name: string | undefined, description: string | undefined): Promise<store.ProjectRow> {
    if (!name) throw new CaissonError('BAD_REQUEST', 'Project name is missing: pass "name".');
    if (!PROJECT_NAME.test(name) || name.length > MAX_NAME) {
      throw new CaissonError(
        'BAD_REQUEST',
        `Project names must start with a letter, followed by any number of letters, digits, '-' or '_' (at most ${MAX_NAME} characters); got "${name}".`,
      );
    }
    if (!description || description.trim() === '') throw new CaissonError('BAD_REQUEST', 'Description cannot be empty.');
    const now = this.deps.clock.now();
    try {
      const id = await this.db.transaction(async (trx) => {
        const newId = await store.insertProject(trx, { name, description, user: caller.username, now });
        await perms.insertPermission(
          trx,
          newId,
          { principalType: 'user', principal: caller.username, permissions: ['ADMIN'] },
          caller.username,
          now,
        );
        await appendAudit(trx, {
          actor: caller.username,
          action: 'CREATED',
          entityType: 'project',
          entityId: String(newId),
          after: { name, description },
          at: now,
        });
        return newId;
      });
      // A new id has no entries unless an id was reused; dropping them costs nothing.
      this.grantsCache.invalidateProject(id);
      return (await store.findLiveProjectById(this.db, id))!;
    } catch (e) {
      if (isUniqueViolation(e)) throw new CaissonError('PROJECT_EXISTS', `Project ${name} already exists.`, { cause: e });
      throw e;
    }
  }

  /** Projects the caller may read (all live projects for a global admin). */
  async listProjects(caller: Principal): Promise<store.ProjectRow[]> {
    if (isAdmin(caller)) return store.listLiveProjects(this.db);
    return store.listLiveProjectsGrantedTo(this.db, caller.username, caller.groups);
  }

  /** The live project, provided the caller holds `needed` on it; 404 before 403, like Azkaban. */
  async requireProject(caller: Principal, name: string | undefined, needed: PermissionType): Promise<store.ProjectRow> {
    if (!name) throw new CaissonError('BAD_REQUEST', 'Project name is missing: pass "project".');
    const project = await store.findLiveProjectByName(this.db, name);
    if (!project) throw new CaissonError('PROJECT_NOT_FOUND', `Project ${name} doesn't exist.`);
    await this.checkPermission(caller, project, needed);
    return project;
  }

  async checkPermission(caller: Principal, project: store.ProjectRow, needed: PermissionType): Promise<void> {
    if (isAdmin(caller)) return;
    const grants = await this.grantsOf(caller, project.id);
    if (!grantsAllow(grants, needed)) throw new CaissonError('FORBIDDEN', `Permission denied. Need ${needed} access.`);
  }

  async permissionsOf(caller: Principal, project: store.ProjectRow): Promise<PermissionType[]> {
    if (isAdmin(caller)) return ['ADMIN'];
    const grants = await this.grantsOf(caller, project.id);
    return normalizePermissions(grants.flatMap((g) => g.permissions));
  }

  /** The grants of a non-admin caller on a project, from the short-lived cache when fresh. */
  private async grantsOf(caller: Principal, projectId: number): Promise<readonly PermissionGrant[]> {
    const key = PermissionCache.keyOf(projectId, caller.username, caller.groups);
    const now = this.deps.clock.now();
    const cached = this.grantsCache.get(key, now);
    if (cached) return cached;
    const generation = this.grantsCache.generation;
    const grants = await perms.findGrantsFor(this.db, projectId, caller.username, caller.groups);
    this.grantsCache.set(key, projectId, grants, now, generation);
    return grants;
  }

  /**
   * The parsed definition of a flow of an uploaded version (any version, deleted project or not);
   * undefined when it was never stored. Shared and frozen: callers must not change it.
   */
  async flowOf(projectId: number, version: number, flowId: string): Promise<FlowDefinition | undefined> {
    const cached = this.flows.get(projectId, version, flowId);
    if (cached) return cached;
    const stored = await store.findFlow(this.db, projectId, version, flowId);
    if (!stored) return undefined;
    return this.flows.set(projectId, version, flowId, JSON.parse(stored.definition) as FlowDefinition);
  }

  async deleteProject(caller: Principal, name: string | undefined): Promise<store.ProjectRow> {
    const project = await this.requireProject(caller, name, 'ADMIN');
    const now = this.deps.clock.now();
    await this.db.transaction(async (trx) => {
      const changed = await store.softDeleteProject(trx, project.id, caller.username, now);
      if (changed === 0) throw new CaissonError('PROJECT_NOT_FOUND', `Project ${project.name} doesn't exist.`);
      // Schedules of a deleted project go with it (Azkaban: "associated schedules are removed").
      await trx('schedules').where({ project_id: project.id }).delete();
      await appendAudit(trx, {
        actor: caller.username,
        action: 'DELETED',
        entityType: 'project',
        entityId: String(project.id),
        before: { name: project.name },
        at: now,
      });
    });
    return project;
  }

  /**
   * Checks the archive completely (structure, safety limits, every flow) before writing anything,
   * then stores the version, its files and flows in one transaction. A failed upload leaves the
   * previous version current and stores nothing.
   */
  async uploadArchive(caller: Principal, name: string | undefined, fileName: string, zip: Buffer): Promise<UploadResult> {
    const project = await this.requireProject(caller, name, 'WRITE');
    const files = await readProjectArchive(zip, this.deps.archiveLimits);
    const paths = files.map((f) => f.path);
    const format = detectProjectFormat(paths);
    if (format === 'none')
      throw new CaissonError(
        'INVALID_PROJECT',
        'The archive holds no .project file and no .job files: a Flow 2.0 project needs a .project file with azkaban-flow-version: 2.0 at its root, and one .flow file per flow; a Flow 1.0 project holds .job files.',
      );
    // Flow 1.0 (DESIGN §6): .job files and no .project file; .properties files are shared by directory.
    const dslSuffixes = format === '1.0' ? ['.job', '.properties'] : ['.project', '.flow'];
    const texts = new Map<string, string>();
    for (const f of files) {
      if (dslSuffixes.some((suffix) => f.path.endsWith(suffix))) texts.set(f.path, f.content.toString('utf8'));
    }
    const parsed = format === '1.0' ? parseFlow1Project(texts) : parseFlow2Project(texts);
    const now = this.deps.clock.now();
    const sha256 = crypto.createHash('sha256').update(zip).digest('hex');
    const version = await this.db.transaction(async (trx) => {
      // Lock the project row so concurrent uploads get consecutive versions.
      const locked = await store.findLiveProjectByName(trx, project.name, { forUpdate: true });
      if (!locked || locked.id !== project.id) throw new CaissonError('PROJECT_NOT_FOUND', `Project ${project.name} doesn't exist.`);
      const next = (await store.latestVersionNumber(trx, project.id)) + 1;
      await store.insertProjectVersion(trx, {
        projectId: project.id,
        version: next,
        format: parsed.format,
        fileName,
        archiveSize: zip.length,
        archiveSha256: sha256,
        numFiles: files.length,
        uploadedBy: caller.username,
        uploadedAt: now,
      });
      await store.insertProjectFiles(trx, project.id, next, files);
      await store.insertProjectFlows(
        trx,
        project.id,
        next,
        parsed.flows.map((f) => ({ flowId: f.name, file: f.file, definition: JSON.stringify(f) })),
      );
      const moved = await store.setCurrentVersion(trx, project.id, locked.currentVersion, next, caller.username, now);
      if (moved !== 1)
        throw new CaissonError('CONFLICT', `Project ${project.name} changed during the upload; try again.`, { retryable: true });
      await appendAudit(trx, {
        actor: caller.username,
        action: 'UPLOADED',
        entityType: 'project',
        entityId: String(project.id),
        after: { version: next, fileName, sha256, flows: parsed.flows.map((f) => f.name) },
        at: now,
      });
      return next;
    });
    return { projectId: project.id, version, flows: parsed.flows.map((f) => f.name) };
  }

  async listFlows(caller: Principal, name: string | undefined): Promise<{ project: store.ProjectRow; flows: string[] }> {
    const project = await this.requireProject(caller, name, 'READ');
    const flows = project.currentVersion === null ? [] : await store.listFlowIds(this.db, project.id, project.currentVersion);
    return { project, flows };
  }

  async getFlow(
    caller: Principal,
    name: string | undefined,
    flowId: string | undefined,
  ): Promise<{ project: store.ProjectRow; flow: FlowDefinition; version: number }> {
    const project = await this.requireProject(caller, name, 'READ');
    if (!flowId) throw new CaissonError('BAD_REQUEST', 'Flow name is missing: pass "flow".');
    const stored = project.currentVersion === null ? undefined : await store.findFlow(this.db, project.id, project.currentVersion, flowId);
    if (!stored) throw new CaissonError('FLOW_NOT_FOUND', `Flow ${flowId} not found in project ${project.name}.`);
    return { project, flow: JSON.parse(stored.definition) as FlowDefinition, version: project.currentVersion! };
  }

  async describeVersion(project: store.ProjectRow): Promise<store.ProjectVersionRow | undefined> {
    return project.currentVersion === null ? undefined : store.getProjectVersion(this.db, project.id, project.currentVersion);
  }

  async listPermissions(caller: Principal, name: string | undefined): Promise<{ project: store.ProjectRow; grants: PermissionGrant[] }> {
    const project = await this.requireProject(caller, name, 'READ');
    return { project, grants: await perms.listProjectPermissions(this.db, project.id) };
  }

  /** Adds a grant for a user or group that has none yet (Azkaban's addPermission). */
  async addPermission(caller: Principal, name: string | undefined, grant: PermissionGrant): Promise<void> {
    const project = await this.requireProject(caller, name, 'ADMIN');
    const kind = grant.principalType === 'group' ? 'Group' : 'User';
    if (!grant.principal) throw new CaissonError('BAD_REQUEST', `${kind} name is missing: pass "name".`);
    if (grant.permissions.length === 0)
      throw new CaissonError(
        'BAD_REQUEST',
        'No permission given: set at least one of permissions[read|write|execute|schedule|admin]=true.',
      );
    const exists =
      grant.principalType === 'group'
        ? await perms.groupExists(this.db, grant.principal)
        : await perms.userExists(this.db, grant.principal);
    if (!exists) throw new CaissonError('BAD_REQUEST', `${kind} is invalid: no ${grant.principalType} named "${grant.principal}".`);
    const now = this.deps.clock.now();
    try {
      await this.db.transaction(async (trx) => {
        await perms.insertPermission(trx, project.id, grant, caller.username, now);
        await appendAudit(trx, {
          actor: caller.username,
          action: 'PERMISSION_ADDED',
          entityType: 'project',
          entityId: String(project.id),
          after: grant,
          at: now,
        });
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new CaissonError('CONFLICT', `${kind} permission already exists.`, { cause: e });
      throw e;
    } finally {
      this.grantsCache.invalidateProject(project.id);
    }
  }

  /** Replaces a grant; an empty permission list removes it (Azkaban's changePermission). */
  async changePermission(caller: Principal, name: string | undefined, grant: PermissionGrant): Promise<void> {
    const project = await this.requireProject(caller, name, 'ADMIN');
    const now = this.deps.clock.now();
    try {
      await this.db.transaction(async (trx) => {
        const before = await perms.findPermission(trx, project.id, grant.principalType, grant.principal);
        if (!before) throw new CaissonError('NOT_FOUND', `Permissions for ${grant.principal} cannot be found.`);
        if (grant.permissions.length === 0) await perms.deletePermission(trx, project.id, grant.principalType, grant.principal);
        else await perms.updatePermission(trx, project.id, grant.principalType, grant.principal, grant.permissions, caller.username, now);
        await appendAudit(trx, {
          actor: caller.username,
          action: grant.permissions.length === 0 ? 'PERMISSION_REMOVED' : 'PERMISSION_CHANGED',
          entityType: 'project',
          entityId: String(project.id),
          before,
          after: grant.permissions.length === 0 ? undefined : { ...grant, permissions: normalizePermissions(grant.permissions) },
          at: now,
        });
      });
    } finally {
      // After the commit (or a failure, which costs one re-read): no cached grant predates the change.
      this.grantsCache.invalidateProject(project.id);
    }
  }

  async projectLog(
    caller: Principal,
    name: string | undefined,
    limit: number,
    skip: number,
  ): Promise<{ project: store.ProjectRow; entries: AuditEntry[] }> {
    const project = await this.requireProject(caller, name, 'READ');
    return { project, entries: await listAudit(this.db, { entityTypes: ['project'], entityId: String(project.id), limit, skip }) };
  }
}
