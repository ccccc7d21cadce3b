/** Shared setup for the auth tests: one migrated database per suite, emptied before each test. */
import { FakeClock } from '../../../common/clock.js';
import { createTestDatabase, type TestDatabase } from '../../../common/db/test-database.js';
import type { Dialect } from '../../../common/db/knex.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { AuthService, type AuthServiceDeps } from '../../../web-server/src/auth/auth-service.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const SESSION_TTL = HOUR;
export const MAX_FAILURES = 3;
export const FAILURE_WINDOW = 15 * MINUTE;

export interface AuthFixture {
  tdb: TestDatabase;
  clock: FakeClock;
  auth: AuthService;
}

/** Registers before/beforeEach/after hooks and returns a getter for the current fixture. */
export function useAuthFixture(dialect: Dialect, overrides: Partial<AuthServiceDeps> = {}): () => AuthFixture {
  let tdb: TestDatabase | undefined;
  let current: AuthFixture | undefined;
  before(async () => {
    tdb = await createTestDatabase(dialect, migrateToLatest);
  });
  beforeEach(async () => {
    if (!tdb) throw new Error('test database missing');
    for (const table of ['login_failures', 'api_tokens', 'sessions', 'user_groups', 'groups', 'users']) {
      await tdb.db(table).delete();
    }
    const clock = new FakeClock();
    const auth = new AuthService({
      db: tdb.db,
      clock,
      sessionTtlMs: SESSION_TTL,
      passwordHashCost: 4,
      loginMaxFailures: MAX_FAILURES,
      loginFailureWindowMs: FAILURE_WINDOW,
      ...overrides,
    });
    current = { tdb, clock, auth };
  });
  after(async () => {
    await tdb?.dispose();
  });
  return () => {
    if (!current) throw new Error('fixture used outside a test');
    return current;
  };
}
