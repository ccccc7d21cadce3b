/** Data access for `schedules` and `schedule_fires` (migration 0005). */
import type { Knex } from 'knex';
import { affected } from '../../../common/db/dialect.js';

type Db = Knex | Knex.Transaction;

export type MisfirePolicy = 'RUN_ONCE' | 'SKIP';
export const MISFIRE_POLICIES: readonly MisfirePolicy[] = ['RUN_ONCE', 'SKIP'];

/** The submit options a schedule replays at each fire (names of executeFlow). */
export interface ScheduleOptions {
  disabled: string[];
  failureAction?: string;
  concurrentOption?: string;
  flowOverrides: Record<string, string>;
  successEmails?: string;
  failureEmails?: string;
  notifyFailureFirst?: string;
  notifyFailureLast?: string;
}

export interface ScheduleRow {
  id: number;
  projectId: number;
  flowId: string;
  cronExpression: string;
  timeZone: string;
  options: ScheduleOptions;
  owner: string;
  enabled: boolean;
  misfirePolicy: MisfirePolicy;
  nextFireTime: number | null;
  lastFireTime: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface FireRow {
  scheduleId: number;
  fireTime: number;
  execId: number | null;
  firedAt: number;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toSchedule(r: Record<string, unknown>): ScheduleRow {
  return {
    id: Number(r.id),
    projectId: Number(r.project_id),
    flowId: String(r.flow_id),
    cronExpression: String(r.cron_expression),
    timeZone: String(r.time_zone),
    options: JSON.parse(String(r.options)) as ScheduleOptions,
    owner: String(r.owner),
    enabled: Boolean(Number(r.enabled)),
    misfirePolicy: r.misfire_policy === 'SKIP' ? 'SKIP' : 'RUN_ONCE',
    nextFireTime: num(r.next_fire_time),
    lastFireTime: num(r.last_fire_time),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export interface ScheduleFields {
  projectId: number;
  flowId: string;
  cronExpression: string;
  timeZone: string;
  options: ScheduleOptions;
  owner: string;
  misfirePolicy: MisfirePolicy;
  nextFireTime: number | null;
}

export async function insertSchedule(db: Db, s: ScheduleFields, now: number): Promise<number> {
  const [id] = await db('schedules').insert({
    project_id: s.projectId,
    flow_id: s.flowId,
    cron_expression: s.cronExpression,
    time_zone: s.timeZone,
    options: JSON.stringify(s.options),
    owner: s.owner,
    enabled: true,
    misfire_policy: s.misfirePolicy,
    next_fire_time: s.nextFireTime,
    last_fire_time: null,
    created_at: now,
    updated_at: now,
  });
  return Number(id);
}

/** Replaces what a new scheduleCronFlow of the same flow says; keeps id and fire history. */
export async function replaceSchedule(db: Db, id: number, s: ScheduleFields, now: number): Promise<void> {
  await db('schedules')
    .where({ id })
    .update({
      cron_expression: s.cronExpression,
      time_zone: s.timeZone,
      options: JSON.stringify(s.options),
      owner: s.owner,
      enabled: true,
      misfire_policy: s.misfirePolicy,
      next_fire_time: s.nextFireTime,
      updated_at: now,
    });
}

export async function findSchedule(db: Db, id: number): Promise<ScheduleRow | undefined> {
  const r = (await db('schedules').where({ id }).first()) as Record<string, unknown> | undefined;
  return r ? toSchedule(r) : undefined;
}

/** Uses ix_schedules_flow; with forUpdate, serialises schedule creation for one flow. */
export async function findScheduleOfFlow(
  db: Db,
  projectId: number,
  flowId: string,
  options: { forUpdate?: boolean } = {},
): Promise<ScheduleRow | undefined> {
  const q = db('schedules').where({ project_id: projectId, flow_id: flowId }).orderBy('id').first();
  const r = (await (options.forUpdate ? q.forUpdate() : q)) as Record<string, unknown> | undefined;
  return r ? toSchedule(r) : undefined;
}

export async function listSchedules(db: Db, filter: { projectIds?: readonly number[]; flowId?: string } = {}): Promise<ScheduleRow[]> {
  const q = db('schedules').orderBy('id');
  if (filter.projectIds) q.whereIn('project_id', [...filter.projectIds]);
  if (filter.flowId !== undefined) q.where({ flow_id: filter.flowId });
  return ((await q) as Record<string, unknown>[]).map(toSchedule);
}

export async function deleteSchedule(db: Db, id: number): Promise<number> {
  await db('schedule_fires').where({ schedule_id: id }).delete();
  return affected(await db('schedules').where({ id }).delete());
}

export async function setScheduleEnabled(db: Db, id: number, enabled: boolean, nextFireTime: number | null, now: number): Promise<void> {
  await db('schedules').where({ id }).update({ enabled, next_fire_time: nextFireTime, updated_at: now });
}

/** Enabled schedules due at `now`, oldest fire first; uses ix_schedules_due (enabled, next_fire_time). */
export async function listDueSchedules(db: Db, now: number, limit: number): Promise<ScheduleRow[]> {
  const rows = (await db('schedules')
    .where({ enabled: true })
    .whereNotNull('next_fire_time')
    .where('next_fire_time', '<=', now)
    .orderBy('next_fire_time')
    .limit(limit)) as Record<string, unknown>[];
  return rows.map(toSchedule);
}

/** The earliest next fire among enabled schedules (to sleep until it), via ix_schedules_due. */
export async function findEarliestNextFire(db: Db): Promise<number | null> {
  const r = (await db('schedules').where({ enabled: true }).min({ t: 'next_fire_time' }).first()) as { t: unknown } | undefined;
  return num(r?.t);
}

/**
 * Compare-and-set: moves the schedule from the fire time this replica saw to the next one. Zero
 * rows means another replica fired it (or it was paused, changed or removed) — the fire is not ours.
 */
export async function advanceSchedule(
  trx: Knex.Transaction,
  id: number,
  expectedNext: number,
  next: number | null,
  lastFireTime: number | null,
  now: number,
): Promise<boolean> {
  const update: Record<string, unknown> = { next_fire_time: next, updated_at: now };
  if (lastFireTime !== null) update.last_fire_time = lastFireTime;
  const n = await trx('schedules').where({ id, enabled: true, next_fire_time: expectedNext }).update(update);
  return affected(n) === 1;
}

/** The fire's unique key (schedule_id, fire_time) is the last guard against a double run. */
export async function insertFire(trx: Knex.Transaction, fire: FireRow): Promise<void> {
  await trx('schedule_fires').insert({
    schedule_id: fire.scheduleId,
    fire_time: fire.fireTime,
    exec_id: fire.execId,
    fired_at: fire.firedAt,
  });
}

export async function listFires(db: Db, scheduleId: number): Promise<FireRow[]> {
  const rows = (await db('schedule_fires').where({ schedule_id: scheduleId }).orderBy('fire_time')) as Record<string, unknown>[];
  return rows.map((r) => ({
    scheduleId: Number(r.schedule_id),
    fireTime: Number(r.fire_time),
    execId: num(r.exec_id),
    firedAt: Number(r.fired_at),
  }));
}
