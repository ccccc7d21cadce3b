import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from '../../common/clock.js';
import { completeUtf8Length, formatLogLine, LineLog, LogRegistry, readLogBytes, readLogSlice } from '../../flow-container/src/log-files.js';

describe('log files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-logs-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('completeUtf8Length', () => {
    const bytes = Buffer.from('aé€😀', 'utf8'); // 1 + 2 + 3 + 4 bytes
    it('keeps a prefix that ends on a character boundary', () => {
      assert.deepEqual(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => completeUtf8Length(bytes, n)),
        [0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10],
      );
    });
    it('leaves invalid bytes alone', () => {
      assert.equal(completeUtf8Length(Buffer.from([0x61, 0x80, 0x80, 0x80, 0x80])), 5);
      assert.equal(completeUtf8Length(Buffer.from([0xff])), 1);
    });
  });

  describe('slices for GET /logs', () => {
    it('never split a character: an incomplete trailing sequence is left out and the length says so', async () => {
      const file = path.join(dir, 'job.log');
      fs.writeFileSync(file, 'héllo wörld\n');
      assert.deepEqual(await readLogSlice(file, 0, 2), { data: 'h', offset: 0, length: 1, size: 14 });
      assert.deepEqual(await readLogSlice(file, 1, 2), { data: 'é', offset: 1, length: 2, size: 14 });
      assert.deepEqual(await readLogSlice(file, 3, 100), { data: 'llo wörld\n', offset: 3, length: 11, size: 14 });
      assert.deepEqual(await readLogSlice(file, 14, 100), { data: '', offset: 14, length: 0, size: 14 });
    });

    it('return a whole character even when the length asked for is shorter', async () => {
      const file = path.join(dir, 'emoji.log');
      fs.writeFileSync(file, '😀x');
      assert.deepEqual(await readLogSlice(file, 0, 1), { data: '😀', offset: 0, length: 4, size: 5 });
    });

    it('leave out a character still being written', async () => {
      const file = path.join(dir, 'partial.log');
      fs.writeFileSync(file, Buffer.concat([Buffer.from('ok '), Buffer.from('€').subarray(0, 2)]));
      assert.deepEqual(await readLogSlice(file, 0, 100), { data: 'ok ', offset: 0, length: 3, size: 5 });
      const raw = await readLogBytes(file, 0, 100, false);
      assert.equal(raw.bytes.length, 5);
    });

    it('of a missing file are empty', async () => {
      assert.deepEqual(await readLogSlice(path.join(dir, 'none.log'), 0, 10), { data: '', offset: 0, length: 0, size: 0 });
    });

    it('read a bounded slice of a large file', async () => {
      const file = path.join(dir, 'big.log');
      fs.writeFileSync(file, Buffer.alloc(5 * 1024 * 1024, 'x'));
      const { bytes, size } = await readLogBytes(file, 1024, 4096, true);
      assert.equal(bytes.length, 4096);
      assert.equal(size, 5 * 1024 * 1024);
    });
  });

  it('write timestamped lines like Azkaban', () => {
    const local = new Date(2026, 10, 24, 1, 2, 3, 456).getTime();
    assert.equal(formatLogLine(local, 'INFO', 'Job greet started'), '2026-11-24 01:02:03.456 INFO - Job greet started\n');
    const log = new LineLog(path.join(dir, 'flow.log'), new FakeClock(local));
    log.info('one');
    log.error('two');
    assert.equal(fs.readFileSync(log.path, 'utf8'), '2026-11-24 01:02:03.456 INFO - one\n2026-11-24 01:02:03.456 ERROR - two\n');
  });

  it('are registered once per job attempt, the flow log without a job', () => {
    const logs = new LogRegistry();
    const flow = logs.add({ attempt: 0 }, '/flow.log');
    const a = logs.add({ job: 'a', attempt: 0 }, '/a.0.log');
    assert.equal(logs.add({ job: 'a', attempt: 0 }, '/other.log'), a);
    assert.equal(logs.find({ attempt: 3 }), flow);
    assert.equal(logs.find({ job: 'a', attempt: 1 }), undefined);
    logs.complete({ job: 'a', attempt: 0 });
    assert.deepEqual(
      logs.all().map((f) => [f.path, f.complete]),
      [
        ['/flow.log', false],
        ['/a.0.log', true],
      ],
    );
  });
});
