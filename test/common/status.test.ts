import assert from 'node:assert/strict';
import {
  canJobTransition,
  canTransition,
  FLOW_FINAL_STATUSES,
  FLOW_TRANSITIONS,
  predecessorsOf,
  STATUS_CODES,
  type Status,
} from '../../common/status.js';

describe('the status model', () => {
  it("keeps Azkaban's numeric codes", () => {
    assert.deepEqual(
      {
        READY: STATUS_CODES.READY,
        RUNNING: STATUS_CODES.RUNNING,
        SUCCEEDED: STATUS_CODES.SUCCEEDED,
        KILLED: STATUS_CODES.KILLED,
        EXECUTION_STOPPED: STATUS_CODES.EXECUTION_STOPPED,
        FAILED: STATUS_CODES.FAILED,
        CANCELLED: STATUS_CODES.CANCELLED,
      },
      { READY: 10, RUNNING: 30, SUCCEEDED: 50, KILLED: 60, EXECUTION_STOPPED: 65, FAILED: 70, CANCELLED: 125 },
    );
  });

  it('never leaves a final flow status', () => {
    for (const s of FLOW_FINAL_STATUSES) assert.deepEqual(FLOW_TRANSITIONS[s], [], s);
  });

  it('takes an expired DISPATCHING lease over in place and never goes back to READY', () => {
    assert.equal(canTransition('DISPATCHING', 'DISPATCHING'), true);
    assert.equal(canTransition('DISPATCHING', 'READY'), false);
    assert.equal(canTransition('RUNNING', 'PREPARING'), false);
  });

  it('derives the compare-and-set predecessors from the table', () => {
    assert.deepEqual(predecessorsOf('PREPARING').sort(), ['DISPATCHING']);
    assert.deepEqual(predecessorsOf('KILLED').sort(), [
      'DISPATCHING',
      'FAILED_FINISHING',
      'KILLING',
      'PAUSED',
      'PREPARING',
      'QUEUED',
      'READY',
      'RUNNING',
    ]);
    assert.deepEqual(predecessorsOf('READY'), ['QUEUED']);
  });

  it('lets a disabled job become SKIPPED once, and a final job never change', () => {
    assert.equal(canJobTransition('DISABLED', 'SKIPPED'), true);
    assert.equal(canJobTransition('SKIPPED', 'SKIPPED'), false);
    const finals: Status[] = ['SUCCEEDED', 'FAILED', 'KILLED', 'CANCELLED', 'SKIPPED'];
    for (const f of finals)
      for (const to of ['RUNNING', 'SUCCEEDED', 'READY'] as Status[]) assert.equal(canJobTransition(f, to), false, `${f} -> ${to}`);
    assert.equal(canJobTransition('RUNNING', 'RUNNING'), true);
  });
});
