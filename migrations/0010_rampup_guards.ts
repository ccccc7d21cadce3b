/** Automatic ramp-down guards of ramp-up plans (issue 4): all three NULL means the guard is off. */
import type { Knex } from 'knex';
import { millis } from './helpers.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('image_rampup_plans', (t) => {
    t.integer('guard_min_executions'); // finished executions a ramped version needs before it is judged
    t.integer('guard_max_excess_failure_pct'); // allowed failure-rate excess over ACTIVE, in percentage points
    millis(t, 'guard_window_ms'); // executions that ended within this long before the check count
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
