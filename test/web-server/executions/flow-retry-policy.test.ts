import assert from 'node:assert/strict';
import type { FlowRetryPolicy } from '../../../common/control-api.js';
import { CaissonError } from '../../../common/errors.js';
import { decideFlowRetry, parseFlowRetryPolicy, type EndedRun } from '../../../web-server/src/executions/flow-retry-policy.js';

function rejects(props: Record<string, string>, message: string): void {
  assert.throws(
    () => parseFlowRetryPolicy(props),
    (e: unknown) => e instanceof CaissonError && e.code === 'INVALID_PARAMETER' && e.message === message,
  );
}

describe('flow retry policy of a submit', () => {
  it('is absent when flow.retry.statuses is absent or empty', () => {
    assert.equal(parseFlowRetryPolicy({}), undefined);
    assert.equal(parseFlowRetryPolicy({ 'flow.retry.statuses': ' ', 'flow.max.retries': '3' }), undefined);
  });

  it('defaults to one retry as a new run', () => {
    assert.deepEqual(parseFlowRetryPolicy({ 'flow.retry.statuses': 'FAILED' }), {
      statuses: ['FAILED'],
      maxRetries: 1,
      strategy: 'retryAsNew',
    });
  });

  it('reads every key, trimming and dropping repeated statuses', () => {
    assert.deepEqual(
      parseFlowRetryPolicy({
        'flow.retry.statuses': ' FAILED , EXECUTION_STOPPED,FAILED',
        'flow.max.retries': ' 3 ',
        'flow.retry.strategy': 'disableSucceededNodes',
      }),
      { statuses: ['FAILED', 'EXECUTION_STOPPED'], maxRetries: 3, strategy: 'disableSucceededNodes' },
    );
  });

  it('rejects an unknown status, a bad maximum and an unknown strategy with exact messages', () => {
    rejects(
      { 'flow.retry.statuses': 'FAILED,KILLED' },
      'flow.retry.statuses lists statuses separated by commas, among FAILED, EXECUTION_STOPPED; got "KILLED".',
    );
    rejects(
      { 'flow.retry.statuses': 'FAILED', 'flow.max.retries': '-1' },
      'flow.max.retries must be a whole number of 0 or more; got "-1".',
    );
    rejects(
      { 'flow.retry.statuses': 'FAILED', 'flow.retry.strategy': 'again' },
      'flow.retry.strategy must be one of retryAsNew, disableSucceededNodes; got "again".',
    );
  });
});

describe('the flow retry decision', () => {
  const policy: FlowRetryPolicy = { statuses: ['FAILED'], maxRetries: 2, strategy: 'retryAsNew' };
  const run = (over: Partial<EndedRun>): EndedRun => ({
    status: 'FAILED',
    retryCount: 0,
    policy,
    disabled: ['off'],
    jobs: [
      { jobId: 'a', attempt: 0, status: 'SUCCEEDED' },
      { jobId: 'b', attempt: 0, status: 'FAILED' },
      { jobId: 'b', attempt: 1, status: 'SUCCEEDED' },
      { jobId: 'c', attempt: 0, status: 'FAILED' },
      { jobId: 'c', attempt: 1, status: 'FAILED' },
      { jobId: 'd', attempt: 0, status: 'CANCELLED' },
      { jobId: 'e', attempt: 0, status: 'FAILED_SUCCEEDED' },
      { jobId: 'off', attempt: 0, status: 'SKIPPED' },
      { jobId: 'outer', attempt: 0, status: 'SUCCEEDED' },
      { jobId: 'outer:inner', attempt: 0, status: 'SUCCEEDED' },
    ],
    ...over,
  });

  it('never retries without a policy', () => {
    assert.deepEqual(decideFlowRetry(run({ policy: undefined })), { retry: false, why: 'the flow sets no flow.retry.statuses' });
  });

  it('retries only the statuses listed', () => {
    assert.deepEqual(decideFlowRetry(run({ status: 'EXECUTION_STOPPED' })), {
      retry: false,
      why: 'EXECUTION_STOPPED is not in flow.retry.statuses (FAILED)',
    });
    assert.deepEqual(decideFlowRetry(run({ status: 'KILLED', policy: { ...policy, statuses: ['FAILED', 'EXECUTION_STOPPED'] } })), {
      retry: false,
      why: 'KILLED is not in flow.retry.statuses (FAILED, EXECUTION_STOPPED)',
    });
    assert.deepEqual(decideFlowRetry(run({ status: 'SUCCEEDED' })), {
      retry: false,
      why: 'SUCCEEDED is not in flow.retry.statuses (FAILED)',
    });
  });

  it('stops once the chain used flow.max.retries', () => {
    assert.deepEqual(decideFlowRetry(run({ retryCount: 1 })), { retry: true, retryCount: 2, disabled: ['off'] });
    assert.deepEqual(decideFlowRetry(run({ retryCount: 2 })), {
      retry: false,
      why: 'the run is retry 2 of at most 2 (flow.max.retries)',
    });
    assert.deepEqual(decideFlowRetry(run({ policy: { ...policy, maxRetries: 0 } })), {
      retry: false,
      why: 'the run is retry 0 of at most 0 (flow.max.retries)',
    });
  });

  it('retryAsNew keeps the disabled jobs of the parent and nothing more', () => {
    assert.deepEqual(decideFlowRetry(run({})), { retry: true, retryCount: 1, disabled: ['off'] });
  });

  it('disableSucceededNodes also disables every job whose last attempt SUCCEEDED', () => {
    assert.deepEqual(decideFlowRetry(run({ policy: { ...policy, strategy: 'disableSucceededNodes' } })), {
      retry: true,
      retryCount: 1,
      disabled: ['off', 'a', 'b', 'outer', 'outer:inner'],
    });
  });
});
