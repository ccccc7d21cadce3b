/**
 * Azkaban's AJAX endpoints (`/`, `/index`, `/manager`, `/executor`, `/schedule`). Parameters come
 * from the query string, an urlencoded or a multipart body; every error is HTTP 200 with an
 * `error` body (some clients raise on any non-2xx before reading it).
 */
import express from 'express';
import { isCaissonError } from '../../../../common/errors.js';
import type { AuthService } from '../../auth/auth-service.js';
import type { Principal } from '../../auth/principal.js';
import type { ProjectService } from '../../projects/project-service.js';
import type { ExecutionService } from '../../executions/execution-service.js';
import { executorActions } from './executor-actions.js';
import type { Logger } from '../../log.js';
import { callerOf, clearSessionCookie, clientIp, sessionIdOf, setSessionCookie } from '../middleware/authenticate.js';
import { getParams, type RequestParams } from '../request-params.js';
import { sendAjax, sendAjaxError } from './azkaban-json.js';
import { HOME_PAGE, LOGIN_PAGE } from './login-page.js';
import { projectActions } from './project-actions.js';
import type { ScheduleService } from '../../scheduler/schedule-service.js';
import { scheduleActions } from './schedule-actions.js';

export interface AjaxDeps {
  auth: AuthService;
  projects: ProjectService;
  executions: ExecutionService;
  /** Without it, every /schedule action answers "not supported yet". */
  schedules?: ScheduleService | undefined;
  sessionTtlMs: number;
  log: Logger;
}

export type AjaxHandler = (caller: Principal, params: RequestParams, req: express.Request, res: express.Response) => Promise<void>;

/** Actions of later releases answer like Azkaban does for an unknown command, never a crash. */
const LATER: Record<string, ReadonlySet<string> | 'all'> = {
  '/executor': new Set(['pauseFlow', 'resumeFlow', 'flowInfo', 'fetchScheduledFlowGraph', 'ramp', 'updateProp', 'reloadExecutors']),
  '/schedule': new Set(['scheduleFlow', 'fetchScheduleHistory', 'slaInfo', 'setSla']),
  '/manager': new Set([
    'fetchflowdetails',
    'fetchflownodedata',
    'fetchLastSuccessfulFlowExecution',
    'fetchJobInfo',
    'setJobOverrideProperty',
    'changeDescription',
    'getProxyUsers',
    'addProxyUser',
    'removeProxyUser',
  ]),
};

function comesLater(path: string, name: string): boolean {
  const later = LATER[path];
  return later === 'all' || (later !== undefined && later.has(name));
}

export function ajaxRouter(deps: AjaxDeps): express.Router {
  const router = express.Router();
  const manager = projectActions(deps);
  const exec = executorActions(deps.executions);

  const handle = (
    path: string,
    actions: Record<string, AjaxHandler>,
    byAction: Record<string, AjaxHandler> = {},
    onDelete?: AjaxHandler,
  ) => {
    router.all(path, async (req, res) => {
      const params = getParams(req);
      try {
        if (params.get('action') === 'login') return await login(deps, params, req, res);
        if (params.has('logout')) return await logout(deps, req, res);
        const ajax = params.get('ajax');
        const action = params.get('action');
        const caller = callerOf(req);
        if (!caller) {
          if (ajax !== undefined || action !== undefined || req.method !== 'GET' || params.has('delete'))
            return sendAjaxError(res, 'session');
          return res.status(200).type('html').send(LOGIN_PAGE);
        }
        if (params.get('delete') === 'true' && onDelete) return await onDelete(caller, params, req, res);
        if (ajax !== undefined) {
          const h = actions[ajax];
          if (h) return await h(caller, params, req, res);
          if (comesLater(path, ajax)) return sendAjaxError(res, `${ajax} is not supported yet`);
          return sendAjaxError(res, `Cannot execute command ${ajax}`);
        }
        if (action !== undefined) {
          const h = byAction[action];
          if (h) return await h(caller, params, req, res);
          if (comesLater(path, action)) return sendAjaxError(res, `${action} is not supported yet`);
          return sendAjaxError(res, `Cannot execute action ${action}`);
        }
        // A page request (or a session probe) with a valid session: never the login page.
        return res.status(200).type('html').send(HOME_PAGE);
      } catch (e) {
        if (isCaissonError(e)) return sendAjaxError(res, e.message);
        deps.log.error({ err: e, path }, 'AJAX request failed unexpectedly');
        return sendAjaxError(res, 'Internal error; the server log has the details.');
      }
    });
  };

  handle('/', manager.index);
  handle('/index', manager.index);
  handle('/manager', { ...manager.ajax, ...exec.manager }, manager.byAction, manager.deleteProject);
  handle('/executor', exec.executor);
  if (deps.schedules) {
    const sched = scheduleActions(deps.schedules);
    handle('/schedule', sched.ajax, sched.byAction);
  } else handle('/schedule', {});
  return router;
}

async function login(deps: AjaxDeps, params: RequestParams, req: express.Request, res: express.Response): Promise<void> {
  if (params.queryNames.has('password') || params.queryNames.has('username')) {
    return sendAjaxError(res, 'Login error. Must pass username and password in request body');
  }
  const username = params.get('username');
  const password = params.get('password');
  if (!username || password === undefined) return sendAjaxError(res, 'Login error. Must pass username and password in request body');
  try {
    const { sessionId } = await deps.auth.login(username, password, clientIp(req));
    setSessionCookie(res, sessionId, deps.sessionTtlMs);
    return sendAjax(res, { status: 'success', 'session.id': sessionId });
  } catch (e) {
    if (isCaissonError(e)) return sendAjaxError(res, e.message);
    throw e;
  }
}

async function logout(deps: AjaxDeps, req: express.Request, res: express.Response): Promise<void> {
  const sid = sessionIdOf(req);
  if (sid) await deps.auth.logout(sid);
  clearSessionCookie(res);
  return sendAjax(res, { status: 'success' });
}
