/**
 * The JSON REST API under /api/v1: the same operations as the AJAX API with consistent nouns,
 * HTTP status codes and `{code, message}` errors. Callers authenticate with the session cookie,
 * `session.id`, or `Authorization: Bearer <token>`.
 */
import express from 'express';
import { CaissonError } from '../../../../common/errors.js';
import type { AuthService } from '../../auth/auth-service.js';
import type { ProjectService, ProjectRow } from '../../projects/project-service.js';
import { flowGraph } from '../../projects/flow-graph.js';
import { PERMISSION_TYPES, type PermissionType } from '../../projects/permissions.js';
import { clearSessionCookie, clientIp, sessionIdOf, setSessionCookie } from '../middleware/authenticate.js';
import { getParams } from '../request-params.js';
import type { ExecutionService } from '../../executions/execution-service.js';
import { executionRoutes } from './executions-routes.js';
import type { ScheduleService } from '../../scheduler/schedule-service.js';
import { scheduleRoutes } from './schedules-routes.js';
import { jsonBody, requireCaller } from './rest-input.js';

export interface RestDeps {
  executions?: ExecutionService;
  schedules?: ScheduleService | undefined;
  auth: AuthService;
  projects: ProjectService;
  sessionTtlMs: number;
}

const projectJson = (p: ProjectRow) => ({
  id: p.id,
  name: p.name,
  description: p.description,
  createdBy: p.createdBy,
  createdAt: p.createdAt,
  modifiedBy: p.modifiedBy,
  modifiedAt: p.modifiedAt,
  currentVersion: p.currentVersion,
});

function permissionList(raw: unknown): PermissionType[] {
  if (!Array.isArray(raw)) throw new CaissonError('BAD_REQUEST', `"permissions" must be a list of ${PERMISSION_TYPES.join(', ')}.`);
  const out: PermissionType[] = [];
  for (const v of raw) {
    const s = String(v).toUpperCase();
    if (!(PERMISSION_TYPES as readonly string[]).includes(s))
      throw new CaissonError('BAD_REQUEST', `Unknown permission "${String(v)}": expected one of ${PERMISSION_TYPES.join(', ')}.`);
    out.push(s as PermissionType);
  }
  return out;
}

function principalType(raw: unknown): 'user' | 'group' {
  if (raw === 'user' || raw === 'group') return raw;
  throw new CaissonError('BAD_REQUEST', `"type" must be "user" or "group", got ${JSON.stringify(raw)}.`);
}

