/** Cron schedules and their fires (one row per schedule and fire time: exactly one run each). */
import type { Knex } from 'knex';
import { bigText, millis, tableOptions } from './helpers.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('schedules', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.integer('project_id').unsigned().notNullable().references('projects.id');
    t.string('flow_id', 128).notNullable();
    t.string('cron_expression', 256).notNullable();
    t.string('time_zone', 64).notNullable().defaultTo('UTC');
    bigText(t, 'options').notNullable();
    t.string('owner', 64).notNullable();
    t.boolean('enabled').notNullable().defaultTo(true);
    t.string('misfire_policy', 16).notNullable().defaultTo('RUN_ONCE'); // RUN_ONCE | SKIP
    millis(t, 'next_fire_time');
    millis(t, 'last_fire_time');
    millis(t, 'created_at').notNullable();
    millis(t, 'updated_at').notNullable();
    t.index(['enabled', 'next_fire_time'], 'ix_schedules_due');
    t.index(['project_id', 'flow_id'], 'ix_schedules_flow');
  });
  await knex.schema.createTable('schedule_fires', (t) => {
    tableOptions(knex, t);
    t.integer('schedule_id').unsigned().notNullable().references('schedules.id').onDelete('CASCADE');
    millis(t, 'fire_time').notNullable();
    t.integer('exec_id').unsigned();
    millis(t, 'fired_at').notNullable();
    t.primary(['schedule_id', 'fire_time']);
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
