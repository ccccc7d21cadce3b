/** A bare live project row, for tests that need executions but no uploaded project. */
import type { Knex } from 'knex';

export async function insertProject(db: Knex, name = 'p'): Promise<number> {
  const [id] = await db('projects').insert({
    name,
    live_name: name,
    description: '',
    created_by: 'u',
    created_at: 1,
    modified_by: 'u',
    modified_at: 1,
  });
  return Number(id);
}
