/**
 * Fires due schedules. Any replica may run one: a fire advances the schedule with a
 * compare-and-set on its expected next fire time and records (schedule, fire time) in
 * `schedule_fires` in the same transaction that inserts the READY execution, so each fire time
 * yields exactly one execution however many replicas race. Fires go through the submit path as
 * the schedule's owner (SCHEDULE on the project, admin-only parameters, concurrentOption).
 *
 * A fire found later than the misfire threshold is a misfire (the server was down or paused):
 * RUN_ONCE runs it once now and SKIP drops it; either way the schedule moves to the first fire
 * time after now, so an outage never causes a burst.
 */
import type { Knex } from 'knex';
import type { ResourceCaps } from '../executions/submit.js';
import type { Clock } from '../../../common/clock.js';
import { CaissonError, isCaissonError } from '../../../common/errors.js';
import type { Principal } from '../auth/principal.js';
import { findGroupNamesOfUser, findUserByName } from '../auth/users-store.js';
import { insertSubmission, prepareSubmission, type PreparedSubmission } from '../executions/submit.js';
import type { Logger } from '../log.js';
import type { ProjectService } from '../projects/project-service.js';
import { findLiveProjectById } from '../projects/projects-store.js';
import { Wakeup, isAbortError } from '../queue/abortable-delay.js';
import { parseQuartzCron } from './quartz-cron.js';
import * as store from './schedules-store.js';

export interface SchedulerDeps {
  db: Knex;
  clock: Clock;
  log: Logger;
  projects: ProjectService;
  /** Called after a fire commits so the local queue processor dispatches at once. */
  nudge: () => void;
  pollIntervalMs: number;
  misfireThresholdMs: number;
  /** Resource caps, checked again when a schedule fires (the owner may have lost admin rights). */
  resourceCaps?: ResourceCaps;
}

export type FireOutcome =
  | { kind: 'submitted'; scheduleId: number; fireTime: number; execId: number }
  | { kind: 'failed'; scheduleId: number; fireTime: number; reason: string }
  | { kind: 'skipped-misfire'; scheduleId: number; fireTime: number }
  | { kind: 'lost'; scheduleId: number; fireTime: number };

const BATCH = 50;
/** Bounds one pass, so a schedule that keeps being due cannot hold the loop. */
const MAX_FIRES_PER_PASS = 1000;

export class Scheduler {
  private readonly wakeup = new Wakeup();
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(private readonly deps: SchedulerDeps) {
    this.log = deps.log.child({ component: 'scheduler' });
  }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  /** Idempotent; resolves once the current pass has finished. */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
  }

  /** A schedule changed: look again at once. */
  wake(): void {
    this.wakeup.wake();
  }

  /** One pass: fires every schedule due at the clock's now; resolves to what happened. */
  async fireDue(): Promise<FireOutcome[]> {
    const outcomes: FireOutcome[] = [];
    while (outcomes.length < MAX_FIRES_PER_PASS) {
      const now = this.deps.clock.now();
      const due = await store.listDueSchedules(this.deps.db, now, BATCH);
      if (due.length === 0) break;
      // A lost race means another replica already committed that schedule's move: re-reading shows it.
      for (const s of due) outcomes.push(await this.fireOne(s, now));
    }
    return outcomes;
  }

  private async fireOne(s: store.ScheduleRow, now: number): Promise<FireOutcome> {
    const fireTime = s.nextFireTime!;
    const base = { scheduleId: s.id, fireTime };
    const misfired = now - fireTime > this.deps.misfireThresholdMs;
    let next: number | null;
    try {
      next = parseQuartzCron(s.cronExpression, s.timeZone).nextFireAfter(misfired ? now : fireTime);
    } catch (e) {
      next = null;
      this.log.error({ err: e, scheduleId: s.id }, `Schedule ${s.id} has an unusable cron expression; it will not fire again.`);
    }
    const run = !misfired || s.misfirePolicy === 'RUN_ONCE';
    let prepared: PreparedSubmission | undefined;
    // Written inside the transaction callback (a holder, so the compiler sees the writes).
    const result: { execId: number | null; failure?: string } = { execId: null };
    if (run) {
      try {
        prepared = await this.prepare(s);
      } catch (e) {
        if (!isCaissonError(e)) throw e;
        result.failure = e.message;
      }
    }
    const won = await this.deps.db.transaction(async (trx) => {
      if (!(await store.advanceSchedule(trx, s.id, fireTime, next, run ? fireTime : null, now))) return false;
      if (!run) return true;
      if (prepared) {
        try {
          result.execId = await insertSubmission(trx, prepared, now);
        } catch (e) {
          // Only the concurrentOption=skip refusal, which writes nothing before it throws.
          if (!isCaissonError(e) || e.code !== 'CONFLICT') throw e;
          result.failure = e.message;
        }
      }
      await store.insertFire(trx, { scheduleId: s.id, fireTime, execId: result.execId, firedAt: now });
      return true;
    });
    if (!won) return { kind: 'lost', ...base };
    const fields = { scheduleId: s.id, fireTime, nextFireTime: next, lateMs: now - fireTime };
    if (!run) {
      this.log.info(fields, `Schedule ${s.id} missed its fire time by ${now - fireTime} ms; its misfire policy SKIP drops it.`);
      return { kind: 'skipped-misfire', ...base };
    }
    const { execId, failure = 'unknown reason' } = result;
    if (execId === null) {
      this.log.warn({ ...fields, reason: failure }, `Schedule ${s.id} fired but started no execution: ${failure}`);
      return { kind: 'failed', ...base, reason: failure };
    }
    this.deps.nudge();
    this.log.info({ ...fields, execId }, `Schedule ${s.id} fired ${now - fireTime} ms after its time and submitted execution ${execId}.`);
    return { kind: 'submitted', ...base, execId };
  }

  /** The submit as the owner sees it now: their permissions and role at fire time. */
  private async prepare(s: store.ScheduleRow): Promise<PreparedSubmission> {
    const project = await findLiveProjectById(this.deps.db, s.projectId);
    if (!project) throw new CaissonError('PROJECT_NOT_FOUND', `Project with id ${s.projectId} doesn't exist.`);
    const user = await findUserByName(this.deps.db, s.owner);
    if (!user || user.disabled) throw new CaissonError('FORBIDDEN', `Schedule owner ${s.owner} no longer exists or is disabled.`);
    const owner: Principal = {
      userId: user.id,
      username: user.username,
      role: user.role,
      groups: await findGroupNamesOfUser(this.deps.db, user.id),
      via: 'session',
    };
    return prepareSubmission(
      this.deps,
      owner,
      { ...s.options, project: project.name, flow: s.flowId, source: 'scheduled', scheduleId: s.id },
      'SCHEDULE',
    );
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let waitMs = this.deps.pollIntervalMs;
      try {
        await this.fireDue();
        const earliest = await store.findEarliestNextFire(this.deps.db);
        if (earliest !== null) waitMs = Math.min(waitMs, Math.max(0, earliest - this.deps.clock.now()));
      } catch (e) {
        if (isAbortError(e)) return;
        this.log.warn({ err: e }, 'Firing schedules failed; will retry.');
      }
      await this.wakeup.wait(Math.max(waitMs, 5), signal);
    }
  }
}
