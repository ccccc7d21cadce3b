/** Why each image version of an execution's version set was picked (override, pinned, ramp rule, plan, ACTIVE). */
import type { Knex } from 'knex';
import { bigText } from './helpers.js';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('execution_flows', (t) => {
    // JSON list of {imageType, version, reason, why, repinned?}, written once at dispatch.
    bigText(t, 'image_resolution');
  });
}

export async function down(): Promise<void> {
  throw new Error('migrations are forward-only');
}
