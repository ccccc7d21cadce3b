import assert from 'node:assert/strict';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../common/db/test-database.js';
import { migrateToLatest } from '../../../migrations/index.js';
import { insertProject } from '../../support/project-rows.js';
import { incompleteTail } from '../../../web-server/src/executions/utf8.js';
import { ingestLog, MAX_CHUNK_BYTES, readStoredBytes, toSlice } from '../../../web-server/src/executions/logs.js';
import { storedLogEnd } from '../../../web-server/src/executions/logs-store.js';

describe('UTF-8 log slices', () => {
  it('finds an incomplete trailing character of 2, 3 and 4 bytes', () => {
    const euro = Buffer.from('€'); // 3 bytes
    const smile = Buffer.from('😀'); // 4 bytes
    assert.equal(incompleteTail(Buffer.from('abc')), 0);
    assert.equal(incompleteTail(Buffer.concat([Buffer.from('a'), euro])), 0);
    assert.equal(incompleteTail(Buffer.concat([Buffer.from('a'), euro.subarray(0, 2)])), 2);
    assert.equal(incompleteTail(Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)])), 1);
    assert.equal(incompleteTail(smile.subarray(0, 3)), 3);
    assert.equal(incompleteTail(Buffer.from('é').subarray(0, 1)), 1);
  });

  it('never ends a slice in the middle of a character', () => {
    const bytes = Buffer.from('ab€');
    assert.deepEqual(toSlice(10, bytes.subarray(0, 4)), { data: 'ab', offset: 10, length: 2 });
    assert.deepEqual(toSlice(10, bytes), { data: 'ab€', offset: 10, length: 5 });
  });
});

for (const dialect of testDialects()) {
  describe(`durable log chunks [${dialect}]`, function () {
    this.timeout(60_000);
    let tdb: TestDatabase;
    let execId = 0;
    before(async () => {
      tdb = await createTestDatabase(dialect, migrateToLatest);
      const pid = await insertProject(tdb.db);
      const [id] = await tdb.db('execution_flows').insert({
        project_id: pid,
        project_version: 1,
        flow_id: 'f',
        status: 'RUNNING',
        priority: 5,
        submit_user: 'u',
        submit_time: 1,
        update_time: 1,
        options: '{}',
        flow_params: '{}',
      });
      execId = Number(id);
    });
    after(async () => {
      await tdb?.dispose();
    });

    it('stores bytes idempotently by offset and reports how far the log is stored', async () => {
      const key = { execId, name: 'job-a', attempt: 0 };
      assert.equal(await ingestLog(tdb.db, key, 0, Buffer.from('hello '), 1), 6);
      assert.equal(await ingestLog(tdb.db, key, 0, Buffer.from('hello '), 2), 6, 'a resend changes nothing');
      assert.equal(await ingestLog(tdb.db, key, 3, Buffer.from('lo world'), 3), 11, 'an overlapping resend stores only the new part');
      assert.equal(await ingestLog(tdb.db, key, 20, Buffer.from('gap'), 4), 11, 'bytes past a gap are refused');
      assert.equal((await readStoredBytes(tdb.db, key, 0, 100)).toString(), 'hello world');
      assert.equal((await readStoredBytes(tdb.db, key, 6, 3)).toString(), 'wor');
      assert.equal((await readStoredBytes(tdb.db, key, 11, 10)).length, 0);
    });

    it('splits a large shipment into compressed chunks of at most 1 MiB and reads across them', async () => {
      const key = { execId, name: '', attempt: 0 };
      const big = Buffer.alloc(MAX_CHUNK_BYTES * 2 + 123);
      for (let i = 0; i < big.length; i++) big[i] = 97 + (i % 26);
      assert.equal(await ingestLog(tdb.db, key, 0, big, 5), big.length);
      const rows = await tdb.db('execution_logs').where({ exec_id: execId, name: '' }).orderBy('start_offset');
      assert.deepEqual(
        rows.map((r: { start_offset: number; end_offset: number }) => [Number(r.start_offset), Number(r.end_offset)]),
        [
          [0, MAX_CHUNK_BYTES],
          [MAX_CHUNK_BYTES, 2 * MAX_CHUNK_BYTES],
          [2 * MAX_CHUNK_BYTES, 2 * MAX_CHUNK_BYTES + 123],
        ],
      );
      assert.ok(
        rows.every((r: { content: Buffer }) => Buffer.from(r.content).length < 100_000),
        'chunks are gzip-compressed',
      );
      const across = await readStoredBytes(tdb.db, key, MAX_CHUNK_BYTES - 5, 10);
      assert.deepEqual(across, big.subarray(MAX_CHUNK_BYTES - 5, MAX_CHUNK_BYTES + 5));
      assert.equal(await storedLogEnd(tdb.db, key), big.length);
    });

    it('keeps logs of different attempts apart', async () => {
      await ingestLog(tdb.db, { execId, name: 'job-b', attempt: 0 }, 0, Buffer.from('first'), 6);
      await ingestLog(tdb.db, { execId, name: 'job-b', attempt: 1 }, 0, Buffer.from('second'), 7);
      assert.equal((await readStoredBytes(tdb.db, { execId, name: 'job-b', attempt: 1 }, 0, 100)).toString(), 'second');
    });
  });
}
