/** A scheduler under test: services over a fresh database, a FakeClock, the hello-flow project and its users. */
import type { Knex } from 'knex';
import { FakeClock } from '../../../common/clock.js';
import { createTestDatabase, type TestDatabase } from '../../../common/db/test-database.js';
import type { Dialect } from '../../../common/db/knex.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { AuthService } from '../../../web-server/src/auth/auth-service.js';
import type { Principal } from '../../../web-server/src/auth/principal.js';
import { silentLogger } from '../../../web-server/src/log.js';
import { ProjectService } from '../../../web-server/src/projects/project-service.js';
import { ScheduleService } from '../../../web-server/src/scheduler/schedule-service.js';
import { Scheduler } from '../../../web-server/src/scheduler/scheduler.js';
import { zipOfExample } from '../../support/projects.js';

export const T0 = Date.parse('2024-01-01T00:00:00Z');
export const MISFIRE_THRESHOLD_MS = 60_000;

export interface SchedulerFixture {
  tdb: TestDatabase;
  clock: FakeClock;
  auth: AuthService;
  projects: ProjectService;
  schedules: ScheduleService;
  scheduler: Scheduler;
  admin: Principal;
  alice: Principal;
  /** Services of another replica on its own connection pool (same database, same clock). */
  replica(db: Knex): Scheduler;
}

export function projectServiceOn(db: Knex, clock: FakeClock): ProjectService {
  return new ProjectService({
    db,
    clock,
    archiveLimits: { maxArchiveBytes: 10 << 20, maxEntries: 1000, maxExpandedBytes: 64 << 20, maxCompressionRatio: 200 },
  });
}

export function schedulerOn(db: Knex, clock: FakeClock, projects: ProjectService): Scheduler {
  return new Scheduler({
    db,
    clock,
    log: silentLogger,
    projects,
    nudge: () => undefined,
    pollIntervalMs: 1000,
    misfireThresholdMs: MISFIRE_THRESHOLD_MS,
  });
}

export async function createSchedulerFixture(dialect: Dialect): Promise<SchedulerFixture> {
  const tdb = await createTestDatabase(dialect, migrateToLatest);
  const clock = new FakeClock(T0);
  const auth = new AuthService({
    db: tdb.db,
    clock,
    sessionTtlMs: 3_600_000,
    passwordHashCost: 4,
    loginMaxFailures: 100,
    loginFailureWindowMs: 60_000,
  });
  const a = await auth.createUser({ username: 'root', password: 'root-password', role: 'ADMIN' });
  const b = await auth.createUser({ username: 'alice', password: 'alice-password', role: 'USER' });
  const admin: Principal = { userId: a.id, username: 'root', role: 'ADMIN', groups: [], via: 'session' };
  const alice: Principal = { userId: b.id, username: 'alice', role: 'USER', groups: [], via: 'session' };
  const projects = projectServiceOn(tdb.db, clock);
  const scheduler = schedulerOn(tdb.db, clock, projects);
  const schedules = new ScheduleService({ db: tdb.db, clock, projects, defaultTimeZone: 'UTC', wake: () => undefined });
  return {
    tdb,
    clock,
    auth,
    projects,
    schedules,
    scheduler,
    admin,
    alice,
    replica: (db) => schedulerOn(db, clock, projectServiceOn(db, clock)),
  };
}

/** Creates project `name` owned by alice (ADMIN on it) with the hello-flow example uploaded. */
export async function createHelloProject(f: SchedulerFixture, name: string): Promise<void> {
  await f.projects.createProject(f.alice, name, 'scheduled in tests');
  await f.projects.uploadArchive(f.alice, name, 'hello-flow.zip', zipOfExample('hello-flow'));
}

export interface ExecutionSummary {
  execId: number;
  status: string;
  source: string;
  scheduleId: number | null;
  submitUser: string;
  submitTime: number;
}

export async function executionsOf(db: Knex, scheduleId: number): Promise<ExecutionSummary[]> {
  const rows = (await db('execution_flows').where({ schedule_id: scheduleId }).orderBy('exec_id')) as Record<string, unknown>[];
  return rows.map((r) => ({
    execId: Number(r.exec_id),
    status: String(r.status),
    source: String(r.execution_source),
    scheduleId: r.schedule_id === null ? null : Number(r.schedule_id),
    submitUser: String(r.submit_user),
    submitTime: Number(r.submit_time),
  }));
}

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
