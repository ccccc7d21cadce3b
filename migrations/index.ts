/**
 * The migration list, in order. A static source (rather than a directory scan) works the same
 * under tsx and from the compiled dist/, and makes the order explicit. Forward-only: append.
 */
import type { Knex } from 'knex';
import * as m0001 from './0001_users_and_sessions.js';
import * as m0002 from './0002_projects.js';
import * as m0003 from './0003_executions.js';
import * as m0004 from './0004_images.js';
import * as m0005 from './0005_schedules.js';
import * as m0006 from './0006_leases_and_audit.js';
import * as m0008 from './0008_execution_image_resolution.js';
import * as m0009 from './0009_execution_retries.js';
import * as m0010 from './0010_rampup_guards.js';

const MIGRATIONS: ReadonlyArray<readonly [string, Knex.Migration]> = [
  ['0001_users_and_sessions', m0001],
  ['0002_projects', m0002],
  ['0003_executions', m0003],
  ['0004_images', m0004],
  ['0005_schedules', m0005],
  ['0006_leases_and_audit', m0006],
  ['0008_execution_image_resolution', m0008],
  ['0009_execution_retries', m0009],
  ['0010_rampup_guards', m0010],
];

const source: Knex.MigrationSource<readonly [string, Knex.Migration]> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (m) => m[0],
  getMigration: async (m) => m[1],
};

export const MIGRATION_TABLE = 'knex_migrations';

/** Applies pending migrations; resolves to the names applied (empty when the schema is current). */
export async function migrateToLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource: source, tableName: MIGRATION_TABLE })) as [number, string[]];
  return applied;
}

export function migrationNames(): string[] {
  return MIGRATIONS.map((m) => m[0]);
}