export function restRouter(deps: RestDeps): express.Router {
  const r = express.Router();
  const { auth, projects } = deps;

  r.post('/login', async (req, res) => {
    const body = jsonBody(req);
    if (getParams(req).queryNames.has('password'))
      throw new CaissonError('BAD_REQUEST', 'Login error. Must pass username and password in request body');
    const username = typeof body.username === 'string' ? body.username : undefined;
    const password = typeof body.password === 'string' ? body.password : undefined;
    if (!username || password === undefined) throw new CaissonError('BAD_REQUEST', 'Pass "username" and "password" in the request body.');
    const { sessionId, principal } = await auth.login(username, password, clientIp(req));
    setSessionCookie(res, sessionId, deps.sessionTtlMs);
    res.json({ sessionId, user: { username: principal.username, role: principal.role, groups: principal.groups } });
  });

  r.post('/logout', async (req, res) => {
    const sid = sessionIdOf(req);
    if (sid) await auth.logout(sid);
    clearSessionCookie(res);
    res.status(204).end();
  });

  r.get('/me', (req, res) => {
    const p = requireCaller(req);
    res.json({ username: p.username, role: p.role, groups: p.groups, via: p.via });
  });

  r.get('/tokens', async (req, res) => {
    res.json({ tokens: await auth.listApiTokens(requireCaller(req)) });
  });
  r.post('/tokens', async (req, res) => {
    const caller = requireCaller(req);
    const body = jsonBody(req);
    const name = typeof body.name === 'string' ? body.name.trim() : '';
    if (!name) throw new CaissonError('BAD_REQUEST', 'Pass a "name" for the token (what it is for).');
    let ttlMs: number | undefined;
    if (body.ttlSeconds !== undefined) {
      const n = Number(body.ttlSeconds);
      if (!Number.isInteger(n) || n <= 0) throw new CaissonError('BAD_REQUEST', '"ttlSeconds" must be a positive whole number.');
      ttlMs = n * 1000;
    }
    res.status(201).json(await auth.createApiToken(caller, name, ttlMs));
  });
  r.delete('/tokens/:id', async (req, res) => {
    const caller = requireCaller(req);
    const id = Number(req.params.id);
    if (!Number.isInteger(id)) throw new CaissonError('BAD_REQUEST', `Token id must be a number, got "${req.params.id}".`);
    await auth.revokeApiToken(caller, id);
    res.status(204).end();
  });

  r.get('/projects', async (req, res) => {
    const list = await projects.listProjects(requireCaller(req));
    res.json({ projects: list.map(projectJson) });
  });
  r.post('/projects', async (req, res) => {
    const body = jsonBody(req);
    const p = await projects.createProject(requireCaller(req), body.name as string | undefined, body.description as string | undefined);
    res.status(201).json(projectJson(p));
  });
  r.get('/projects/:project', async (req, res) => {
    const caller = requireCaller(req);
    const p = await projects.requireProject(caller, req.params.project, 'READ');
    const version = await projects.describeVersion(p);
    const { flows } = await projects.listFlows(caller, p.name);
    res.json({ ...projectJson(p), flows, version: version ?? null, yourPermissions: await projects.permissionsOf(caller, p) });
  });
  r.delete('/projects/:project', async (req, res) => {
    await projects.deleteProject(requireCaller(req), req.params.project);
    res.status(204).end();
  });
  r.post('/projects/:project/versions', async (req, res) => {
    const caller = requireCaller(req);
    const params = getParams(req);
    const file = params.file('file');
    let content: Buffer | undefined = file?.content;
    let fileName = file?.filename ?? 'project.zip';
    if (!content && Buffer.isBuffer(req.body)) {
      content = req.body;
      fileName = params.get('fileName') ?? fileName;
    }
    if (!content || content.length === 0) {
      throw new CaissonError(
        'BAD_REQUEST',
        'Send the project zip as the request body (Content-Type: application/zip) or as the multipart field "file".',
      );
    }
    const result = await projects.uploadArchive(caller, req.params.project, fileName, content);
    res.status(201).json(result);
  });
  r.get('/projects/:project/flows', async (req, res) => {
    const { project, flows } = await projects.listFlows(requireCaller(req), req.params.project);
    res.json({ project: project.name, projectId: project.id, version: project.currentVersion, flows });
  });
  r.get('/projects/:project/flows/:flow', async (req, res) => {
    const { project, flow, version } = await projects.getFlow(requireCaller(req), req.params.project, req.params.flow);
    res.json({ project: project.name, projectId: project.id, version, flow, graph: flowGraph(flow) });
  });
  r.get('/projects/:project/permissions', async (req, res) => {
    const { project, grants } = await projects.listPermissions(requireCaller(req), req.params.project);
    res.json({
      project: project.name,
      projectId: project.id,
      permissions: grants.map((g) => ({ type: g.principalType, name: g.principal, permissions: g.permissions })),
    });
  });
  r.post('/projects/:project/permissions', async (req, res) => {
    const body = jsonBody(req);
    await projects.addPermission(requireCaller(req), req.params.project, {
      principalType: principalType(body.type ?? 'user'),
      principal: typeof body.name === 'string' ? body.name : '',
      permissions: permissionList(body.permissions),
    });
    res.status(201).end();
  });
  r.put('/projects/:project/permissions/:type/:name', async (req, res) => {
    const caller = requireCaller(req);
    const body = jsonBody(req);
    const perms = permissionList(body.permissions);
    if (perms.length === 0) throw new CaissonError('BAD_REQUEST', 'Give at least one permission, or DELETE the grant to remove it.');
    await projects.changePermission(caller, req.params.project, {
      principalType: principalType(req.params.type),
      principal: req.params.name,
      permissions: perms,
    });
    res.status(204).end();
  });
  r.delete('/projects/:project/permissions/:type/:name', async (req, res) => {
    await projects.changePermission(requireCaller(req), req.params.project, {
      principalType: principalType(req.params.type),
      principal: req.params.name,
      permissions: [],
    });
    res.status(204).end();
  });
  r.get('/projects/:project/events', async (req, res) => {
    const { project, entries } = await projects.projectLog(requireCaller(req), req.params.project, 1000, 0);
    res.json({ project: project.name, projectId: project.id, events: entries });
  });

  if (deps.executions) executionRoutes(r, deps.executions);
  if (deps.schedules) scheduleRoutes(r, deps.schedules);

  r.use((req, _res) => {
    throw new CaissonError('NOT_FOUND', `No such endpoint: ${req.method} ${req.baseUrl}${req.path}. See docs/api.md.`);
  });
  return r;
}
