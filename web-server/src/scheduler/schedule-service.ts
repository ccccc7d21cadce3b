/**
 * Schedules as callers see them: create (or replace, one schedule per flow, like Azkaban), read,
 * list, remove, pause and resume, with SCHEDULE on the project to change one and READ to see it;
 * and the dry run of a cron expression.
 */
import type { Knex } from 'knex';
import type { ResourceCaps } from '../executions/submit.js';
import type { Clock } from '../../../common/clock.js';
import { CaissonError } from '../../../common/errors.js';
import type { Principal } from '../auth/principal.js';
import { prepareSubmission, type SubmitRequest } from '../executions/submit.js';
import type { ProjectService } from '../projects/project-service.js';
import { findLiveProjectById } from '../projects/projects-store.js';
import { parseQuartzCron } from './quartz-cron.js';
import * as store from './schedules-store.js';

export interface ScheduleServiceDeps {
  db: Knex;
  clock: Clock;
  projects: ProjectService;
  defaultTimeZone: string;
  /** Tells the local scheduler a schedule changed, so it recomputes its wait. */
  wake: () => void;
  /** Resource caps checked when a schedule is created, as at submit. */
  resourceCaps?: ResourceCaps;
}

export interface ScheduleRequest extends SubmitRequest {
  cronExpression: string | undefined;
  timeZone?: string | undefined;
  misfirePolicy?: string | undefined;
}

export interface ScheduleView extends store.ScheduleRow {
  projectName: string;
}

export const MAX_DRY_RUN_FIRES = 100;

export class ScheduleService {
  constructor(private readonly deps: ScheduleServiceDeps) {}

  /** Creates the flow's schedule, or replaces the existing one (same id); checks every option now. */
  async schedule(caller: Principal, req: ScheduleRequest): Promise<ScheduleView> {
    const prepared = await prepareSubmission(this.deps, caller, { ...req, source: 'scheduled' }, 'SCHEDULE');
    const cron = this.parse(req.cronExpression, req.timeZone);
    const misfirePolicy = parseMisfirePolicy(req.misfirePolicy);
    const now = this.deps.clock.now();
    const nextFireTime = cron.nextFireAfter(now);
    if (nextFireTime === null) throw new CaissonError('INVALID_PARAMETER', `Cron expression "${cron.expression}" never fires after now.`);
    const fields: store.ScheduleFields = {
      projectId: prepared.projectId,
      flowId: prepared.flowName,
      cronExpression: cron.expression,
      timeZone: cron.timeZone,
      options: {
        disabled: prepared.options.disabled,
        failureAction: req.failureAction || undefined,
        concurrentOption: req.concurrentOption || undefined,
        flowOverrides: req.flowOverrides ?? {},
        successEmails: req.successEmails,
        failureEmails: req.failureEmails,
        notifyFailureFirst: req.notifyFailureFirst,
        notifyFailureLast: req.notifyFailureLast,
      },
      owner: caller.username,
      misfirePolicy,
      nextFireTime,
    };
    const id = await this.deps.db.transaction(async (trx) => {
      const existing = await store.findScheduleOfFlow(trx, prepared.projectId, prepared.flowName, { forUpdate: true });
      if (!existing) return store.insertSchedule(trx, fields, now);
      await store.replaceSchedule(trx, existing.id, fields, now);
      return existing.id;
    });
    this.deps.wake();
    return this.require(caller, id, 'READ');
  }

  /** The schedule, provided the caller holds `needed` on its project; SCHEDULE_NOT_FOUND otherwise. */
  async require(caller: Principal, idRaw: string | number | undefined, needed: 'READ' | 'SCHEDULE'): Promise<ScheduleView> {
    const id = Number(idRaw);
    if (idRaw === undefined || idRaw === '' || !Number.isInteger(id) || id <= 0)
      throw new CaissonError('BAD_REQUEST', `Schedule id must be a positive whole number, got "${String(idRaw ?? '')}".`);
    const row = await store.findSchedule(this.deps.db, id);
    const project = row ? await findLiveProjectById(this.deps.db, row.projectId) : undefined;
    if (!row || !project) throw new CaissonError('NOT_FOUND', `Schedule with ID ${id} does not exist`);
    await this.deps.projects.checkPermission(caller, project, needed);
    return { ...row, projectName: project.name };
  }

