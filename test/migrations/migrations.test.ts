import assert from 'node:assert/strict';
import { createTestDatabase, testDialects, type TestDatabase } from '../../common/db/test-database.js';
import { migrateToLatest, migrationNames } from '../../migrations/index.js';

const TABLES = [
  'users',
  'groups',
  'user_groups',
  'sessions',
  'api_tokens',
  'login_failures',
  'projects',
  'project_versions',
  'project_files',
  'project_flows',
  'project_permissions',
  'version_sets',
  'execution_flows',
  'execution_jobs',
  'execution_events',
  'execution_logs',
  'image_types',
  'image_ownerships',
  'image_versions',
  'image_rampup_plans',
  'image_rampups',
  'ramp_rules',
  'ramp_rule_flows',
  'schedules',
  'schedule_fires',
  'leases',
  'audit_log',
];

for (const dialect of testDialects()) {
  describe(`migrations [${dialect}]`, () => {
    let tdb: TestDatabase;
    beforeEach(async () => {
      tdb = await createTestDatabase(dialect);
    });
    afterEach(async () => {
      await tdb.dispose();
    });

    it('apply every migration to an empty database, and a second run applies nothing', async () => {
      const first = await migrateToLatest(tdb.db);
      assert.deepEqual(first, migrationNames());
      for (const table of TABLES) {
        assert.equal(await tdb.db.schema.hasTable(table), true, `table ${table} exists`);
      }
      const second = await migrateToLatest(tdb.db);
      assert.deepEqual(second, []);
    });

    it('declare the dispatch index as (status, priority DESC, submit_time, exec_id)', async () => {
      await migrateToLatest(tdb.db);
      if (dialect === 'sqlite') {
        const rows = (await tdb.db.raw("PRAGMA index_xinfo('ix_execution_flows_dispatch')")) as {
          name: string | null;
          desc: number;
          key: number;
        }[];
        const keys = rows.filter((r) => r.key === 1).map((r) => `${r.name}${r.desc ? ' DESC' : ''}`);
        assert.deepEqual(keys, ['status', 'priority DESC', 'submit_time', 'exec_id']);
      } else {
        const [rows] = (await tdb.db.raw("SHOW INDEX FROM execution_flows WHERE Key_name = 'ix_execution_flows_dispatch'")) as [
          { Column_name: string; Seq_in_index: number; Collation: string | null }[],
        ];
        const keys = [...rows]
          .sort((a, b) => a.Seq_in_index - b.Seq_in_index)
          .map((r) => `${r.Column_name}${r.Collation === 'D' ? ' DESC' : ''}`);
        // MySQL 8 and MariaDB >= 10.8 keep DESC (Collation 'D'); older MariaDB would report 'A'.
        assert.deepEqual(keys, ['status', 'priority DESC', 'submit_time', 'exec_id']);
      }
    });

    it('allow at most one live project per name but reuse of a deleted name', async () => {
      await migrateToLatest(tdb.db);
      const row = { description: '', created_by: 'a', created_at: 1, modified_by: 'a', modified_at: 1 };
      await tdb.db('projects').insert({ ...row, name: 'p', live_name: 'p' });
      await assert.rejects(tdb.db('projects').insert({ ...row, name: 'p', live_name: 'p' }));
      await tdb.db('projects').where({ name: 'p' }).update({ live_name: null, deleted_at: 2 });
      await tdb.db('projects').insert({ ...row, name: 'p', live_name: 'p' });
      const count = await tdb.db('projects').where({ name: 'p' }).count({ n: '*' });
      assert.equal(Number(count[0]!.n), 2);
    });
  });
}
