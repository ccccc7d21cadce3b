import assert from 'node:assert/strict';
import { BatchLoader } from '../../common/batch-loader.js';

/** A readMany whose batches the test answers one by one, recording what each batch asked for. */
function controlled() {
  const batches: { keys: number[]; answer: (extra?: Map<number, string>) => void; fail: (e: Error) => void }[] = [];
  const readMany = (keys: number[]) =>
    new Promise<Map<number, string>>((resolve, reject) => {
      batches.push({
        keys,
        answer: (extra) => resolve(new Map([...keys.filter((k) => k > 0).map((k) => [k, `v${k}`] as const), ...(extra ?? [])])),
        fail: reject,
      });
    });
  return { batches, readMany };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('BatchLoader', () => {
  it('reads a key asked alone at once, in a batch of its own', async () => {
    const c = controlled();
    const loader = new BatchLoader(c.readMany);
    const v = loader.load(7);
    await tick();
    assert.deepEqual(
      c.batches.map((b) => b.keys),
      [[7]],
    );
    c.batches[0]!.answer();
    assert.equal(await v, 'v7');
  });

  it('shares one batch among the keys asked in the same tick, each key once', async () => {
    const c = controlled();
    const loader = new BatchLoader(c.readMany);
    const all = Promise.all([loader.load(1), loader.load(2), loader.load(1), loader.load(3)]);
    await tick();
    assert.deepEqual(
      c.batches.map((b) => b.keys),
      [[1, 2, 3]],
    );
    c.batches[0]!.answer();
    assert.deepEqual(await all, ['v1', 'v2', 'v1', 'v3']);
  });

  it('answers a key missing from the read with undefined', async () => {
    const c = controlled();
    const loader = new BatchLoader(c.readMany);
    const all = Promise.all([loader.load(-1), loader.load(4)]);
    await tick();
    c.batches[0]!.answer();
    assert.deepEqual(await all, [undefined, 'v4']);
  });

  it('never answers a reader from a batch sent before it asked, and sends the waiting keys together', async () => {
    const c = controlled();
    const loader = new BatchLoader(c.readMany, { maxBatch: 100, maxInFlight: 1 });
    const early = loader.load(1);
    await tick();
    assert.equal(c.batches.length, 1);
    // Asked while the first batch is being read: the first batch's answer is older than these readers.
    const late = [loader.load(1), loader.load(2), loader.load(3)];
    await tick();
    assert.equal(c.batches.length, 1, 'no second batch while one is in flight (maxInFlight 1)');
    assert.equal(loader.readsInFlight, 1);
    c.batches[0]!.answer(new Map([[1, 'old']]));
    assert.equal(await early, 'old');
    await tick();
    assert.deepEqual(
      c.batches.map((b) => b.keys),
      [[1], [1, 2, 3]],
    );
    c.batches[1]!.answer();
    assert.deepEqual(await Promise.all(late), ['v1', 'v2', 'v3']);
  });

  it('reads up to maxInFlight batches at once and splits waiting keys into batches of maxBatch', async () => {
    const c = controlled();
    const loader = new BatchLoader(c.readMany, { maxBatch: 2, maxInFlight: 2 });
    const all = Promise.all([1, 2, 3, 4, 5].map((k) => loader.load(k)));
    await tick();
    assert.deepEqual(
      c.batches.map((b) => b.keys),
      [
        [1, 2],
        [3, 4],
      ],
    );
    c.batches[1]!.answer();
    await tick();
    assert.deepEqual(c.batches[2]?.keys, [5]);
    c.batches[0]!.answer();
    c.batches[2]!.answer();
    assert.deepEqual(await all, ['v1', 'v2', 'v3', 'v4', 'v5']);
    assert.equal(loader.readsInFlight, 0);
  });

  it('rejects every reader of a failed batch, and the next batch reads again', async () => {
    const c = controlled();
    const loader = new BatchLoader(c.readMany);
    const failing = Promise.allSettled([loader.load(1), loader.load(2)]);
    await tick();
    c.batches[0]!.fail(new Error('the database went away'));
    const settled = await failing;
    assert.deepEqual(
      settled.map((s) => (s.status === 'rejected' ? (s.reason as Error).message : s.status)),
      ['the database went away', 'the database went away'],
    );
    const again = loader.load(1);
    await tick();
    c.batches[1]!.answer();
    assert.equal(await again, 'v1');
  });

  it('refuses settings that could never read', () => {
    assert.throws(() => new BatchLoader(async () => new Map(), { maxBatch: 0, maxInFlight: 1 }), /at least 1/);
    assert.throws(() => new BatchLoader(async () => new Map(), { maxBatch: 1, maxInFlight: 0 }), /at least 1/);
  });
});
