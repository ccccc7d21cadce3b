/** Users, groups, login sessions, API tokens and failed-login records. */
import type { Knex } from 'knex';
import { millis, tableOptions } from './helpers.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.string('username', 64).notNullable().unique('uq_users_username');
    t.string('password_hash', 100).notNullable();
    t.string('role', 16).notNullable().defaultTo('USER'); // ADMIN | USER
    t.string('email', 255);
    t.boolean('disabled').notNullable().defaultTo(false);
    millis(t, 'created_at').notNullable();
    millis(t, 'updated_at').notNullable();
  });
  await knex.schema.createTable('groups', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.string('name', 64).notNullable().unique('uq_groups_name');
    millis(t, 'created_at').notNullable();
  });
  await knex.schema.createTable('user_groups', (t) => {
    tableOptions(knex, t);
    t.integer('user_id').unsigned().notNullable().references('users.id').onDelete('CASCADE');
    t.integer('group_id').unsigned().notNullable().references('groups.id').onDelete('CASCADE');
    t.primary(['user_id', 'group_id']);
    t.index(['group_id'], 'ix_user_groups_group');
  });
  await knex.schema.createTable('sessions', (t) => {
    tableOptions(knex, t);
    // Only the SHA-256 of the session id is stored; the id itself lives in the client's cookie.
    t.string('id_hash', 64).primary();
    t.integer('user_id').unsigned().notNullable().references('users.id').onDelete('CASCADE');
    millis(t, 'created_at').notNullable();
    millis(t, 'last_seen_at').notNullable();
    millis(t, 'expires_at').notNullable();
    t.string('client_ip', 64);
    t.index(['expires_at'], 'ix_sessions_expires');
    t.index(['user_id'], 'ix_sessions_user');
  });
  await knex.schema.createTable('api_tokens', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.integer('user_id').unsigned().notNullable().references('users.id').onDelete('CASCADE');
    t.string('name', 128).notNullable();
    t.string('token_hash', 64).notNullable().unique('uq_api_tokens_hash');
    t.string('prefix', 16).notNullable();
    millis(t, 'created_at').notNullable();
    millis(t, 'last_used_at');
    millis(t, 'expires_at');
    millis(t, 'revoked_at');
    t.index(['user_id'], 'ix_api_tokens_user');
  });
  await knex.schema.createTable('login_failures', (t) => {
    tableOptions(knex, t);
    t.bigIncrements('id').primary();
    t.string('username', 64).notNullable();
    t.string('client_ip', 64).notNullable();
    millis(t, 'failed_at').notNullable();
    t.index(['username', 'failed_at'], 'ix_login_failures_user');
    t.index(['client_ip', 'failed_at'], 'ix_login_failures_ip');
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
