import assert from 'node:assert/strict';
import { retryPolicyOf } from '../../../flow-container/src/engine/retry-policy.js';

describe('the retry policy of a job', () => {
  it('defaults to no retries and no back-off', () => {
    assert.deepEqual(retryPolicyOf([{}]), { retries: 0, backoffMs: 0, notes: [] });
  });

  it('reads retries and retry.backoff from the first layer that sets them, substituting ${…}', () => {
    assert.deepEqual(retryPolicyOf([{ retries: '${n}' }, { n: '3', retries: '9', 'retry.backoff': '250' }]), {
      retries: 3,
      backoffMs: 250,
      notes: [],
    });
  });

  it('ignores values that are not whole numbers, saying so', () => {
    assert.deepEqual(retryPolicyOf([{ retries: 'two', 'retry.backoff': '-5' }]), {
      retries: 0,
      backoffMs: 0,
      notes: ['ignoring retries "two": expected a whole number ≥ 0', 'ignoring retry.backoff "-5": expected a whole number ≥ 0'],
    });
  });

  it('caps retries at 100 and the back-off at one day', () => {
    assert.deepEqual(retryPolicyOf([{ retries: '1000', 'retry.backoff': '999999999' }]), {
      retries: 100,
      backoffMs: 86_400_000,
      notes: ['retries 1000 is capped at 100', 'retry.backoff 999999999 is capped at 86400000'],
    });
  });
});
