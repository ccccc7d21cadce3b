/** Executions: the queue row per flow run, job rows, ordered events, log chunks, version sets. */
import type { Knex } from 'knex';
import { bigBinary, bigText, millis, tableOptions } from './helpers.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('version_sets', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.string('hash', 64).notNullable().unique('uq_version_sets_hash'); // SHA-256 of the canonical JSON
    bigText(t, 'body').notNullable();
    millis(t, 'created_at').notNullable();
  });
  await knex.schema.createTable('execution_flows', (t) => {
    tableOptions(knex, t);
    t.increments('exec_id').primary();
    t.integer('project_id').unsigned().notNullable().references('projects.id');
    t.integer('project_version').notNullable();
    t.string('flow_id', 128).notNullable();
    t.string('status', 24).notNullable();
    t.integer('priority').notNullable().defaultTo(5);
    t.string('submit_user', 64).notNullable();
    millis(t, 'submit_time').notNullable();
    millis(t, 'start_time');
    millis(t, 'end_time');
    millis(t, 'update_time').notNullable();
    t.string('execution_source', 16).notNullable().defaultTo('adhoc'); // adhoc | scheduled | api
    t.integer('schedule_id');
    // Claim and lease (DESIGN §3): who dispatches it, until when, and how many times it was taken over.
    t.string('claimed_by', 128);
    millis(t, 'lease_until');
    t.integer('attempt').notNullable().defaultTo(0);
    // The execution token is HMAC(server secret key, token_nonce): the database alone never yields
    // it, and the server can recompute it to call the container (ADR 0004). Only its hash is compared.
    t.string('token_nonce', 64);
    t.string('token_hash', 64);
    t.boolean('cancel_requested').notNullable().defaultTo(false);
    t.integer('version_set_id').unsigned().references('version_sets.id');
    bigText(t, 'options').notNullable(); // failure action, concurrency, disabled jobs, notification lists
    bigText(t, 'flow_params').notNullable(); // resolved flow parameters
    bigText(t, 'runtime_info'); // runtime identifiers: pod name, pid, port, ...
    t.text('failure_reason');
    millis(t, 'heartbeat_at');
    t.index(['project_id', 'flow_id', 'submit_time'], 'ix_execution_flows_flow');
    t.index(['status', 'update_time'], 'ix_execution_flows_status_update');
    t.index(['submit_user', 'submit_time'], 'ix_execution_flows_user');
  });
  // The dispatch claim orders READY rows by priority DESC, submit_time, exec_id (DESIGN §1, §3):
  // the index must match that order for a claim to stay cheap at any queue depth.
  await knex.raw('CREATE INDEX ix_execution_flows_dispatch ON execution_flows (status, priority DESC, submit_time, exec_id)');

  await knex.schema.createTable('execution_jobs', (t) => {
    tableOptions(knex, t);
    t.integer('exec_id').unsigned().notNullable().references('execution_flows.exec_id');
    t.string('job_id', 512).notNullable(); // nested id, e.g. outer:inner
    t.integer('attempt').notNullable().defaultTo(0);
    t.string('job_type', 64).notNullable();
    t.string('status', 24).notNullable();
    millis(t, 'start_time');
    millis(t, 'end_time');
    millis(t, 'update_time').notNullable();
    bigText(t, 'output_params');
    t.primary(['exec_id', 'job_id', 'attempt']);
  });
  await knex.schema.createTable('execution_events', (t) => {
    tableOptions(knex, t);
    t.bigIncrements('id').primary();
    t.integer('exec_id').unsigned().notNullable().references('execution_flows.exec_id');
    t.string('source', 16).notNullable(); // container | server
    t.integer('seq').notNullable();
    t.string('type', 40).notNullable();
    bigText(t, 'payload').notNullable();
    millis(t, 'event_time').notNullable();
    millis(t, 'received_at').notNullable();
    // Each event is stored once: a resent event hits this key and is acknowledged without effect.
    t.unique(['exec_id', 'source', 'seq'], { indexName: 'uq_execution_events_seq' });
  });
  await knex.schema.createTable('execution_logs', (t) => {
    tableOptions(knex, t);
    t.integer('exec_id').unsigned().notNullable().references('execution_flows.exec_id');
    t.string('name', 512).notNullable(); // job nested id; '' for the flow log
    t.integer('attempt').notNullable().defaultTo(0);
    t.bigInteger('start_offset').notNullable(); // byte offsets in the uncompressed log
    t.bigInteger('end_offset').notNullable();
    t.string('encoding', 8).notNullable().defaultTo('gzip');
    bigBinary(knex, t, 'content').notNullable();
    millis(t, 'upload_time').notNullable();
    t.primary(['exec_id', 'name', 'attempt', 'start_offset']);
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
