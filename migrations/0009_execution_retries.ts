/** Flow-level retries: each retry is a new execution linked to the first run (root) and the run it retries (parent). */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('execution_flows', (t) => {
    t.integer('root_exec_id');
    t.integer('parent_exec_id');
    t.integer('retry_count').notNullable().defaultTo(0);
    // A run is retried at most once: a second retry of the same parent hits this key.
    t.unique(['parent_exec_id'], { indexName: 'uq_execution_flows_parent' });
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
