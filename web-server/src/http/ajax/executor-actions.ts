/** The execution actions of `/executor` (and `fetchFlowExecutions` of `/manager`), with Azkaban's names and shapes. */
import { CaissonError } from '../../../../common/errors.js';
import type { ExecutionService } from '../../executions/execution-service.js';
import { executionSummary, fetchExecFlowUpdateView, fetchExecFlowView } from '../../executions/execution-views.js';
import type { RequestParams } from '../request-params.js';
import type { AjaxHandler } from './ajax-router.js';
import { formatAzkabanJson, sendAjax } from './azkaban-json.js';
import { sendJsonText } from '../send-json.js';
import { answerIfNotModified, executionETag } from '../etag.js';

/** `flowOverride[name]=value` parameters. */
export function flowOverridesFrom(params: RequestParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of params.entries()) {
    const m = /^flowOverride\[(.+)\]$/.exec(k);
    if (m && m[1] !== undefined && !(m[1] in out)) out[m[1]] = v;
  }
  return out;
}

/** The execution options of an AJAX submit (executeFlow, scheduleCronFlow), with Azkaban's names. */
export function executionOptionsFrom(params: RequestParams) {
  return {
    disabled: params.get('disabled'),
    failureAction: params.get('failureAction'),
    concurrentOption: params.get('concurrentOption'),
    flowOverrides: flowOverridesFrom(params),
    successEmails: params.get('successEmails'),
    failureEmails: params.get('failureEmails'),
    notifyFailureFirst: params.get('notifyFailureFirst'),
    notifyFailureLast: params.get('notifyFailureLast'),
  };
}

function intParam(params: RequestParams, name: string, fallback: number | undefined): number {
  const raw = params.get(name);
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new CaissonError('BAD_REQUEST', `Parameter ${name} is missing: pass a whole number.`);
  }
  if (!/^-?\d+$/.test(raw.trim())) throw new CaissonError('BAD_REQUEST', `Parameter ${name} must be a whole number; got "${raw}".`);
  return Number(raw.trim());
}

export function executorActions(executions: ExecutionService): {
  executor: Record<string, AjaxHandler>;
  manager: Record<string, AjaxHandler>;
} {
  const readLog =
    (jobParam: boolean): AjaxHandler =>
    async (caller, params, _req, res) => {
      const job = jobParam ? params.get('jobId') : undefined;
      if (jobParam && !job)
        throw new CaissonError(
          'BAD_REQUEST',
          'Parameter jobId is missing: pass the job id (nested id inside embedded flows, e.g. outer:inner).',
        );
      const slice = await executions.readLog(
        caller,
        params.get('execid'),
        job,
        intParam(params, 'attempt', 0),
        intParam(params, 'offset', 0),
        intParam(params, 'length', 50_000),
      );
      sendAjax(res, { data: slice.data, offset: slice.offset, length: slice.length });
    };

  const executor: Record<string, AjaxHandler> = {
    executeFlow: async (caller, params, _req, res) => {
      const r = await executions.submit(caller, {
        project: params.get('project'),
        flow: params.get('flow'),
        ...executionOptionsFrom(params),
        source: 'adhoc',
      });
      sendAjax(res, {
        project: r.project,
        flow: r.flow,
        message: `Execution submitted successfully with exec id ${r.execId}`,
        execid: r.execId,
      });
    },
    cancelFlow: async (caller, params, _req, res) => {
      await executions.cancel(caller, params.get('execid'));
      sendAjax(res, {});
    },
    retryFailedJobs: async (caller, params, _req, res) => {
      const r = await executions.retryFailedJobs(caller, params.get('execid'));
      sendAjax(
        res,
        r.retried.length > 0 ? { retried: r.retried } : { retried: [], message: `Execution ${r.exec.execId} has no failed jobs to retry.` },
      );
    },
    fetchexecflow: async (caller, params, req, res) => {
      const { exec, project } = await executions.requireExecutionWithProject(caller, params.get('execid'), 'READ');
      const etag = executionETag(exec, 'fetchexecflow');
      if (answerIfNotModified(req, res, etag)) return;
      const body = await executions.renderedDetail(exec, project, 'fetchexecflow', etag, (d) =>
        formatAzkabanJson(fetchExecFlowView(d.exec, d.projectName, d.flow, d.jobs)),
      );
      sendJsonText(res, body);
    },
    fetchexecflowupdate: async (caller, params, _req, res) => {
      const d = await executions.detail(caller, params.get('execid'));
      sendAjax(res, fetchExecFlowUpdateView(d.exec, d.flow, d.jobs, intParam(params, 'lastUpdateTime', -1)));
    },
    fetchExecFlowLogs: readLog(false),
    fetchExecJobLogs: readLog(true),
    getRunning: async (caller, params, _req, res) => {
      const ids = await executions.running(caller, params.get('project'), params.get('flow'));
      // Azkaban leaves execIds out when nothing runs.
      sendAjax(res, ids.length > 0 ? { execIds: ids } : {});
    },
  };

  const manager: Record<string, AjaxHandler> = {
    fetchFlowExecutions: async (caller, params, _req, res) => {
      const from = intParam(params, 'start', 0);
      const length = intParam(params, 'length', 25);
      const r = await executions.ofFlow(caller, params.get('project'), params.get('flow'), from, length);
      sendAjax(res, {
        executions: r.rows.map(executionSummary),
        total: r.total,
        project: r.project.name,
        length,
        from,
        flow: params.get('flow'),
        projectId: r.project.id,
      });
    },
  };
  return { executor, manager };
}
