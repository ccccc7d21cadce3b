/**
 * The image-management HTTP API as router factories the web server mounts:
 * - `imageAdminRouter`: Azkaban's endpoints (`/imageTypes`, `/imageVersions`, `/imageRampup`,
 *   `/imageRampRule/*`, `/status`) with its field names, 201 + Location on creation, and errors as
 *   a status code with `{"error": "<message>"}`; plus `/imageAudit` (the audit log of changes).
 * - `versionSetRouter`: ours, under /api/v1: `/version-sets/resolve`, `/version-sets/stats`,
 *   `/version-sets/:id`.
 */
import express from 'express';
import type { Knex } from 'knex';
import { CaissonError, isCaissonError } from '../../common/errors.js';
import { listImageAudit } from './audit-store.js';
import { aggregateVersionStats } from './execution-stats.js';
import type { ImageService } from './image-service.js';
import type { ImageCaller, ImageVersion } from './model.js';
import type { RampDownGuard } from './ramp-down.js';
import { rampDownGuardJson } from './requests.js';
import { compareVersions } from './version.js';
import { parseVersionSetBody } from './version-set.js';
import { countExecutionsByVersionSet, findExecutionImages, findVersionSet, findVersionSets } from './version-set-store.js';
import { resolveVersionSet, type FlowToResolve, type ResolutionSettings } from './version-resolver.js';

type Handler = (req: express.Request, res: express.Response, caller: ImageCaller) => Promise<void>;

export interface ImageRouterDeps {
  db: Knex;
  service: ImageService;
  /** The authenticated caller, or undefined (then 401). */
  callerOf: (req: express.Request) => ImageCaller | undefined;
}

/** Path prefixes of the Azkaban image-management endpoints (the web server routes them here). */
export const IMAGE_ADMIN_PATHS = ['/imageTypes', '/imageVersions', '/imageRampup', '/imageRampRule', '/status', '/imageAudit'];

export function isImageAdminPath(path: string): boolean {
  return IMAGE_ADMIN_PATHS.some((p) => path === p || path.startsWith(`${p}/`));
}

function route(deps: ImageRouterDeps, handler: Handler): express.RequestHandler {
  return async (req, res, next) => {
    try {
      const caller = deps.callerOf(req);
      if (!caller) throw new CaissonError('UNAUTHENTICATED', 'Login required: send session.id or a bearer token.');
      await handler(req, res, caller);
    } catch (e) {
      next(e);
    }
  };
}

function query(req: express.Request): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.query)) if (typeof v === 'string') out[k] = v;
  return out;
}

function body(req: express.Request): Record<string, unknown> {
  return req.body !== null && typeof req.body === 'object' && !Buffer.isBuffer(req.body) ? (req.body as Record<string, unknown>) : {};
}

function param(req: express.Request, name: string): string {
  const v: unknown = req.params[name];
  return typeof v === 'string' ? v : '';
}

function idParam(raw: string | undefined, what: string): number {
  if (!raw || !/^\d+$/.test(raw)) throw new CaissonError('BAD_REQUEST', `${what} must be a positive integer, got "${raw ?? ''}"`);
  return Number(raw);
}

const iso = (ms: number) => new Date(ms).toISOString();

export function versionJson(v: ImageVersion): Record<string, unknown> {
  return {
    id: v.id,
    imageType: v.imageType,
    imagePath: v.path,
    imageVersion: v.version,
    versionState: v.state,
    releaseTag: v.releaseTag,
    digest: v.digest,
    description: v.description,
    createdBy: v.createdBy,
    createdOn: iso(v.createdAt),
    modifiedBy: v.modifiedBy,
    modifiedOn: iso(v.modifiedAt),
  };
}

/** Azkaban's error shape for these endpoints: the status code and `{"error": message}`. */
export function imageErrorHandler(onUnexpected: (err: unknown) => void): express.ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (isCaissonError(err)) {
      res.status(err.httpStatus).json({ error: err.message });
      return;
    }
    const e = err as { type?: string; message?: string };
    if (e?.type === 'entity.parse.failed') {
      res.status(400).json({ error: `The request body is not valid JSON: ${e.message ?? ''}`.trim() });
      return;
    }
    onUnexpected(err);
    res.status(500).json({ error: 'Internal error; the server log has the details.' });
  };
}

