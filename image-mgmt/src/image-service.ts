/**
 * Image-management operations behind the admin API: permission checks, one transaction per change
 * (the type row is locked first, so writers of one type serialize), and an audit_log entry with
 * the value before and after.
 */
import type { Knex } from 'knex';
import type { Clock } from '../../common/clock.js';
import { isUniqueViolation } from '../../common/db/dialect.js';
import { CaissonError } from '../../common/errors.js';
import { appendImageAudit } from './audit-store.js';
import * as catalog from './catalog-store.js';
import type { ImageTypeRow, OwnershipRow } from './catalog-store.js';
import type { ImageCaller, ImageVersion } from './model.js';
import { mayOnType, type ImageAction } from './permissions.js';
import * as rampRules from './ramp-rule-store.js';
import * as rampups from './rampup-store.js';
import {
  checkPlanTotal,
  parseCreatePlan,
  parseCreateType,
  parseCreateVersion,
  parseOwnerships,
  parseUpdatePlan,
  parseUpdateVersion,
  type RampupInput,
} from './requests.js';

export const FORBIDDEN_MESSAGE = 'The user does not have appropriate permissions to access this endpoint';

export interface ImageServiceDeps {
  db: Knex;
  clock: Clock;
}

export class ImageService {
  constructor(private readonly deps: ImageServiceDeps) {}

  private get db(): Knex {
    return this.deps.db;
  }

  /** The type (locked when inside a transaction that asks for it) after checking the caller's right. */
  private async typeFor(
    db: Knex | Knex.Transaction,
    name: string,
    caller: ImageCaller,
    action: ImageAction,
    lock = false,
  ): Promise<ImageTypeRow> {
    const type = await catalog.findImageTypeByName(db, name, { forUpdate: lock });
    if (!type) {
      if (!caller.isAdmin) throw new CaissonError('FORBIDDEN', FORBIDDEN_MESSAGE);
      throw new CaissonError('NOT_FOUND', `image type ${name} is not registered`);
    }
    const owners = await catalog.listOwnerships(db, type.id);
    if (!mayOnType(owners, caller, action)) throw new CaissonError('FORBIDDEN', FORBIDDEN_MESSAGE);
    return type;
  }

