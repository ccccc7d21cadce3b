/** REST routes for executions: submit, describe, cancel, logs, and the executions of a flow. */
import type express from 'express';
import { CaissonError } from '../../../../common/errors.js';
import type { ExecutionService } from '../../executions/execution-service.js';
import { restExecutionView } from '../../executions/execution-views.js';
import { executionOptionsFromBody, jsonBody, optionalString, requireCaller } from './rest-input.js';
import { answerIfNotModified, executionETag } from '../etag.js';
import { sendJsonText } from '../send-json.js';

function queryInt(req: express.Request, name: string, fallback: number): number {
  const raw = req.query[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw))
    throw new CaissonError('BAD_REQUEST', `Query parameter ${name} must be a whole number ≥ 0.`);
  return Number(raw);
}

/**
 * GET /executions/:id, the status pollers' route. app.ts mounts it ahead of the other API routers,
 * so a poll is not matched against every other route first.
 */
export function executionStatusRoute(r: express.Router, executions: ExecutionService): void {
  r.get('/executions/:id', async (req, res) => {
    const { exec, project } = await executions.requireExecutionWithProject(requireCaller(req), req.params.id, 'READ');
    const etag = executionETag(exec, 'rest');
    if (answerIfNotModified(req, res, etag)) return;
    const body = await executions.renderedDetail(exec, project, 'rest', etag, (d) =>
      JSON.stringify(restExecutionView(d.exec, d.projectName, d.jobs)),
    );
    sendJsonText(res, body);
  });
}

/** The other execution routes: submit, cancel, logs, retries, the executions of a flow. */
export function executionRoutes(r: express.Router, executions: ExecutionService): void {
  r.post('/executions', async (req, res) => {
    const caller = requireCaller(req);
    const body = jsonBody(req);
    const submitted = await executions.submit(caller, {
      project: optionalString(body.project, 'project'),
      flow: optionalString(body.flow, 'flow'),
      ...executionOptionsFromBody(body),
      source: 'api',
    });
    res.status(201).json({ execId: submitted.execId, project: submitted.project, flow: submitted.flow, status: 'READY' });
  });

  r.post('/executions/:id/cancel', async (req, res) => {
    const { exec, outcome } = await executions.cancel(requireCaller(req), req.params.id);
    res.status(202).json({ execId: exec.execId, status: outcome === 'killed' ? 'KILLED' : 'KILLING' });
  });

  r.get('/executions/:id/logs', async (req, res) => {
    const job = typeof req.query.job === 'string' && req.query.job !== '' ? req.query.job : undefined;
    const slice = await executions.readLog(
      requireCaller(req),
      req.params.id,
      job,
      queryInt(req, 'attempt', 0),
      queryInt(req, 'offset', 0),
      queryInt(req, 'length', 1024 * 1024),
    );
    res.json(slice);
  });

  r.get('/projects/:project/flows/:flow/executions', async (req, res) => {
    const from = queryInt(req, 'from', 0);
    const length = queryInt(req, 'length', 25);
    const page = await executions.ofFlow(requireCaller(req), req.params.project, req.params.flow, from, length);
    res.json({
      project: page.project.name,
      flow: req.params.flow,
      total: page.total,
      from,
      executions: page.rows.map((e) => ({
        execId: e.execId,
        status: e.status,
        submitUser: e.submitUser,
        submitTime: e.submitTime,
        startTime: e.startTime,
        endTime: e.endTime,
        failureReason: e.failureReason,
      })),
    });
  });
}