export function imageAdminRouter(deps: ImageRouterDeps): express.Router {
  const r = express.Router();
  const s = deps.service;
  const on = (h: Handler) => route(deps, h);

  r.post(
    '/imageTypes',
    on(async (req, res, caller) => {
      const id = await s.createImageType(caller, req.body);
      res.status(201).location(`/imageTypes/${id}`).json({});
    }),
  );
  r.get(
    '/imageTypes',
    on(async (req, res, caller) => {
      const q = query(req);
      if (q.imageType) {
        const t = await s.getImageType(caller, q.imageType);
        res.json([typeJson(t)]);
        return;
      }
      res.json((await s.listImageTypes(caller)).map((t) => typeJson({ ...t })));
    }),
  );
  r.get(
    '/imageTypes/:nameOrId',
    on(async (req, res, caller) => {
      res.json(typeJson(await s.getImageType(caller, param(req, 'nameOrId'))));
    }),
  );
  r.post(
    '/imageTypes/:name/ownerships',
    on(async (req, res, caller) => {
      res.json({ ownerships: (await s.addOwners(caller, param(req, 'name').toLowerCase(), req.body)).map(ownerJson) });
    }),
  );
  r.delete(
    '/imageTypes/:name/ownerships/:owner',
    on(async (req, res, caller) => {
      const kind = query(req).ownerType ?? 'user';
      res.json({ ownerships: (await s.removeOwner(caller, param(req, 'name').toLowerCase(), param(req, 'owner'), kind)).map(ownerJson) });
    }),
  );

  r.post(
    '/imageVersions',
    on(async (req, res, caller) => {
      const id = await s.createImageVersion(caller, req.body);
      res.status(201).location(`/imageVersions/${id}`).json({});
    }),
  );
  r.get(
    '/imageVersions',
    on(async (req, res, caller) => {
      res.json((await s.listImageVersions(caller, query(req))).map(versionJson));
    }),
  );
  r.post(
    '/imageVersions/:id',
    on(async (req, res, caller) => {
      res.json(versionJson(await s.updateImageVersion(caller, idParam(param(req, 'id'), 'versionId'), req.body)));
    }),
  );
  r.delete(
    '/imageVersions/:id',
    on(async (req, res, caller) => {
      await s.deleteImageVersion(caller, idParam(param(req, 'id'), 'versionId'), query(req));
      res.json({});
    }),
  );

  r.post(
    '/imageRampup',
    on(async (req, res, caller) => {
      const id = await s.createRampupPlan(caller, req.body);
      res.status(201).location(`/imageRampup/${id}`).json({});
    }),
  );
  r.get(
    '/imageRampup',
    on(async (req, res, caller) => {
      res.json(planJson(await s.getActivePlan(caller, query(req).imageType)));
    }),
  );
  r.post(
    '/imageRampup/:imageType',
    on(async (req, res, caller) => {
      const plan = await s.updateRampupPlan(caller, param(req, 'imageType'), req.body);
      res.json(plan ? planJson(plan) : { activated: false });
    }),
  );

  r.post(
    '/imageRampRule/createRule',
    on(async (req, res, caller) => {
      await s.createRampRule(caller, body(req));
      res.status(201).json({});
    }),
  );
  r.post(
    '/imageRampRule/createHPFlowRule',
    on(async (req, res, caller) => {
      await s.createHighPriorityRule(caller, body(req));
      res.status(201).json({});
    }),
  );
  r.post(
    '/imageRampRule/addFlowsToRule',
    on(async (req, res, caller) => {
      await s.addFlowsToRule(caller, body(req));
      res.json({});
    }),
  );
  r.post(
    '/imageRampRule/updateVersion',
    on(async (req, res, caller) => {
      const q = { ...query(req), ...stringFields(body(req)) };
      await s.updateRuleVersion(caller, q.ruleName, q.version);
      res.json({});
    }),
  );
  r.post(
    '/imageRampRule/deleteRule',
    on(async (req, res, caller) => {
      const q = { ...query(req), ...stringFields(body(req)) };
      await s.deleteRampRule(caller, q.ruleName);
      res.json({});
    }),
  );

  r.get(
    '/status',
    on(async (_req, res, caller) => {
      res.json(await s.status(caller));
    }),
  );
  r.get(
    '/imageAudit',
    on(async (req, res, caller) => {
      if (!caller.isAdmin) throw new CaissonError('FORBIDDEN', 'Only admins may read the image-management audit log.');
      const q = query(req);
      const limit = Math.min(1000, Number(q.limit ?? 100) || 100);
      const entries = await listImageAudit(deps.db, {
        entityTypes: q.entityType ? [q.entityType] : ['image_type', 'image_version', 'image_rampup', 'ramp_rule'],
        ...(q.entityId ? { entityId: q.entityId } : {}),
        limit,
      });
      res.json(entries.map((e) => ({ ...e, at: iso(e.at) })));
    }),
  );
  return r;
}

export interface VersionSetRouterDeps extends ImageRouterDeps {
  settings: ResolutionSettings;
  /** Rejects (CaissonError) unless the request's caller may read the execution. */
  checkExecutionRead: (req: express.Request, execId: number) => Promise<void>;
  /** The flow as the web server knows it (READ permission of the request's caller checked), or a CaissonError. */
  loadFlow: (req: express.Request, project: string, flow: string) => Promise<FlowToResolve>;
}

