/** Projects, their uploaded versions and files, parsed flows and permissions. */
import type { Knex } from 'knex';
import { bigBinary, bigText, millis, tableOptions } from './helpers.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('projects', (t) => {
    tableOptions(knex, t);
    t.increments('id').primary();
    t.string('name', 128).notNullable();
    // Equal to name while the project is live, NULL once deleted: live names are unique, and a
    // deleted project's name can be used again (NULLs never collide in a unique index).
    t.string('live_name', 128).unique('uq_projects_live_name');
    t.string('description', 2048).notNullable().defaultTo('');
    t.string('created_by', 64).notNullable();
    millis(t, 'created_at').notNullable();
    t.string('modified_by', 64).notNullable();
    millis(t, 'modified_at').notNullable();
    t.integer('current_version');
    millis(t, 'deleted_at');
    t.string('deleted_by', 64);
    t.index(['name'], 'ix_projects_name');
  });
  await knex.schema.createTable('project_versions', (t) => {
    tableOptions(knex, t);
    t.integer('project_id').unsigned().notNullable().references('projects.id');
    t.integer('version').notNullable();
    t.string('format', 8).notNullable(); // 2.0 | 1.0
    t.string('file_name', 255).notNullable();
    t.bigInteger('archive_size').notNullable();
    t.string('archive_sha256', 64).notNullable();
    t.integer('num_files').notNullable();
    t.string('uploaded_by', 64).notNullable();
    millis(t, 'uploaded_at').notNullable();
    t.primary(['project_id', 'version']);
  });
  await knex.schema.createTable('project_files', (t) => {
    tableOptions(knex, t);
    t.integer('project_id').unsigned().notNullable();
    t.integer('version').notNullable();
    t.string('path', 512).notNullable();
    // Files are stored in chunks (at most 4 MiB each) so no row exceeds MySQL's max_allowed_packet.
    t.integer('chunk').notNullable();
    t.bigInteger('size').notNullable(); // size of the whole file, repeated on each chunk
    bigBinary(knex, t, 'content').notNullable();
    t.primary(['project_id', 'version', 'path', 'chunk']);
    t.foreign(['project_id', 'version'], 'fk_project_files_version').references(['project_id', 'version']).inTable('project_versions');
  });
  await knex.schema.createTable('project_flows', (t) => {
    tableOptions(knex, t);
    t.integer('project_id').unsigned().notNullable();
    t.integer('version').notNullable();
    t.string('flow_id', 128).notNullable();
    t.string('file', 512).notNullable();
    bigText(t, 'definition').notNullable(); // FlowDefinition as JSON
    t.primary(['project_id', 'version', 'flow_id']);
    t.foreign(['project_id', 'version'], 'fk_project_flows_version').references(['project_id', 'version']).inTable('project_versions');
  });
  await knex.schema.createTable('project_permissions', (t) => {
    tableOptions(knex, t);
    t.integer('project_id').unsigned().notNullable().references('projects.id');
    t.string('principal_type', 8).notNullable(); // user | group
    t.string('principal', 64).notNullable();
    t.string('permissions', 64).notNullable(); // comma-separated: READ,WRITE,EXECUTE,SCHEDULE,ADMIN
    millis(t, 'updated_at').notNullable();
    t.string('updated_by', 64).notNullable();
    t.primary(['project_id', 'principal_type', 'principal']);
    t.index(['principal_type', 'principal'], 'ix_project_permissions_principal');
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
