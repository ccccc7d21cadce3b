/**
 * The actions of `/schedule`, with Azkaban's names and shapes: `ajax=scheduleCronFlow`,
 * `ajax=fetchSchedule`, `ajax=loadFlow` (listing) and `action=removeSched`. Like Azkaban,
 * scheduleCronFlow and removeSched answer failures as `{status: "error", message}`.
 */
import { isCaissonError } from '../../../../common/errors.js';
import type { ScheduleService, ScheduleView } from '../../scheduler/schedule-service.js';
import type { RequestParams } from '../request-params.js';
import type { AjaxHandler } from './ajax-router.js';
import { sendAjax } from './azkaban-json.js';
import { executionOptionsFrom } from './executor-actions.js';

/** Azkaban's `yyyy-MM-dd HH:mm:ss` in the schedule's zone; "-" when unset. */
export function formatScheduleTime(ms: number | null, timeZone: string): string {
  if (ms === null) return '-';
  const p: Record<string, string> = {};
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  for (const part of format.formatToParts(new Date(ms))) p[part.type] = part.value;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

function executionOptionsOf(s: ScheduleView): Record<string, unknown> {
  const o = s.options;
  return {
    disabled: o.disabled,
    failureAction: o.failureAction ?? 'finishCurrent',
    concurrentOption: o.concurrentOption ?? 'skip',
    flowParameters: o.flowOverrides,
    successEmails: o.successEmails ?? '',
    failureEmails: o.failureEmails ?? '',
    notifyFailureFirst: o.notifyFailureFirst === 'true',
    notifyFailureLast: o.notifyFailureLast === 'true',
  };
}

/** The `schedule` object of fetchSchedule (Azkaban's fields, plus epoch-ms times and the zone). */
export function fetchScheduleView(s: ScheduleView): Record<string, unknown> {
  return {
    scheduleId: String(s.id),
    submitUser: s.owner,
    firstSchedTime: formatScheduleTime(s.createdAt, s.timeZone),
    nextExecTime: formatScheduleTime(s.enabled ? s.nextFireTime : null, s.timeZone),
    period: 'null',
    cronExpression: s.cronExpression,
    timezone: s.timeZone,
    status: s.enabled ? 'READY' : 'PAUSED',
    misfirePolicy: s.misfirePolicy,
    nextExecTimeMs: s.enabled ? (s.nextFireTime ?? -1) : -1,
    lastExecTimeMs: s.lastFireTime ?? -1,
    executionOptions: executionOptionsOf(s),
  };
}

function loadFlowItem(s: ScheduleView): Record<string, unknown> {
  return {
    scheduleid: s.id,
    projectname: s.projectName,
    projectid: s.projectId,
    flowname: s.flowId,
    cron: s.cronExpression,
    timezone: s.timeZone,
    submituser: s.owner,
    status: s.enabled ? 'READY' : 'PAUSED',
    time: s.createdAt,
    nextExecTime: s.enabled ? (s.nextFireTime ?? -1) : -1,
    lastExecTime: s.lastFireTime ?? -1,
  };
}

/** Runs `handler`, answering a refused request `{status: "error", message}` the way Azkaban does here. */
const withStatusErrors =
  (handler: AjaxHandler): AjaxHandler =>
  async (caller, params, req, res) => {
    try {
      await handler(caller, params, req, res);
    } catch (e) {
      if (!isCaissonError(e)) throw e;
      sendAjax(res, { status: 'error', message: e.message });
    }
  };

function scheduleRequest(params: RequestParams) {
  return {
    project: params.get('projectName') ?? params.get('project'),
    flow: params.get('flow') ?? params.get('flowName'),
    cronExpression: params.get('cronExpression'),
    timeZone: params.get('timeZone') ?? params.get('timezone'),
    misfirePolicy: params.get('misfirePolicy'),
    ...executionOptionsFrom(params),
  };
}

export function scheduleActions(schedules: ScheduleService): {
  ajax: Record<string, AjaxHandler>;
  byAction: Record<string, AjaxHandler>;
} {
  return {
    ajax: {
      scheduleCronFlow: withStatusErrors(async (caller, params, _req, res) => {
        const s = await schedules.schedule(caller, scheduleRequest(params));
        sendAjax(res, { status: 'success', message: `${s.projectName}.${s.flowId} scheduled.`, scheduleId: s.id });
      }),
      fetchSchedule: async (caller, params, _req, res) => {
        const s = await schedules.findOfFlow(caller, params.get('projectId'), params.get('flowId'));
        sendAjax(res, s ? { schedule: fetchScheduleView(s) } : {});
      },
      loadFlow: async (caller, _params, _req, res) => {
        const list = await schedules.list(caller);
        sendAjax(res, { items: list.map(loadFlowItem) });
      },
    },
    byAction: {
      removeSched: withStatusErrors(async (caller, params, _req, res) => {
        const s = await schedules.remove(caller, params.get('scheduleId'));
        sendAjax(res, { status: 'success', message: `flow ${s.flowId} removed from Schedules.` });
      }),
    },
  };
}
