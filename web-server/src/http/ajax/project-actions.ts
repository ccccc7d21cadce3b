/** The project actions of `/manager` and `/index`, with Azkaban's parameter names and shapes. */
import { CaissonError, isCaissonError } from '../../../../common/errors.js';
import { isAdmin } from '../../auth/principal.js';
import { flowGraph } from '../../projects/flow-graph.js';
import type { PermissionType } from '../../projects/permissions.js';
import type { AjaxDeps, AjaxHandler } from './ajax-router.js';
import { sendAjax, sendAjaxError } from './azkaban-json.js';
import type { RequestParams } from '../request-params.js';

const ZIP_TYPES = ['application/zip', 'application/x-zip-compressed', 'application/octet-stream', 'application/x-zip'];

/** Reads Azkaban's `permissions[read]=true…` fields. ADMIN alone when admin is set. */
function permissionsFrom(params: RequestParams): PermissionType[] {
  const on = (k: string) => (params.get(`permissions[${k}]`) ?? '').toLowerCase() === 'true';
  if (on('admin')) return ['ADMIN'];
  const out: PermissionType[] = [];
  if (on('read')) out.push('READ');
  if (on('write')) out.push('WRITE');
  if (on('execute')) out.push('EXECUTE');
  if (on('schedule')) out.push('SCHEDULE');
  return out;
}

export function projectActions(deps: AjaxDeps): {
  index: Record<string, AjaxHandler>;
  ajax: Record<string, AjaxHandler>;
  byAction: Record<string, AjaxHandler>;
  deleteProject: AjaxHandler;
} {
  const { projects } = deps;

  const fetchFlowGraph: AjaxHandler = async (caller, params, _req, res) => {
    const { project, flow } = await projects.getFlow(caller, params.get('project'), params.get('flow'));
    sendAjax(res, { project: project.name, projectId: project.id, flow: flow.name, nodes: flowGraph(flow) });
  };

  const deleteProject: AjaxHandler = async (caller, params, _req, res) => {
    const project = await projects.deleteProject(caller, params.get('project'));
    sendAjax(res, {
      status: 'success',
      message: `Project '${project.name}' was successfully deleted and associated schedules are removed.`,
    });
  };

  const ajax: Record<string, AjaxHandler> = {
    upload: async (caller, params, _req, res) => {
      const name = params.get('project');
      const file = params.file('file');
      if (!name) return sendAjaxError(res, 'No project name found.');
      if (!file) return sendAjaxError(res, 'Installation Failed. No file found: send the project zip as the multipart field "file".');
      const type = file.mimeType.split(';')[0]!.trim().toLowerCase();
      if (!ZIP_TYPES.includes(type)) {
        return sendAjaxError(
          res,
          `File type ${file.mimeType} unrecognized: send the zip as application/zip or application/x-zip-compressed.`,
        );
      }
      try {
        const r = await projects.uploadArchive(caller, name, file.filename || 'project.zip', file.content);
        sendAjax(res, { projectId: String(r.projectId), version: String(r.version) });
      } catch (e) {
        if (!isCaissonError(e)) throw e;
        const detail =
          e.problems.length > 1
            ? `\n${e.problems.map((p) => [p.file, p.line, p.column].filter((x) => x !== undefined).join(':') + ': ' + p.message).join('\n')}`
            : '';
        sendAjaxError(res, `Installation Failed. ${e.message}${detail}`);
      }
    },
    fetchprojectflows: async (caller, params, _req, res) => {
      const { project, flows } = await projects.listFlows(caller, params.get('project'));
      sendAjax(res, { project: project.name, projectId: project.id, flows: flows.map((flowId) => ({ flowId })) });
    },
    fetchflowgraph: fetchFlowGraph,
    fetchflowjobs: fetchFlowGraph,
    getProjectId: async (caller, params, _req, res) => {
      const project = await projects.requireProject(caller, params.get('project'), 'READ');
      sendAjax(res, { project: project.name, projectId: project.id });
    },
    getPermissions: async (caller, params, _req, res) => {
      const { project, grants } = await projects.listPermissions(caller, params.get('project'));
      sendAjax(res, {
        project: project.name,
        projectId: project.id,
        permissions: grants.filter((g) => g.principalType === 'user').map((g) => ({ username: g.principal, permission: g.permissions })),
      });
    },
    getGroupPermissions: async (caller, params, _req, res) => {
      const { project, grants } = await projects.listPermissions(caller, params.get('project'));
      sendAjax(res, {
        project: project.name,
        projectId: project.id,
        permissions: grants.filter((g) => g.principalType === 'group').map((g) => ({ username: g.principal, permission: g.permissions })),
      });
    },
    addPermission: async (caller, params, _req, res) => {
      const principalType = (params.get('group') ?? '').toLowerCase() === 'true' ? 'group' : 'user';
      await projects.addPermission(caller, params.get('project'), {
        principalType,
        principal: params.get('name') ?? '',
        permissions: permissionsFrom(params),
      });
      const project = await projects.requireProject(caller, params.get('project'), 'READ');
      sendAjax(res, { project: project.name, projectId: project.id });
    },
    changePermission: async (caller, params, _req, res) => {
      const principalType = (params.get('group') ?? '').toLowerCase() === 'true' ? 'group' : 'user';
      const name = params.get('name');
      if (!name) throw new CaissonError('BAD_REQUEST', 'User or group name is missing: pass "name".');
      await projects.changePermission(caller, params.get('project'), {
        principalType,
        principal: name,
        permissions: permissionsFrom(params),
      });
      const project = await projects.requireProject(caller, params.get('project'), 'READ');
      sendAjax(res, { project: project.name, projectId: project.id });
    },
    fetchProjectLogs: async (caller, params, _req, res) => {
      const size = Math.min(Math.max(Number(params.get('size') ?? 1000) || 1000, 1), 10_000);
      const skip = Math.max(Number(params.get('skip') ?? 0) || 0, 0);
      const { project, entries } = await projects.projectLog(caller, params.get('project'), size, skip);
      sendAjax(res, {
        project: project.name,
        projectId: project.id,
        columns: ['user', 'time', 'type', 'message'],
        logData: entries.map((e) => [e.actor, e.at, e.action, e.after === undefined ? null : JSON.stringify(e.after)]),
      });
    },
  };

  const byAction: Record<string, AjaxHandler> = {
    create: async (caller, params, _req, res) => {
      try {
        const project = await projects.createProject(caller, params.get('name'), params.get('description'));
        sendAjax(res, { status: 'success', path: `manager?project=${project.name}`, action: 'redirect', projectId: project.id });
      } catch (e) {
        if (!isCaissonError(e)) throw e;
        sendAjax(res, { status: 'error', message: e.message });
      }
    },
  };

  const index: Record<string, AjaxHandler> = {
    fetchuserprojects: async (caller, params, _req, res) => {
      const forUser = params.get('user');
      if (forUser && forUser !== caller.username && !isAdmin(caller)) {
        throw new CaissonError('FORBIDDEN', `Permission denied: only an admin may list the projects of another user (${forUser}).`);
      }
      const list = await projects.listProjects(caller);
      const mine = forUser ? list.filter((p) => p.createdBy === forUser) : list;
      sendAjax(res, {
        projects: mine.map((p) => ({
          projectId: p.id,
          projectName: p.name,
          description: p.description,
          createdBy: p.createdBy,
          createdTime: p.createdAt,
          lastModifiedTime: p.modifiedAt,
          lastModifiedUser: p.modifiedBy,
          version: p.currentVersion ?? 0,
        })),
      });
    },
  };

  return { index, ajax, byAction, deleteProject };
}
