/** REST routes for schedules: create or replace, list, read, remove, pause, resume, and the dry run. */
import type express from 'express';
import { CaissonError } from '../../../../common/errors.js';
import type { ScheduleService, ScheduleView } from '../../scheduler/schedule-service.js';
import { executionOptionsFromBody, jsonBody, optionalString, requireCaller } from './rest-input.js';

function queryString(req: express.Request, name: string): string | undefined {
  const v = req.query[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function restScheduleView(s: ScheduleView): Record<string, unknown> {
  return {
    id: s.id,
    project: s.projectName,
    projectId: s.projectId,
    flow: s.flowId,
    cronExpression: s.cronExpression,
    timeZone: s.timeZone,
    owner: s.owner,
    status: s.enabled ? 'ACTIVE' : 'PAUSED',
    misfirePolicy: s.misfirePolicy,
    nextFireTime: s.enabled ? s.nextFireTime : null,
    lastFireTime: s.lastFireTime,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    options: {
      disabled: s.options.disabled,
      failureAction: s.options.failureAction ?? null,
      concurrentOption: s.options.concurrentOption ?? null,
      flowParams: s.options.flowOverrides,
    },
  };
}

export function scheduleRoutes(r: express.Router, schedules: ScheduleService): void {
  r.get('/schedules/next-fires', (req, res) => {
    requireCaller(req);
    const countRaw = queryString(req, 'count') ?? '10';
    const afterRaw = queryString(req, 'after');
    if (afterRaw !== undefined && !/^\d+$/.test(afterRaw))
      throw new CaissonError('BAD_REQUEST', `Query parameter after must be epoch milliseconds, got "${afterRaw}".`);
    const dry = schedules.nextFires(
      queryString(req, 'cronExpression'),
      queryString(req, 'timeZone'),
      /^\d+$/.test(countRaw) ? Number(countRaw) : NaN,
      afterRaw === undefined ? undefined : Number(afterRaw),
    );
    res.json({ ...dry, fireTimes: dry.fires.map((t) => new Date(t).toISOString()) });
  });

  r.get('/schedules', async (req, res) => {
    const list = await schedules.list(requireCaller(req), { project: queryString(req, 'project'), flow: queryString(req, 'flow') });
    res.json({ schedules: list.map(restScheduleView) });
  });

  r.post('/schedules', async (req, res) => {
    const caller = requireCaller(req);
    const body = jsonBody(req);
    const s = await schedules.schedule(caller, {
      project: optionalString(body.project, 'project'),
      flow: optionalString(body.flow, 'flow'),
      cronExpression: optionalString(body.cronExpression, 'cronExpression'),
      timeZone: optionalString(body.timeZone, 'timeZone'),
      misfirePolicy: optionalString(body.misfirePolicy, 'misfirePolicy'),
      ...executionOptionsFromBody(body),
    });
    res.status(201).json(restScheduleView(s));
  });

  r.get('/schedules/:id', async (req, res) => {
    res.json(restScheduleView(await schedules.require(requireCaller(req), req.params.id, 'READ')));
  });

  r.get('/schedules/:id/fires', async (req, res) => {
    const { schedule, fires } = await schedules.fires(requireCaller(req), req.params.id);
    res.json({ scheduleId: schedule.id, fires });
  });

  r.delete('/schedules/:id', async (req, res) => {
    await schedules.remove(requireCaller(req), req.params.id);
    res.status(204).end();
  });

  r.post('/schedules/:id/pause', async (req, res) => {
    res.json(restScheduleView(await schedules.setPaused(requireCaller(req), req.params.id, true)));
  });

  r.post('/schedules/:id/resume', async (req, res) => {
    res.json(restScheduleView(await schedules.setPaused(requireCaller(req), req.params.id, false)));
  });
}
