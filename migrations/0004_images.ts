/** Image management: types, ownerships, versions, ramp-up plans and rows, ramp rules. */
import type { Knex } from 'knex';
import { millis, tableOptions } from './helpers.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('image_types', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.string('name', 64).notNullable().unique('uq_image_types_name'); // stored lower-case
    t.string('description', 2048).notNullable().defaultTo('');
    t.string('deployable', 16).notNullable().defaultTo('IMAGE');
    t.string('created_by', 64).notNullable();
    millis(t, 'created_at').notNullable();
    t.string('modified_by', 64).notNullable();
    millis(t, 'modified_at').notNullable();
  });
  await knex.schema.createTable('image_ownerships', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.integer('type_id').unsigned().notNullable().references('image_types.id');
    t.string('owner_kind', 8).notNullable().defaultTo('user'); // user | group
    t.string('owner', 64).notNullable();
    t.string('role', 8).notNullable(); // ADMIN | MEMBER | GUEST
    t.string('created_by', 64).notNullable();
    millis(t, 'created_at').notNullable();
    t.string('modified_by', 64).notNullable();
    millis(t, 'modified_at').notNullable();
    t.unique(['type_id', 'owner_kind', 'owner'], { indexName: 'uq_image_ownerships' });
  });
  await knex.schema.createTable('image_versions', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.integer('type_id').unsigned().notNullable().references('image_types.id');
    t.string('path', 512).notNullable(); // registry path without tag
    t.string('version', 64).notNullable(); // 1 to 4 dot-separated numbers
    t.string('version_key', 64).notNullable(); // zero-padded parts: sorts numerically as a string
    t.string('state', 16).notNullable(); // NEW | ACTIVE | STABLE | UNSTABLE | DEPRECATED | TEST
    // Equal to type_id while this version is ACTIVE, else NULL: at most one ACTIVE version per type.
    t.integer('active_type_id').unsigned().unique('uq_image_versions_active');
    t.string('release_tag', 128);
    t.string('digest', 128);
    t.string('description', 2048).notNullable().defaultTo('');
    t.string('created_by', 64).notNullable();
    millis(t, 'created_at').notNullable();
    t.string('modified_by', 64).notNullable();
    millis(t, 'modified_at').notNullable();
    t.unique(['type_id', 'version'], { indexName: 'uq_image_versions_version' });
    t.index(['type_id', 'version_key'], 'ix_image_versions_order');
  });
  await knex.schema.createTable('image_rampup_plans', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.integer('type_id').unsigned().notNullable().references('image_types.id');
    t.string('name', 128).notNullable();
    t.string('description', 2048).notNullable().defaultTo('');
    t.boolean('active').notNullable();
    // Equal to type_id while the plan is active, else NULL: at most one active plan per type.
    t.integer('active_type_id').unsigned().unique('uq_image_rampup_plans_active');
    t.string('created_by', 64).notNullable();
    millis(t, 'created_at').notNullable();
    t.string('modified_by', 64).notNullable();
    millis(t, 'modified_at').notNullable();
    t.index(['type_id'], 'ix_image_rampup_plans_type');
  });
  await knex.schema.createTable('image_rampups', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.integer('plan_id').unsigned().notNullable().references('image_rampup_plans.id');
    t.integer('version_id').unsigned().notNullable().references('image_versions.id');
    t.integer('rampup_percentage').notNullable();
    t.string('stability_tag', 16).notNullable(); // EXPERIMENTAL | STABLE | UNSTABLE
    t.string('created_by', 64).notNullable();
    millis(t, 'created_at').notNullable();
    t.string('modified_by', 64).notNullable();
    millis(t, 'modified_at').notNullable();
    t.unique(['plan_id', 'version_id'], { indexName: 'uq_image_rampups' });
  });
  await knex.schema.createTable('ramp_rules', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.string('name', 128).notNullable().unique('uq_ramp_rules_name');
    t.integer('type_id').unsigned().references('image_types.id'); // NULL for a high-priority rule over every type
    t.integer('version_id').unsigned().references('image_versions.id'); // NULL: every ramped version
    t.boolean('high_priority').notNullable().defaultTo(false);
    t.string('owners', 1024).notNullable().defaultTo('');
    t.string('created_by', 64).notNullable();
    millis(t, 'created_at').notNullable();
    t.string('modified_by', 64).notNullable();
    millis(t, 'modified_at').notNullable();
  });
  await knex.schema.createTable('ramp_rule_flows', (t) => {
    tableOptions(knex, t);
    t.integer('rule_id').unsigned().notNullable().references('ramp_rules.id').onDelete('CASCADE');
    t.integer('project_id').unsigned().notNullable().references('projects.id');
    t.string('flow_id', 128).notNullable();
    t.primary(['rule_id', 'project_id', 'flow_id']);
    t.index(['project_id', 'flow_id'], 'ix_ramp_rule_flows_flow');
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
