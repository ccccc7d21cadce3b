import assert from 'node:assert/strict';
import { TokenBucket } from '../../../../web-server/src/runtime/kubernetes/token-bucket.js';

describe('the Kubernetes client token bucket', () => {
  it('lets a burst through at once, then one call per 1000/qps ms, in order', async () => {
    let now = 0;
    const bucket = new TokenBucket(100, 3, () => now);
    const order: number[] = [];
    const calls = [0, 1, 2, 3, 4].map((i) => bucket.take().then(() => order.push(i)));
    await Promise.resolve();
    await Promise.resolve();
    assert.deepEqual(order, [0, 1, 2], 'the burst');
    assert.equal(bucket.waiting, 2);
    now = 10; // one token refilled at 100/s
    await new Promise((r) => setTimeout(r, 15));
    assert.deepEqual(order, [0, 1, 2, 3]);
    now = 20;
    await Promise.all(calls);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.equal(bucket.waiting, 0);
  });

  it('never holds more than the burst, however long it was idle', async () => {
    let now = 0;
    const bucket = new TokenBucket(10, 2, () => now);
    now = 60_000;
    const done: number[] = [];
    void bucket.take().then(() => done.push(1));
    void bucket.take().then(() => done.push(2));
    void bucket.take().then(() => done.push(3));
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(done, [1, 2]);
    bucket.stop();
  });

  it('rejects waiting and later calls once stopped, and refuses impossible settings', async () => {
    const bucket = new TokenBucket(1, 1, () => 0);
    await bucket.take();
    const waiting = bucket.take();
    bucket.stop();
    await assert.rejects(waiting, /stopped/);
    await assert.rejects(bucket.take(), /stopped/);
    assert.throws(() => new TokenBucket(0, 1), /qps > 0/);
  });
});