  async createImageType(caller: ImageCaller, body: unknown): Promise<number> {
    if (!caller.isAdmin) throw new CaissonError('FORBIDDEN', 'Invalid permission to create image type');
    const req = parseCreateType(body);
    const now = this.deps.clock.now();
    try {
      return await this.db.transaction(async (trx) => {
        const id = await catalog.insertImageType(trx, { ...req, actor: caller.username, now });
        await catalog.upsertOwnerships(trx, id, req.owners, caller.username, now);
        await appendImageAudit(trx, {
          actor: caller.username,
          action: 'create',
          entityType: 'image_type',
          entityId: req.name,
          after: req,
          at: now,
        });
        return id;
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new CaissonError('CONFLICT', `image type ${req.name} already exists`, { cause: e });
      throw e;
    }
  }

  async getImageType(caller: ImageCaller, nameOrId: string): Promise<ImageTypeRow & { ownerships: OwnershipRow[] }> {
    const byId = /^\d+$/.test(nameOrId) ? await catalog.findImageTypeById(this.db, Number(nameOrId)) : undefined;
    const type = await this.typeFor(this.db, byId?.name ?? nameOrId.toLowerCase(), caller, 'read');
    return { ...type, ownerships: await catalog.listOwnerships(this.db, type.id) };
  }

  /** Types the caller may read: all for a global admin, else the ones it owns in any role. */
  async listImageTypes(caller: ImageCaller): Promise<ImageTypeRow[]> {
    const types = await catalog.listImageTypes(this.db);
    if (caller.isAdmin) return types;
    const out: ImageTypeRow[] = [];
    for (const t of types) if (mayOnType(await catalog.listOwnerships(this.db, t.id), caller, 'read')) out.push(t);
    return out;
  }

  async addOwners(caller: ImageCaller, typeName: string, body: unknown): Promise<OwnershipRow[]> {
    const now = this.deps.clock.now();
    return this.db.transaction(async (trx) => {
      const type = await this.typeFor(trx, typeName, caller, 'manage-owners', true);
      const owners = parseOwnerships(body);
      const before = await catalog.listOwnerships(trx, type.id);
      await catalog.upsertOwnerships(trx, type.id, owners, caller.username, now);
      const after = await catalog.listOwnerships(trx, type.id);
      await auditOwners(trx, caller, type.name, before, after, now);
      return after;
    });
  }

  async removeOwner(caller: ImageCaller, typeName: string, owner: string, ownerKind: string): Promise<OwnershipRow[]> {
    const now = this.deps.clock.now();
    return this.db.transaction(async (trx) => {
      const type = await this.typeFor(trx, typeName, caller, 'manage-owners', true);
      const before = await catalog.listOwnerships(trx, type.id);
      const after = before.filter((o) => !(o.owner === owner && o.ownerKind === ownerKind));
      if (after.length === before.length) throw new CaissonError('NOT_FOUND', `${owner} is not an owner of image type ${type.name}`);
      if (!after.some((o) => o.role === 'ADMIN'))
        throw new CaissonError('BAD_REQUEST', `image type ${type.name} must keep at least one ADMIN owner`);
      await catalog.deleteOwnership(trx, type.id, ownerKind, owner);
      await auditOwners(trx, caller, type.name, before, after, now);
      return after;
    });
  }

  async createImageVersion(caller: ImageCaller, body: unknown): Promise<number> {
    const req = parseCreateVersion(body);
    const now = this.deps.clock.now();
    try {
      return await this.db.transaction(async (trx) => {
        const type = await this.typeFor(trx, req.imageType, caller, 'write', true);
        if (req.state === 'ACTIVE') await catalog.demoteActiveVersion(trx, type.id, caller.username, now);
        const id = await catalog.insertImageVersion(trx, { ...req, typeId: type.id, actor: caller.username, now });
        await appendImageAudit(trx, {
          actor: caller.username,
          action: 'create',
          entityType: 'image_version',
          entityId: `${type.name}:${req.version}`,
          after: req,
          at: now,
        });
        return id;
      });
    } catch (e) {
      if (isUniqueViolation(e))
        throw new CaissonError('CONFLICT', `version ${req.version} of image type ${req.imageType} already exists`, { cause: e });
      throw e;
    }
  }

  async listImageVersions(caller: ImageCaller, query: Record<string, string | undefined>): Promise<ImageVersion[]> {
    const name = query.imageType?.trim().toLowerCase();
    if (!name) throw new CaissonError('BAD_REQUEST', 'imageType is required');
    const type = await this.typeFor(this.db, name, caller, 'read');
    const filter: { version?: string; state?: string } = {};
    if (query.imageVersion) filter.version = query.imageVersion;
    if (query.versionState) filter.state = query.versionState.toUpperCase();
    return catalog.listImageVersions(this.db, type.id, filter);
  }

  /** Updates a version; setting it ACTIVE demotes the previous ACTIVE to STABLE in the same transaction. */
  async updateImageVersion(caller: ImageCaller, versionId: number, body: unknown): Promise<ImageVersion> {
    const req = parseUpdateVersion(body);
    const now = this.deps.clock.now();
    try {
      return await this.db.transaction(async (trx) => {
        const type = await this.typeFor(trx, req.imageType, caller, 'write', true);
        const before = await catalog.findImageVersionById(trx, versionId);
        if (!before || before.typeId !== type.id)
          throw new CaissonError('NOT_FOUND', `image version ${versionId} of image type ${type.name} does not exist`);
        if (req.state === 'ACTIVE' && before.state !== 'ACTIVE') await catalog.demoteActiveVersion(trx, type.id, caller.username, now);
        await catalog.updateImageVersion(trx, versionId, { ...req, typeId: type.id, actor: caller.username, now });
        const after = (await catalog.findImageVersionById(trx, versionId))!;
        await appendImageAudit(trx, {
          actor: caller.username,
          action: 'update',
          entityType: 'image_version',
          entityId: `${type.name}:${before.version}`,
          before,
          after,
          at: now,
        });
        return after;
      });
    } catch (e) {
      if (isUniqueViolation(e))
        throw new CaissonError('CONFLICT', `that version of image type ${req.imageType} already exists`, { cause: e });
      throw e;
    }
  }

  async deleteImageVersion(caller: ImageCaller, versionId: number, query: Record<string, string | undefined>): Promise<void> {
    const name = query.imageType?.trim().toLowerCase();
    if (!name) throw new CaissonError('BAD_REQUEST', 'imageType is required');
    const force = query.forceDelete === 'true';
    const now = this.deps.clock.now();
    await this.db.transaction(async (trx) => {
      const type = await this.typeFor(trx, name, caller, 'write', true);
      const before = await catalog.findImageVersionById(trx, versionId);
      if (!before || before.typeId !== type.id)
        throw new CaissonError('NOT_FOUND', `image version ${versionId} of image type ${type.name} does not exist`);
      if ((await rampups.countRowsOnVersion(trx, versionId)) > 0) {
        if (!force)
          throw new CaissonError(
            'CONFLICT',
            `image version ${before.version} is used by a ramp-up plan; pass forceDelete=true to delete it with its ramp-up rows`,
          );
        await rampups.deleteRowsOnVersion(trx, versionId);
      }
      await catalog.deleteImageVersion(trx, versionId);
      await appendImageAudit(trx, {
        actor: caller.username,
        action: 'delete',
        entityType: 'image_version',
        entityId: `${type.name}:${before.version}`,
        before,
        at: now,
      });
    });
  }

  private async rowsWithIds(trx: Knex.Transaction, typeId: number, typeName: string, rows: readonly RampupInput[]) {
    const versions = new Map((await catalog.listImageVersions(trx, typeId)).map((v) => [v.version, v]));
    const missing = rows.filter((r) => !versions.has(r.version)).map((r) => r.version);
    if (missing.length > 0) throw new CaissonError('BAD_REQUEST', `image type ${typeName} has no version ${missing.join(', ')}`);
    return rows.map((r) => ({ ...r, versionId: versions.get(r.version)!.id }));
  }

  async createRampupPlan(caller: ImageCaller, body: unknown): Promise<number> {
    const req = parseCreatePlan(body);
    const now = this.deps.clock.now();
    try {
      return await this.db.transaction(async (trx) => {
        const type = await this.typeFor(trx, req.imageType, caller, 'write', true);
        const rows = await this.rowsWithIds(trx, type.id, type.name, req.rows);
        const current = await rampups.findActivePlan(trx, type.id);
        const activate = req.activatePlan || req.forceActivatePlan;
        if (current && activate) {
          if (!req.forceActivatePlan) {
            throw new CaissonError(
              'CONFLICT',
              `image type ${type.name} already has an active ramp-up plan "${current.name}"; set forceActivatePlan to replace it`,
            );
          }
          await rampups.deactivatePlan(trx, type.id, caller.username, now);
        }
        const id = await rampups.insertPlan(trx, {
          typeId: type.id,
          name: req.planName,
          description: req.description,
          active: activate,
          guard: req.rampDownGuard,
          actor: caller.username,
          now,
        });
        await rampups.replacePlanRows(trx, id, rows, caller.username, now);
        await appendImageAudit(trx, {
          actor: caller.username,
          action: 'create',
          entityType: 'image_rampup',
          entityId: type.name,
          before: current,
          after: req,
          at: now,
        });
        return id;
      });
    } catch (e) {
      // Two concurrent creates: uq_image_rampup_plans_active lets one win.
      if (isUniqueViolation(e))
        throw new CaissonError('CONFLICT', `image type ${req.imageType} already has an active ramp-up plan`, { cause: e });
      throw e;
    }
  }

  async getActivePlan(caller: ImageCaller, typeName: string | undefined): Promise<rampups.RampupPlan> {
    const name = typeName?.trim().toLowerCase();
    if (!name) throw new CaissonError('BAD_REQUEST', 'imageType is required');
    const type = await this.typeFor(this.db, name, caller, 'read');
    const plan = await rampups.findActivePlan(this.db, type.id);
    if (!plan) throw new CaissonError('NOT_FOUND', `image type ${type.name} has no active ramp-up plan`);
    return plan;
  }

  /** Updates the active plan's rows (listed versions replace or join the current rows), or deactivates it. */
  async updateRampupPlan(caller: ImageCaller, typeName: string, body: unknown): Promise<rampups.RampupPlan | undefined> {
    const now = this.deps.clock.now();
    return this.db.transaction(async (trx) => {
      const type = await this.typeFor(trx, typeName.toLowerCase(), caller, 'write', true);
      const req = parseUpdatePlan(body);
      const before = await rampups.findActivePlan(trx, type.id);
      if (!before) throw new CaissonError('NOT_FOUND', `image type ${type.name} has no active ramp-up plan`);
      if (!req.keepActive) {
        await rampups.deactivatePlan(trx, type.id, caller.username, now);
        await appendImageAudit(trx, {
          actor: caller.username,
          action: 'deactivate',
          entityType: 'image_rampup',
          entityId: type.name,
          before,
          at: now,
        });
        return undefined;
      }
      const merged = new Map<string, RampupInput>(before.rows.map((r) => [r.version, r]));
      for (const r of req.rows) merged.set(r.version, r);
      const rows = [...merged.values()];
      checkPlanTotal(rows);
      await rampups.replacePlanRows(trx, before.id, await this.rowsWithIds(trx, type.id, type.name, rows), caller.username, now);
      if (req.rampDownGuard !== undefined) await rampups.updatePlanGuard(trx, before.id, req.rampDownGuard, caller.username, now);
      const after = (await rampups.findActivePlan(trx, type.id))!;
      await appendImageAudit(trx, {
        actor: caller.username,
        action: 'update',
        entityType: 'image_rampup',
        entityId: type.name,
        before,
        after,
        at: now,
      });
      return after;
    });
  }

  /** Each type's ACTIVE version and active plan, for the types the caller may read. */
  async status(caller: ImageCaller): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for (const t of await this.listImageTypes(caller)) {
      const active = (await catalog.listImageVersions(this.db, t.id, { state: 'ACTIVE' }))[0];
      const plan = await rampups.findActivePlan(this.db, t.id);
      out.push({
        imageType: t.name,
        activeVersion: active ? { imageVersion: active.version, imagePath: active.path, id: active.id } : null,
        rampupPlan: plan
          ? {
              planName: plan.name,
              imageRampups: plan.rows.map((r) => ({
                imageVersion: r.version,
                rampupPercentage: r.percentage,
                stabilityTag: r.stabilityTag,
              })),
            }
          : null,
      });
    }
    return out;
  }

  // --- ramp rules ---------------------------------------------------------------------------

  private async ruleFor(trx: Knex.Transaction, name: string | undefined, caller: ImageCaller): Promise<rampRules.RampRule> {
    if (!name) throw new CaissonError('BAD_REQUEST', 'ruleName must not be null or empty');
    const rule = await rampRules.findRampRule(trx, name);
    if (!rule) throw new CaissonError('NOT_FOUND', `ramp rule ${name} does not exist`);
    if (!caller.isAdmin && !rule.owners.includes(caller.username)) throw new CaissonError('FORBIDDEN', FORBIDDEN_MESSAGE);
    return rule;
  }

  /** A rule that keeps its flows off one ramped version of one type. Type ADMIN/MEMBER owners or global admin. */
  async createRampRule(caller: ImageCaller, body: Record<string, unknown>): Promise<number> {
    const problems: string[] = [];
    const ruleName = typeof body.ruleName === 'string' ? body.ruleName.trim() : '';
    const imageName = typeof body.imageName === 'string' ? body.imageName.trim().toLowerCase() : '';
    const imageVersion = typeof body.imageVersion === 'string' ? body.imageVersion.trim() : '';
    if (!ruleName) problems.push('ruleName must not be null or empty');
    if (!imageName) problems.push('imageName must not be null or empty');
    if (!imageVersion) problems.push('imageVersion must not be null or empty');
    if (problems.length > 0) throw new CaissonError('BAD_REQUEST', problems.join('; '));
    return this.insertRule(caller, ruleName, { ruleName, imageName, imageVersion }, async (trx) => {
      const type = await this.typeFor(trx, imageName, caller, 'write');
      const version = (await catalog.listImageVersions(trx, type.id, { version: imageVersion }))[0];
      if (!version) throw new CaissonError('BAD_REQUEST', `image type ${type.name} has no version ${imageVersion}`);
      return { typeId: type.id, versionId: version.id, highPriority: false };
    });
  }

  /** Inserts a ramp rule and its audit entry in one transaction; a taken name is a CONFLICT. */
  private async insertRule(
    caller: ImageCaller,
    ruleName: string,
    audited: Record<string, unknown>,
    target: (trx: Knex.Transaction) => Promise<{ typeId: number | null; versionId: number | null; highPriority: boolean }>,
  ): Promise<number> {
    const now = this.deps.clock.now();
    try {
      return await this.db.transaction(async (trx) => {
        const id = await rampRules.insertRampRule(trx, {
          name: ruleName,
          ...(await target(trx)),
          owners: [caller.username],
          actor: caller.username,
          now,
        });
        await appendImageAudit(trx, {
          actor: caller.username,
          action: 'create',
          entityType: 'ramp_rule',
          entityId: ruleName,
          after: audited,
          at: now,
        });
        return id;
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new CaissonError('CONFLICT', `ramp rule ${ruleName} already exists`, { cause: e });
      throw e;
    }
  }

  /** A high-priority rule keeps its flows off every ramped version; global admin only. */
  async createHighPriorityRule(caller: ImageCaller, body: Record<string, unknown>): Promise<number> {
    if (!caller.isAdmin) throw new CaissonError('FORBIDDEN', FORBIDDEN_MESSAGE);
    const ruleName = typeof body.ruleName === 'string' ? body.ruleName.trim() : '';
    if (!ruleName) throw new CaissonError('BAD_REQUEST', 'ruleName must not be null or empty');
    return this.insertRule(caller, ruleName, { ruleName, highPriority: true }, async () => ({
      typeId: null,
      versionId: null,
      highPriority: true,
    }));
  }

  async addFlowsToRule(caller: ImageCaller, body: Record<string, unknown>): Promise<void> {
    const flowIds = body.flowIds;
    if (!Array.isArray(flowIds) || flowIds.length === 0)
      throw new CaissonError('BAD_REQUEST', 'flowIds must be a non-empty list of {projectName, flowName}');
    const now = this.deps.clock.now();
    await this.db.transaction(async (trx) => {
      const rule = await this.ruleFor(trx, typeof body.ruleName === 'string' ? body.ruleName : undefined, caller);
      const flows: { projectId: number; flowId: string }[] = [];
      const problems: string[] = [];
      for (const [i, f] of flowIds.entries()) {
        const e = (f ?? {}) as Record<string, unknown>;
        const projectName = typeof e.projectName === 'string' ? e.projectName : '';
        const flowName = typeof e.flowName === 'string' ? e.flowName : '';
        const found = projectName && flowName ? await rampRules.findProjectFlow(trx, projectName, flowName) : undefined;
        if (!found) problems.push(`flowIds[${i}]: project "${projectName}" does not exist`);
        else if (!found.exists) problems.push(`flowIds[${i}]: project ${projectName} has no flow "${flowName}"`);
        else flows.push({ projectId: found.projectId, flowId: flowName });
      }
      if (problems.length > 0) throw new CaissonError('BAD_REQUEST', problems.join('; '));
      const before = await rampRules.listRuleFlows(trx, rule.id);
      await rampRules.addFlowsToRule(trx, rule.id, flows);
      const after = await rampRules.listRuleFlows(trx, rule.id);
      await appendImageAudit(trx, {
        actor: caller.username,
        action: 'add-flows',
        entityType: 'ramp_rule',
        entityId: rule.name,
        before,
        after,
        at: now,
      });
    });
  }

  async updateRuleVersion(caller: ImageCaller, ruleName: string | undefined, version: string | undefined): Promise<void> {
    if (!version) throw new CaissonError('BAD_REQUEST', 'version must not be null or empty');
    const now = this.deps.clock.now();
    await this.db.transaction(async (trx) => {
      const rule = await this.ruleFor(trx, ruleName, caller);
      if (rule.typeId === null) throw new CaissonError('BAD_REQUEST', `ramp rule ${rule.name} is a high-priority rule over every version`);
      const v = (await catalog.listImageVersions(trx, rule.typeId, { version }))[0];
      if (!v) throw new CaissonError('BAD_REQUEST', `the image type of ramp rule ${rule.name} has no version ${version}`);
      await rampRules.updateRampRule(trx, rule.id, { versionId: v.id, actor: caller.username, now });
      await appendImageAudit(trx, {
        actor: caller.username,
        action: 'update-version',
        entityType: 'ramp_rule',
        entityId: rule.name,
        before: rule,
        after: { ...rule, versionId: v.id },
        at: now,
      });
    });
  }

  async deleteRampRule(caller: ImageCaller, ruleName: string | undefined): Promise<void> {
    const now = this.deps.clock.now();
    await this.db.transaction(async (trx) => {
      const rule = await this.ruleFor(trx, ruleName, caller);
      await rampRules.deleteRampRule(trx, rule.id);
      await appendImageAudit(trx, {
        actor: caller.username,
        action: 'delete',
        entityType: 'ramp_rule',
        entityId: rule.name,
        before: rule,
        at: now,
      });
    });
  }
}

/** The audit record of a change to an image type's owners. */
function auditOwners(
  trx: Knex.Transaction,
  caller: ImageCaller,
  typeName: string,
  before: readonly OwnershipRow[],
  after: readonly OwnershipRow[],
  at: number,
): Promise<void> {
  return appendImageAudit(trx, {
    actor: caller.username,
    action: 'update-owners',
    entityType: 'image_type',
    entityId: typeName,
    before,
    after,
    at,
  });
}
