/** Leader leases (one holder per name) and the audit log of administrative changes. */
import type { Knex } from 'knex';
import { bigText, millis, tableOptions } from './helpers.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('leases', (t) => {
    tableOptions(knex, t);
    t.string('name', 64).primary();
    t.string('holder', 128).notNullable();
    millis(t, 'expires_at').notNullable();
  });
  await knex.schema.createTable('audit_log', (t) => {
    tableOptions(knex, t);
    t.bigIncrements('id').primary();
    t.string('actor', 64).notNullable();
    t.string('action', 64).notNullable();
    t.string('entity_type', 32).notNullable();
    t.string('entity_id', 128).notNullable();
    bigText(t, 'before_value');
    bigText(t, 'after_value');
    millis(t, 'created_at').notNullable();
    t.index(['entity_type', 'entity_id', 'created_at'], 'ix_audit_log_entity');
    t.index(['created_at'], 'ix_audit_log_time');
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