  /** The schedule of a flow (Azkaban's fetchSchedule by project id and flow id), if any. */
  async findOfFlow(caller: Principal, projectIdRaw: string | undefined, flowId: string | undefined): Promise<ScheduleView | undefined> {
    const projectId = Number(projectIdRaw);
    if (!projectIdRaw || !Number.isInteger(projectId))
      throw new CaissonError('BAD_REQUEST', 'Parameter projectId is missing: pass the project id.');
    if (!flowId) throw new CaissonError('BAD_REQUEST', 'Parameter flowId is missing: pass the flow name.');
    const project = await findLiveProjectById(this.deps.db, projectId);
    if (!project) throw new CaissonError('PROJECT_NOT_FOUND', `Project with id ${projectId} doesn't exist.`);
    await this.deps.projects.checkPermission(caller, project, 'READ');
    const row = await store.findScheduleOfFlow(this.deps.db, projectId, flowId);
    return row ? { ...row, projectName: project.name } : undefined;
  }

  /** Schedules of the projects the caller may read, optionally of one project and flow. */
  async list(caller: Principal, filter: { project?: string; flow?: string } = {}): Promise<ScheduleView[]> {
    const projects = filter.project
      ? [await this.deps.projects.requireProject(caller, filter.project, 'READ')]
      : await this.deps.projects.listProjects(caller);
    const names = new Map(projects.map((p) => [p.id, p.name]));
    const rows = await store.listSchedules(this.deps.db, { projectIds: [...names.keys()], flowId: filter.flow });
    return rows.map((r) => ({ ...r, projectName: names.get(r.projectId) ?? '' }));
  }

  /** The fire history: one row per fire time that ran or tried to run (execId null: nothing started). */
  async fires(caller: Principal, idRaw: string | number | undefined): Promise<{ schedule: ScheduleView; fires: store.FireRow[] }> {
    const schedule = await this.require(caller, idRaw, 'READ');
    return { schedule, fires: await store.listFires(this.deps.db, schedule.id) };
  }

  async remove(caller: Principal, idRaw: string | number | undefined): Promise<ScheduleView> {
    const s = await this.require(caller, idRaw, 'SCHEDULE');
    await this.deps.db.transaction((trx) => store.deleteSchedule(trx, s.id));
    this.deps.wake();
    return s;
  }

  /** Pause stops firing; resume fires from the next time after now (times missed while paused never run). */
  async setPaused(caller: Principal, idRaw: string | number | undefined, paused: boolean): Promise<ScheduleView> {
    const s = await this.require(caller, idRaw, 'SCHEDULE');
    const now = this.deps.clock.now();
    const next = paused ? s.nextFireTime : parseQuartzCron(s.cronExpression, s.timeZone).nextFireAfter(now);
    await store.setScheduleEnabled(this.deps.db, s.id, !paused, next, now);
    this.deps.wake();
    return this.require(caller, s.id, 'READ');
  }

  /** Dry run: the next `count` fire instants of an expression after `after` (default now). */
  nextFires(
    cronExpression: string | undefined,
    timeZone: string | undefined,
    count: number,
    after?: number,
  ): { expression: string; timeZone: string; fires: number[] } {
    if (!Number.isInteger(count) || count < 1 || count > MAX_DRY_RUN_FIRES)
      throw new CaissonError('BAD_REQUEST', `count must be a whole number from 1 to ${MAX_DRY_RUN_FIRES}, got ${String(count)}.`);
    const cron = this.parse(cronExpression, timeZone);
    return { expression: cron.expression, timeZone: cron.timeZone, fires: cron.nextFires(after ?? this.deps.clock.now(), count) };
  }

  private parse(cronExpression: string | undefined, timeZone: string | undefined): ReturnType<typeof parseQuartzCron> {
    if (!cronExpression || cronExpression.trim() === '')
      throw new CaissonError('INVALID_PARAMETER', 'Cron expression must exist: pass cronExpression, like "0 0 3 ? * *" (03:00 every day).');
    return parseQuartzCron(cronExpression, timeZone || this.deps.defaultTimeZone);
  }
}

export function parseMisfirePolicy(raw: string | undefined): store.MisfirePolicy {
  if (raw === undefined || raw === '') return 'RUN_ONCE';
  const v = raw.toUpperCase().replace(/-/g, '_');
  if ((store.MISFIRE_POLICIES as readonly string[]).includes(v)) return v as store.MisfirePolicy;
  throw new CaissonError('INVALID_PARAMETER', `misfirePolicy must be RUN_ONCE or SKIP, got "${raw}".`);
}
