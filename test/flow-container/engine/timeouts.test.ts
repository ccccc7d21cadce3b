import assert from 'node:assert/strict';
import { describeDuration, flowMaxRunningOf, jobTimeoutOf } from '../../../common/dsl/timeouts.js';

describe('maximum run times', () => {
  it('reads job.timeout as a duration from the first layer that sets it; none by default', () => {
    assert.deepEqual(jobTimeoutOf([{}]), { ms: undefined });
    assert.deepEqual(jobTimeoutOf([{ 'job.timeout': '30s' }, { 'job.timeout': '1h' }]), { ms: 30_000 });
    assert.deepEqual(jobTimeoutOf([{ 'job.timeout': '250' }]), { ms: 250 });
    assert.deepEqual(jobTimeoutOf([{ 'job.timeout': '0' }]), { ms: undefined });
  });

  it('ignores an invalid job.timeout, saying so', () => {
    assert.deepEqual(jobTimeoutOf([{ 'job.timeout': 'soon' }]), {
      ms: undefined,
      note: 'ignoring job.timeout "soon": expected a duration like 500ms, 30s, 15m, 24h or 7d',
    });
  });

  it('gives a flow 10 days unless a flow parameter or its config says otherwise', () => {
    assert.deepEqual(flowMaxRunningOf({}, {}), { ms: 864_000_000 });
    assert.deepEqual(flowMaxRunningOf({ 'flow.max.running.time': '2h' }, { 'flow.max.running.time': '1h' }), { ms: 7_200_000 });
    assert.deepEqual(flowMaxRunningOf({}, { 'flow.max.running.time': '1d' }), { ms: 86_400_000 });
    assert.deepEqual(flowMaxRunningOf({}, { 'flow.max.running.time': 'x' }), {
      ms: 864_000_000,
      note: 'ignoring flow.max.running.time "x": expected a duration like 500ms, 30s, 15m, 24h or 7d',
    });
  });

  it('describes durations in seconds when whole', () => {
    assert.equal(describeDuration(30_000), '30 s');
    assert.equal(describeDuration(1500), '1500 ms');
  });
});
