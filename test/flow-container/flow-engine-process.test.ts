/**
 * Conditions, retries and built-in properties on the real flow container process against the fake
 * web server.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { ContainerEvent } from '../../common/control-api.js';
import type { FlowNode } from '../../common/dsl/model.js';
import { FakeContainerApi } from './support/fake-container-api.js';
import { flowOf, job, planFor, startContainer, waitForExit, type ContainerRun } from './support/container-process.js';

const TOKEN = 'test-token-flow-engine-5b1e';

const withCondition = (node: FlowNode, condition: string): FlowNode => ({ ...node, condition });

describe('the flow engine on real processes', function () {
  this.timeout(30_000);
  let api: FakeContainerApi | undefined;
  let run: ContainerRun | undefined;
  let execId = 600;

  afterEach(async () => {
    if (run !== undefined && run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    if (run !== undefined) fs.rmSync(run.workDir, { recursive: true, force: true });
    await api?.stop();
    api = undefined;
    run = undefined;
  });

  async function runToEnd(nodes: FlowNode[], config: Record<string, string> = {}): Promise<{ api: FakeContainerApi; code: number | null }> {
    execId += 1;
    api = new FakeContainerApi({ token: TOKEN, plan: planFor(execId, flowOf(nodes, config)), files: new Map() });
    await api.start();
    run = startContainer({ apiUrl: api.url, execId, token: TOKEN });
    const code = await waitForExit(run);
    return { api, code };
  }

  const finalStatuses = (a: FakeContainerApi): Record<string, string> =>
    Object.fromEntries(
      a
        .jobTrail()
        .filter(([t]) => t === 'JOB_FINISHED')
        .map(([, id, status]) => [id, status]),
    );
  const jobEvents = (a: FakeContainerApi, type: ContainerEvent['type'], id: string): Record<string, unknown>[] =>
    a
      .eventsOfType(type)
      .map((e) => e.payload as Record<string, unknown>)
      .filter((p) => p.jobId === id);

  it('branches on a runtime parameter: the true branch runs, the false one is CANCELLED, one_success joins', async () => {
    const writeParam = `bash -c 'echo "{\\"param1\\": \\"1\\"}" > "$JOB_OUTPUT_PROP_FILE"'`;
    const { api: a, code } = await runToEnd([
      job('JobA', { command: writeParam }),
      withCondition(job('JobB', { command: 'echo B' }, ['JobA']), '${JobA:param1} == 1'),
      withCondition(job('JobC', { command: 'echo C' }, ['JobA']), '${JobA:param1} == 2'),
      withCondition(job('JobD', { command: 'echo D' }, ['JobB', 'JobC']), 'one_success'),
    ]);
    assert.equal(code, 0);
    assert.deepEqual(finalStatuses(a), { JobA: 'SUCCEEDED', JobB: 'SUCCEEDED', JobC: 'CANCELLED', JobD: 'SUCCEEDED' });
    assert.equal(a.flowFinished()?.payload.status, 'SUCCEEDED');
    assert.deepEqual(jobEvents(a, 'JOB_STARTED', 'JobB')[0]?.condition, { expression: '${JobA:param1} == 1', met: true });
    assert.deepEqual(jobEvents(a, 'JOB_FINISHED', 'JobC')[0]?.condition, {
      expression: '${JobA:param1} == 2',
      met: false,
      reason: 'its condition "${JobA:param1} == 2" is false',
    });
    assert.match(a.log().toString(), /Cancelling JobC: its condition "\$\{JobA:param1\} == 2" is false/);
  });

  it('retries a failing job with its back-off, recording each attempt with its own log, then succeeds', async () => {
    const flaky = `bash -c 'echo "attempt \${azkaban.job.attempt}"; test \${azkaban.job.attempt} -ge 2'`;
    const { api: a, code } = await runToEnd([
      job('flaky', { command: flaky, retries: '3', 'retry.backoff': '50' }),
      job('after', { command: 'echo done' }, ['flaky']),
    ]);
    assert.equal(code, 0);
    const finished = jobEvents(a, 'JOB_FINISHED', 'flaky').map((p) => [p.attempt, p.status]);
    assert.deepEqual(finished, [
      [0, 'FAILED'],
      [1, 'FAILED'],
      [2, 'SUCCEEDED'],
    ]);
    assert.deepEqual(
      jobEvents(a, 'JOB_RETRY', 'flaky').map((p) => [p.attempt, p.status, p.previousAttempt]),
      [
        [1, 'QUEUED', 0],
        [2, 'QUEUED', 1],
      ],
    );
    const starts = jobEvents(a, 'JOB_STARTED', 'flaky').map((p) => p.startTime as number);
    const ends = jobEvents(a, 'JOB_FINISHED', 'flaky').map((p) => p.endTime as number);
    assert.ok((starts[1] ?? 0) - (ends[0] ?? 0) >= 50, 'the back-off separates the attempts');
    assert.match(a.log('flaky', 0).toString(), /^attempt 0\n/);
    assert.match(a.log('flaky', 2).toString(), /^attempt 2\n$/);
    assert.equal(finalStatuses(a).after, 'SUCCEEDED');
  });

  it('fails the job after its last retry', async () => {
    const { api: a, code } = await runToEnd([job('bad', { command: 'false', retries: '1' })]);
    assert.notEqual(code, 0);
    assert.deepEqual(
      jobEvents(a, 'JOB_FINISHED', 'bad').map((p) => [p.attempt, p.status]),
      [
        [0, 'FAILED'],
        [1, 'FAILED'],
      ],
    );
    assert.equal(a.flowFinished()?.payload.status, 'FAILED');
  });

  it('kills a job past its job.timeout and fails it, naming the limit', async () => {
    const { api: a, code } = await runToEnd([
      job('sleepy', { command: 'sleep 30', 'job.timeout': '300ms' }),
      job('after', { command: 'true' }, ['sleepy']),
    ]);
    assert.notEqual(code, 0);
    assert.deepEqual(finalStatuses(a), { sleepy: 'FAILED', after: 'CANCELLED' });
    assert.equal(jobEvents(a, 'JOB_FINISHED', 'sleepy')[0]?.message, 'the job ran longer than its job.timeout of 300 ms and was killed');
  });

  it('kills the flow past flow.max.running.time', async () => {
    const { api: a, code } = await runToEnd([job('sleepy', { command: 'sleep 30' })], { 'flow.max.running.time': '400ms' });
    assert.notEqual(code, 0);
    assert.equal(a.flowFinished()?.payload.status, 'KILLED');
    assert.deepEqual(finalStatuses(a), { sleepy: 'KILLED' });
    assert.match(a.log().toString(), /Kill requested \(the flow ran longer than its maximum running time of 400 ms\)/);
  });

  it('gives jobs Azkaban’s built-in properties', async () => {
    const { api: a, code } = await runToEnd([
      job('show', { command: 'echo ${azkaban.flow.flowid} ${azkaban.job.id} ${azkaban.flow.projectid} ${azkaban.flow.start.timezone}' }),
    ]);
    assert.equal(code, 0);
    assert.equal(a.log('show').toString(), 'test show 1 UTC\n');
  });
});
