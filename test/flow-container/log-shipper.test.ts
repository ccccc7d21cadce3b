import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { systemClock } from '../../common/clock.js';
import type { LogAck } from '../../common/control-api.js';
import { CaissonError } from '../../common/errors.js';
import type { LogKey } from '../../flow-container/src/api-client.js';
import { completeUtf8Length, LogRegistry } from '../../flow-container/src/log-files.js';
import { LogShipper } from '../../flow-container/src/log-shipper.js';

const silent = pino({ level: 'silent' });

/** Stores log bytes by offset like the real server; `script` may answer a PUT first. */
class FakeLogServer {
  stored = new Map<string, Buffer>();
  puts: { key: string; offset: number; length: number }[] = [];
  script: ((key: string, offset: number, bytes: Uint8Array) => LogAck | Error | undefined)[] = [];

  putLog = (key: LogKey, offset: number, bytes: Uint8Array): Promise<LogAck> => {
    const name = key.job ?? 'flow';
    this.puts.push({ key: name, offset, length: bytes.length });
    const scripted = this.script.shift()?.(name, offset, bytes);
    if (scripted instanceof Error) return Promise.reject(scripted);
    if (scripted !== undefined) return Promise.resolve(scripted);
    const have = this.stored.get(name) ?? Buffer.alloc(0);
    if (offset <= have.length && offset + bytes.length > have.length) {
      this.stored.set(name, Buffer.concat([have, Buffer.from(bytes).subarray(have.length - offset)]));
    }
    return Promise.resolve({ storedUntil: (this.stored.get(name) ?? have).length });
  };
}

describe('the log shipper', () => {
  let dir: string;
  let logs: LogRegistry;
  let server: FakeLogServer;
  let shipper: LogShipper | undefined;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-ship-'));
    logs = new LogRegistry();
    server = new FakeLogServer();
  });
  afterEach(async () => {
    await shipper?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = (options: { intervalMs?: number; thresholdBytes?: number; maxChunkBytes?: number } = {}): LogShipper => {
    shipper = new LogShipper({
      client: server,
      logs,
      intervalMs: options.intervalMs ?? 60_000,
      thresholdBytes: options.thresholdBytes ?? 1024 * 1024,
      maxChunkBytes: options.maxChunkBytes,
      clock: systemClock,
      logger: silent,
      pollMs: 5,
      backoff: { initialMs: 1, maxMs: 4 },
    });
    shipper.start();
    return shipper;
  };

  const file = (name: string, content: string | Buffer): string => {
    const p = path.join(dir, `${name}.log`);
    fs.writeFileSync(p, content);
    logs.add({ job: name, attempt: 0 }, p);
    return p;
  };

  async function until(what: string, condition: () => boolean): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('ships a log in chunks that each end on a whole character, and the bytes arrive exactly', async () => {
    const content = Buffer.from('é€😀x'.repeat(500), 'utf8');
    file('a', content);
    logs.complete({ job: 'a', attempt: 0 });
    await start({ maxChunkBytes: 1000 }).flushAll();
    assert.ok(server.stored.get('a')?.equals(content));
    assert.ok(server.puts.length >= content.length / 1000);
    let offset = 0;
    for (const put of server.puts) {
      const chunk = content.subarray(put.offset, put.offset + put.length);
      assert.equal(completeUtf8Length(chunk), chunk.length, `chunk at ${put.offset} ends on a character boundary`);
      assert.equal(put.offset, offset);
      offset += put.length;
    }
  });

  it('ships once the pending bytes reach the threshold, long before the interval', async () => {
    const p = file('a', 'x'.repeat(10));
    start({ thresholdBytes: 64, intervalMs: 60_000 });
    fs.appendFileSync(p, 'y'.repeat(100));
    await until('the shipment', () => (server.stored.get('a')?.length ?? 0) === 110);
    assert.deepEqual(server.puts, [{ key: 'a', offset: 0, length: 110 }]);
  });

  it('ships on the interval when fewer bytes are pending', async () => {
    file('a', 'small\n');
    start({ intervalMs: 30 });
    await until('the shipment', () => server.stored.get('a')?.toString() === 'small\n');
  });

  it('resumes from storedUntil when the server holds less than sent', async () => {
    const content = 'a'.repeat(300);
    file('a', content);
    logs.complete({ job: 'a', attempt: 0 });
    server.script = [
      (name, offset, bytes) => {
        server.stored.set(name, Buffer.from(bytes).subarray(0, 100));
        return { storedUntil: 100 };
      },
    ];
    await start({ maxChunkBytes: 200 }).flushAll();
    assert.equal(server.stored.get('a')?.toString(), content);
    assert.deepEqual(
      server.puts.map((p) => [p.offset, p.length]),
      [
        [0, 200],
        [100, 200],
      ],
    );
  });

  it('skips ahead when the server already holds more', async () => {
    const content = 'b'.repeat(300);
    file('a', content);
    logs.complete({ job: 'a', attempt: 0 });
    server.stored.set('a', Buffer.from('b'.repeat(250)));
    server.script = [() => ({ storedUntil: 250 })];
    await start({ maxChunkBytes: 200 }).flushAll();
    assert.deepEqual(
      server.puts.map((p) => [p.offset, p.length]),
      [
        [0, 200],
        [250, 50],
      ],
    );
    assert.equal(server.stored.get('a')?.toString(), content);
  });

  it('retries while the server is unreachable; flushAll resolves once everything is stored', async () => {
    file('a', 'first\n');
    logs.add({ attempt: 0 }, file('flow', 'flow line\n'));
    const down = (): CaissonError => new CaissonError('UNAVAILABLE', '503', { retryable: true });
    server.script = [down, down, down];
    await start().flushAll();
    assert.equal(server.stored.get('a')?.toString(), 'first\n');
    assert.equal(server.stored.get('flow')?.toString(), 'flow line\n');
  });

  it('ships the incomplete last character of a finished log as it is', async () => {
    const content = Buffer.concat([Buffer.from('ok '), Buffer.from('€').subarray(0, 2)]);
    file('a', content);
    logs.complete({ job: 'a', attempt: 0 });
    await start().flushAll();
    assert.ok(server.stored.get('a')?.equals(content));
  });

  it('stops shipping when the server says the execution is final', async () => {
    file('a', 'x'.repeat(100));
    file('b', 'y'.repeat(100));
    server.script = [() => new CaissonError('CONFLICT', 'final', { details: { httpStatus: 409, serverCode: 'EXECUTION_FINAL' } })];
    await start().flushAll();
    assert.equal(server.puts.length, 1);
  });
});