export function versionSetRouter(deps: VersionSetRouterDeps): express.Router {
  const r = express.Router();
  const on = (h: Handler) => route(deps, h);
  r.get(
    '/version-sets/resolve',
    on(async (req, res) => {
      const q = query(req);
      if (!q.project || !q.flow) throw new CaissonError('BAD_REQUEST', 'project and flow are required');
      const flow = await deps.loadFlow(req, q.project, q.flow);
      const overrides: Record<string, string> = {};
      for (const [k, v] of Object.entries(q))
        if (k.startsWith('flowOverride[') && k.endsWith(']') && v !== undefined) overrides[k.slice(13, -1)] = v;
      const result = await resolveVersionSet(deps.db, deps.settings, { ...flow, flowParams: { ...flow.flowParams, ...overrides } });
      res.json({
        project: flow.projectName,
        flow: flow.flowId,
        ok: result.problems.length === 0,
        problems: result.problems,
        hash: result.problems.length === 0 ? result.hash : null,
        images: result.images.map((i) => ({
          imageType: i.imageType,
          imageVersion: i.version,
          image: `${i.path}:${i.version}`,
          reason: i.reason,
          why: i.why,
          ...(i.repinned ? { repinned: true } : {}),
        })),
      });
    }),
  );
  r.get(
    '/version-sets/stats',
    on(async (req, res) => {
      const counts = await countExecutionsByVersionSet(deps.db);
      const sets = await findVersionSets(deps.db, [...new Set(counts.map((c) => c.versionSetId))]);
      const stats = aggregateVersionStats(counts, new Map(sets.map((s) => [s.id, parseVersionSetBody(s.body)])));
      const type = query(req).imageType?.toLowerCase();
      res.json(type ? stats.filter((s) => s.imageType === type).sort((a, b) => compareVersions(a.version, b.version)) : stats);
    }),
  );
  r.get(
    '/executions/:id/images',
    on(async (req, res) => {
      const execId = idParam(param(req, 'id'), 'execution id');
      await deps.checkExecutionRead(req, execId);
      const found = await findExecutionImages(deps.db, execId);
      if (!found) throw new CaissonError('EXECUTION_NOT_FOUND', `execution ${execId} does not exist`);
      const set = found.versionSetId === null ? undefined : await findVersionSet(deps.db, found.versionSetId);
      res.json({
        execId,
        versionSetId: found.versionSetId,
        images: set ? (JSON.parse(set.body) as unknown) : null,
        resolution: found.resolution,
      });
    }),
  );
  r.get(
    '/version-sets/:id',
    on(async (req, res) => {
      const id = idParam(param(req, 'id'), 'version set id');
      const set = await findVersionSet(deps.db, id);
      if (!set) throw new CaissonError('NOT_FOUND', `version set ${id} does not exist`);
      res.json({ id: set.id, hash: set.hash, createdAt: set.createdAt, images: JSON.parse(set.body) as unknown });
    }),
  );
  return r;
}

function stringFields(b: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(b)) if (typeof v === 'string') out[k] = v;
  return out;
}

function ownerJson(o: { ownerKind: string; owner: string; role: string }): Record<string, string> {
  return { owner: o.owner, ownerType: o.ownerKind, role: o.role };
}

function typeJson(t: {
  id: number;
  name: string;
  description: string;
  deployable: string;
  createdBy: string;
  createdAt: number;
  modifiedBy: string;
  modifiedAt: number;
  ownerships?: { ownerKind: string; owner: string; role: string }[];
}): Record<string, unknown> {
  return {
    id: t.id,
    imageType: t.name,
    description: t.description,
    deployable: t.deployable,
    createdBy: t.createdBy,
    createdOn: iso(t.createdAt),
    modifiedBy: t.modifiedBy,
    modifiedOn: iso(t.modifiedAt),
    ...(t.ownerships ? { ownerships: t.ownerships.map(ownerJson) } : {}),
  };
}

function planJson(p: {
  id: number;
  name: string;
  description: string;
  active: boolean;
  rampDownGuard: RampDownGuard | null;
  rows: { version: string; percentage: number; stabilityTag: string }[];
}): Record<string, unknown> {
  return {
    id: p.id,
    planName: p.name,
    description: p.description,
    activatePlan: p.active,
    rampDownGuard: rampDownGuardJson(p.rampDownGuard),
    imageRampups: p.rows.map((r) => ({ imageVersion: r.version, rampupPercentage: r.percentage, stabilityTag: r.stabilityTag })),
  };
}

/**
 * Azkaban's image-management paths at the server root: the request is parsed and authenticated by
 * `before` (JSON body, parameters, session) only when its path is one of IMAGE_ADMIN_PATHS;
 * every other request passes through untouched.
 */
export function imageAdminApp(
  deps: ImageRouterDeps & { before: readonly express.RequestHandler[]; onUnexpected: (err: unknown) => void },
): express.RequestHandler {
  const app = express.Router();
  for (const h of deps.before) app.use(h);
  app.use(imageAdminRouter(deps));
  app.use(imageErrorHandler(deps.onUnexpected));
  return (req, res, next) => {
    if (!isImageAdminPath(req.path)) return next();
    app(req, res, next);
  };
}
