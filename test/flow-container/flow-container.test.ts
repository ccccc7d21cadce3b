/**
 * The real flow container process (`node --import tsx flow-container/src/main.ts`) against a fake
 * web server over real HTTP.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ContainerEvent, ExecutionPlan, LogSlice, PingResponse } from '../../common/control-api.js';
import type { FlowNode } from '../../common/dsl/model.js';
import { FakeContainerApi } from './support/fake-container-api.js';
import { embedded, flowOf, job, planFor, startContainer, waitFor, waitForExit, type ContainerRun } from './support/container-process.js';

const TOKEN = 'test-token-3f9a1c0e5b7d4a2f';

function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

describe('the flow container process', function () {
  this.timeout(30_000);
  let api: FakeContainerApi | undefined;
  let run: ContainerRun | undefined;
  let execId = 100;

  afterEach(async () => {
    if (run !== undefined && run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    if (run !== undefined) fs.rmSync(run.workDir, { recursive: true, force: true });
    await api?.stop();
    api = undefined;
    run = undefined;
  });

  async function start(
    nodes: FlowNode[],
    options: {
      config?: Record<string, string>;
      plan?: Partial<ExecutionPlan>;
      files?: Map<string, Buffer>;
      env?: Record<string, string>;
    } = {},
  ): Promise<{ api: FakeContainerApi; run: ContainerRun }> {
    execId += 1;
    const files = options.files ?? new Map<string, Buffer>();
    const plan = planFor(execId, flowOf(nodes, options.config), {
      files: [...files].map(([path, content]) => ({ path, size: content.length })),
      ...options.plan,
    });
    api = new FakeContainerApi({ token: TOKEN, plan, files });
    await api.start();
    run = startContainer({ apiUrl: api.url, execId, token: TOKEN, env: options.env });
    return { api, run };
  }

  /** Runs the flow to the end; returns the exit code. */
  async function runToEnd(
    nodes: FlowNode[],
    options: Parameters<typeof start>[1] = {},
  ): Promise<{ api: FakeContainerApi; code: number | null }> {
    const started = await start(nodes, options);
    const code = await waitForExit(started.run);
    return { api: started.api, code };
  }

  function assertContiguous(events: ContainerEvent[]): void {
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => i + 1),
    );
    assert.equal(events[0]?.type, 'FLOW_STARTED');
    assert.equal(events.at(-1)?.type, 'FLOW_FINISHED');
  }

  it('runs a diamond of command jobs in dependency order with events numbered 1..N, downloads the project and exits 0', async () => {
    const files = new Map([
      ['data/in put.txt', Buffer.from('project file ✓\n')],
      ['flows/diamond.flow', Buffer.from('nodes: []\n')],
    ]);
    const { api, code } = await runToEnd(
      [
        job('a', { command: 'cat "data/in put.txt"' }),
        job('b', { command: 'echo b' }, ['a']),
        job('c', { command: 'echo c' }, ['a']),
        job('d', { command: 'echo d' }, ['b', 'c']),
      ],
      { files },
    );
    assert.equal(code, 0);
    assertContiguous(api.events);
    assert.deepEqual(api.flowFinished()?.payload.status, 'SUCCEEDED');
    const at = (type: string, id: string): number => api.jobTrail().findIndex(([t, j]) => t === type && j === id);
    assert.ok(at('JOB_FINISHED', 'a') < at('JOB_STARTED', 'b') && at('JOB_FINISHED', 'a') < at('JOB_STARTED', 'c'));
    assert.ok(at('JOB_FINISHED', 'b') < at('JOB_STARTED', 'd') && at('JOB_FINISHED', 'c') < at('JOB_STARTED', 'd'));
    assert.deepEqual(
      api.jobTrail().filter(([t]) => t === 'JOB_FINISHED'),
      ['a', 'b', 'c', 'd'].map((id) => ['JOB_FINISHED', id, 'SUCCEEDED']).sort((x, y) => at(x[0]!, x[1]!) - at(y[0]!, y[1]!)),
    );
    assert.equal(api.log('a').toString('utf8'), 'project file ✓\n');
    assert.equal(api.log('d').toString('utf8'), 'd\n');
    assert.match(api.log().toString('utf8'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO - Job a started$/m);
    assert.match(api.log().toString('utf8'), /INFO - Flow finished with status SUCCEEDED in \d+ seconds\n$/);
    assert.match(api.registered?.controlUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(typeof api.registered?.pid, 'number');
    assert.ok(api.heartbeats >= 1);
    assert.equal(api.unauthorized, 0);
  });

  it('fails the flow when a job fails: its dependent is CANCELLED and the exit code is not 0', async () => {
    const { api, code } = await runToEnd([
      job('a', { command: 'bash -c "echo before; exit 3"' }),
      job('b', { command: 'echo never' }, ['a']),
      job('pig', { command: 'x' }, [], 'pig'),
    ]);
    assert.notEqual(code, 0);
    assertContiguous(api.events);
    assert.equal(api.flowFinished()?.payload.status, 'FAILED');
    const finished = Object.fromEntries(
      api
        .jobTrail()
        .filter(([t]) => t === 'JOB_FINISHED')
        .map(([, id, status]) => [id, status]),
    );
    assert.deepEqual(finished, { a: 'FAILED', b: 'CANCELLED', pig: 'FAILED' });
    assert.match(api.log('a').toString('utf8'), /^before\n.* ERROR - command exited with code 3\n$/);
    assert.match(api.log('pig').toString('utf8'), / ERROR - unknown jobtype "pig"\n$/);
    assert.ok(api.eventsOfType('FLOW_STATUS_CHANGED').some((e) => (e.payload as { status: string }).status === 'FAILED_FINISHING'));
    // FLOW_FINISHED names the failure cause: the first job that failed for good (pig fails at once).
    assert.deepEqual((api.flowFinished()?.payload as { cause?: unknown } | undefined)?.cause, {
      jobId: 'pig',
      attempt: 0,
      status: 'FAILED',
      message: 'unknown jobtype "pig"',
    });
  });

  it('skips a disabled job and runs its child; a noop job succeeds without a process', async () => {
    const { api, code } = await runToEnd(
      [job('a', { command: 'echo a' }), job('b', { command: 'false' }, ['a']), job('c', {}, ['b'], 'noop')],
      { plan: { options: { ...planFor(0, flowOf([])).options, disabled: ['b'] } } },
    );
    assert.equal(code, 0);
    assert.deepEqual(api.jobTrail(), [
      ['JOB_STARTED', 'a', 'RUNNING'],
      ['JOB_FINISHED', 'a', 'SUCCEEDED'],
      ['JOB_FINISHED', 'b', 'SKIPPED'],
      ['JOB_STARTED', 'c', 'RUNNING'],
      ['JOB_FINISHED', 'c', 'SUCCEEDED'],
    ]);
  });

  it('runs an embedded flow under nested ids with its own properties', async () => {
    const { api, code } = await runToEnd(
      [
        job('first', { command: 'echo first' }),
        embedded(
          'inner',
          [job('x', { command: 'echo x in ${stage}' }), job('y', { command: 'echo y ${azkaban.job.id}' }, ['x'])],
          ['first'],
          { stage: 'inner-stage' },
        ),
        job('last', { command: 'echo last ${stage}' }, ['inner']),
      ],
      { config: { stage: 'flow-stage' } },
    );
    assert.equal(code, 0);
    assert.deepEqual(api.jobTrail(), [
      ['JOB_STARTED', 'first', 'RUNNING'],
      ['JOB_FINISHED', 'first', 'SUCCEEDED'],
      ['JOB_STARTED', 'inner', 'RUNNING'],
      ['JOB_STARTED', 'inner:x', 'RUNNING'],
      ['JOB_FINISHED', 'inner:x', 'SUCCEEDED'],
      ['JOB_STARTED', 'inner:y', 'RUNNING'],
      ['JOB_FINISHED', 'inner:y', 'SUCCEEDED'],
      ['JOB_FINISHED', 'inner', 'SUCCEEDED'],
      ['JOB_STARTED', 'last', 'RUNNING'],
      ['JOB_FINISHED', 'last', 'SUCCEEDED'],
    ]);
    assert.equal(api.log('inner:x').toString(), 'x in inner-stage\n');
    assert.equal(api.log('inner:y').toString(), 'y y\n');
    assert.equal(api.log('last').toString(), 'last flow-stage\n');
  });

  it('substitutes ${param} with flow parameters of the run first, and fails a job naming an unresolved one', async () => {
    const { api, code } = await runToEnd(
      [
        job('greet', {
          command: 'echo Hello, ${who}! exec ${azkaban.flow.execid} of ${azkaban.flow.flowid} by ${azkaban.flow.submituser}',
        }),
        job('own', { command: 'echo ${who} ${kind}', kind: 'job-level' }),
        job('broken', { command: 'echo ${nowhere}' }),
      ],
      { config: { who: 'world', kind: 'flow-level' }, plan: { flowParams: { who: 'caisson' } } },
    );
    assert.notEqual(code, 0);
    assert.equal(api.log('greet').toString(), `Hello, caisson! exec ${execId} of test by alice\n`);
    assert.equal(api.log('own').toString(), 'caisson job-level\n');
    assert.match(api.log('broken').toString(), / ERROR - unresolved property \$\{nowhere\} in command\n$/);
    assert.match(api.log().toString(), /ERROR - Job broken: unresolved property \$\{nowhere\} in command/);
  });

  it('passes output parameters written to JOB_OUTPUT_PROP_FILE to the children', async () => {
    const { api, code } = await runToEnd([
      job('producer', { command: `bash -c 'printf "{\\"answer\\": 42, \\"word\\": \\"hi\\"}" > "$JOB_OUTPUT_PROP_FILE"'` }),
      job('consumer', { command: 'echo ${word} ${answer}' }, ['producer']),
      // After the consumer: failing first, it would stop the consumer from starting (finishCurrent).
      job('garbage', { command: `bash -c 'echo not-json > "$JOB_OUTPUT_PROP_FILE"'` }, ['consumer']),
    ]);
    assert.notEqual(code, 0, 'the job writing invalid JSON fails');
    const producer = api.eventsOfType('JOB_FINISHED').find((e) => (e.payload as { jobId: string }).jobId === 'producer');
    assert.deepEqual((producer?.payload as { outputParams?: unknown }).outputParams, { answer: '42', word: 'hi' });
    assert.equal(api.log('consumer').toString(), 'hi 42\n');
    assert.match(api.log('garbage').toString(), /ERROR - output parameters in JOB_OUTPUT_PROP_FILE are not valid JSON: /);
  });

  it('keeps the token and every CAISSON_* variable out of a job’s environment', async () => {
    const { api, code } = await runToEnd(
      [job('env', { command: 'env', 'env.GREETING': 'hi ${who}', 'env.CAISSON_EXEC_TOKEN': 'forged' })],
      {
        config: { who: 'there' },
        env: { CAISSON_VERSION_SET_ID: '9', KEEP_ME: 'kept' },
      },
    );
    assert.equal(code, 0);
    const log = api.log('env').toString('utf8');
    assert.ok(!log.includes(TOKEN), 'the token value is absent');
    assert.ok(!/^CAISSON_/m.test(log), `no CAISSON_* variable in:\n${log}`);
    assert.match(log, /^GREETING=hi there$/m);
    assert.match(log, /^KEEP_ME=kept$/m);
    assert.match(log, /^JOB_OUTPUT_PROP_FILE=\S+\/outputs\/env\.0\.json$/m);
  });

  it('runs the failed jobs of a running flow again on POST /retry-failed, each with a new attempt', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-retry-failed-'));
    try {
      const { api, run } = await start([
        job('fails', { command: `sh -c 'test -e ${dir}/fixed'` }),
        job('slow', { command: `sh -c 'while [ ! -e ${dir}/release ]; do sleep 0.05; done'` }),
      ]);
      await waitFor('fails to fail', () => api.jobTrail().some(([t, id, st]) => t === 'JOB_FINISHED' && id === 'fails' && st === 'FAILED'));
      const control = api.registered?.controlUrl ?? '';
      assert.equal((await fetch(`${control}/retry-failed`, { method: 'POST' })).status, 401);
      fs.writeFileSync(path.join(dir, 'fixed'), '');
      const retried = await fetch(`${control}/retry-failed`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(retried.status, 200);
      assert.deepEqual(await retried.json(), { retried: ['fails'], flowStatus: 'RUNNING' });
      await waitFor('fails to succeed', () =>
        api.jobTrail().some(([t, id, st]) => t === 'JOB_FINISHED' && id === 'fails' && st === 'SUCCEEDED'),
      );
      fs.writeFileSync(path.join(dir, 'release'), '');
      assert.equal(await waitForExit(run), 0);
      assertContiguous(api.events);
      assert.equal(api.flowFinished()?.payload.status, 'SUCCEEDED');
      const fails = api.events
        .filter((e) => e.type.startsWith('JOB_') && (e.payload as { jobId: string }).jobId === 'fails')
        .map((e) => [e.type, (e.payload as { status: string }).status, (e.payload as { attempt: number }).attempt]);
      assert.deepEqual(fails, [
        ['JOB_STARTED', 'RUNNING', 0],
        ['JOB_FINISHED', 'FAILED', 0],
        ['JOB_STATUS_CHANGED', 'READY', 1],
        ['JOB_STARTED', 'RUNNING', 1],
        ['JOB_FINISHED', 'SUCCEEDED', 1],
      ]);
      const flowStatuses = api.eventsOfType('FLOW_STATUS_CHANGED').map((e) => (e.payload as { status: string }).status);
      assert.deepEqual(flowStatuses, ['FAILED_FINISHING', 'RUNNING']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cancels through the control API: running process groups are killed (SIGKILL after the grace) and the flow ends KILLED', async () => {
    const { api, run } = await start([
      job('sleeper', { command: `sh -c 'echo $$; exec sleep 600'` }),
      job('stubborn', { command: `bash -c 'trap "" TERM; echo $$; sleep 600 & wait'` }),
      job('after', { command: 'echo never' }, ['sleeper']),
    ]);
    const pidOf = (id: string): number => Number(/^(\d+)\n/.exec(api.log(id).toString())?.[1] ?? NaN);
    await waitFor('both jobs to report their pids', () => !Number.isNaN(pidOf('sleeper')) && !Number.isNaN(pidOf('stubborn')));
    const control = api.registered?.controlUrl ?? '';
    const auth = { authorization: `Bearer ${TOKEN}` };

    assert.equal((await fetch(`${control}/ping`)).status, 401);
    assert.equal((await fetch(`${control}/ping`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const ping = await fetch(`${control}/ping`, { headers: auth });
    assert.equal(ping.status, 200);
    assert.deepEqual((await ping.json()) as PingResponse, { status: 'ok', execId, flowStatus: 'RUNNING' });
    assert.equal((await fetch(`${control}/logs?job=sleeper&attempt=0&offset=0&length=100`)).status, 401);
    const slice = (await (await fetch(`${control}/logs?job=sleeper&attempt=0&offset=0&length=100`, { headers: auth })).json()) as LogSlice;
    assert.deepEqual(slice, { data: `${pidOf('sleeper')}\n`, offset: 0, length: slice.data.length, size: slice.data.length });
    const flowLog = (await (await fetch(`${control}/logs?offset=0&length=65536`, { headers: auth })).json()) as LogSlice;
    assert.match(flowLog.data, /INFO - Job sleeper started\n/);
    assert.equal((await fetch(`${control}/logs?job=nobody`, { headers: auth })).status, 404);
    assert.equal((await fetch(`${control}/cancel`, { method: 'POST' })).status, 401);

    const cancelledAt = Date.now();
    const cancel = await fetch(`${control}/cancel`, { method: 'POST', headers: auth });
    assert.equal(cancel.status, 202);
    assert.deepEqual(await cancel.json(), { accepted: true });
    const code = await waitForExit(run);
    assert.ok(Date.now() - cancelledAt < 8_000, 'killed within seconds');
    assert.notEqual(code, 0);
    assertContiguous(api.events);
    assert.equal(api.flowFinished()?.payload.status, 'KILLED');
    assert.equal(api.flowFinished()?.payload.reason, undefined);
    const finished = Object.fromEntries(
      api
        .jobTrail()
        .filter(([t]) => t === 'JOB_FINISHED')
        .map(([, id, status]) => [id, status]),
    );
    assert.deepEqual(finished, { sleeper: 'KILLED', stubborn: 'KILLED', after: 'CANCELLED' });
    assert.throws(
      () => process.kill(-pidOf('sleeper'), 0),
      (e: NodeJS.ErrnoException) => e.code === 'ESRCH',
      'the process group of sleeper is gone',
    );
    // stubborn's background sleep was orphaned by the SIGKILL: it is dead, but stays a zombie in
    // the group until PID 1 of this machine reaps it.
    await waitFor('the process group of stubborn to be gone (ESRCH)', () => groupGone(pidOf('stubborn')), 5_000);
  });

  it('reports KILLED with reason SIGTERM when stopped by SIGTERM without a cancel', async () => {
    const { api, run } = await start([job('sleeper', { command: `sh -c 'echo $$; exec sleep 600'` })]);
    await waitFor('the job to start', () => api.log('sleeper').length > 0);
    const pgid = Number(api.log('sleeper').toString().trim());
    run.child.kill('SIGTERM');
    assert.notEqual(await waitForExit(run), 0);
    assert.deepEqual(
      { status: api.flowFinished()?.payload.status, reason: api.flowFinished()?.payload.reason },
      { status: 'KILLED', reason: 'SIGTERM' },
    );
    assert.throws(
      () => process.kill(-pgid, 0),
      (e: NodeJS.ErrnoException) => e.code === 'ESRCH',
    );
  });

  it('cancels when a heartbeat answer asks for it', async () => {
    const { api, run } = await start([job('sleeper', { command: 'sleep 600' })]);
    await waitFor('the job to start', () => api.jobTrail().length > 0);
    api.cancelRequested = true;
    assert.notEqual(await waitForExit(run), 0);
    assert.equal(api.flowFinished()?.payload.status, 'KILLED');
  });

  it('kills its jobs and exits when the server says the execution is already final', async () => {
    const { api, run } = await start([job('sleeper', { command: `sh -c 'echo $$; exec sleep 600'` })]);
    await waitFor('the job to start', () => api.log('sleeper').length > 0);
    const pgid = Number(api.log('sleeper').toString().trim());
    api.finalStatus = 'KILLED';
    assert.equal(await waitForExit(run), 1);
    assert.equal(api.flowFinished(), undefined, 'nothing is reported after the server said final');
    assert.throws(
      () => process.kill(-pgid, 0),
      (e: NodeJS.ErrnoException) => e.code === 'ESRCH',
    );
  });

  it('delivers every event exactly once and in order while the server answers 503 for a while', async () => {
    execId += 1;
    const nodes = [job('a', { command: 'echo a' }), job('b', { command: 'echo b' }, ['a']), job('c', {}, ['b'], 'noop')];
    api = new FakeContainerApi({ token: TOKEN, plan: planFor(execId, flowOf(nodes)) });
    api.failEventPosts = 4;
    api.failLogPuts = 3;
    await api.start();
    run = startContainer({ apiUrl: api.url, execId, token: TOKEN });
    assert.equal(await waitForExit(run), 0);
    assert.equal(api.failEventPosts, 0);
    assertContiguous(api.events);
    assert.equal(api.duplicateEvents, 0);
    assert.deepEqual(
      api.events.map((e) => e.type),
      ['FLOW_STARTED', 'JOB_STARTED', 'JOB_FINISHED', 'JOB_STARTED', 'JOB_FINISHED', 'JOB_STARTED', 'JOB_FINISHED', 'FLOW_FINISHED'],
    );
    assert.equal(api.log('b').toString(), 'b\n');
  });

  it('continues the sequence from the server’s nextSeq', async () => {
    execId += 1;
    api = new FakeContainerApi({ token: TOKEN, plan: planFor(execId, flowOf([job('a', {}, [], 'noop')])), nextSeq: 5 });
    await api.start();
    run = startContainer({ apiUrl: api.url, execId, token: TOKEN });
    assert.equal(await waitForExit(run), 0);
    assert.deepEqual(
      api.events.map((e) => e.seq),
      [5, 6, 7, 8],
    );
  });

  it('ships log bytes exactly as the job wrote them, in bounded chunks', async () => {
    const command = `bash -c 'seq 1 150000; printf "h\\xc3\\xa9llo \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80\\n"; echo to-stderr >&2'`;
    const expected = Buffer.concat([
      spawnSync('seq', ['1', '150000']).stdout,
      Buffer.from('héllo € 😀\n', 'utf8'),
      Buffer.from('to-stderr\n'),
    ]);
    const { api, code } = await runToEnd([job('chatty', { command })], { plan: { logShipBytes: 16 * 1024 } });
    assert.equal(code, 0);
    const shipped = api.log('chatty');
    assert.equal(shipped.length, expected.length);
    assert.ok(shipped.equals(expected), 'shipped bytes equal the output');
    const puts = api.requests.filter((r) => r.method === 'PUT').length;
    assert.ok(puts >= 2, `shipped in several chunks (${puts} PUTs)`);
  });

  it('refuses a project file path that leaves the project directory and ends EXECUTION_STOPPED', async () => {
    const { api, code } = await runToEnd([job('a', { command: 'echo never' })], { plan: { files: [{ path: '../escape.sh', size: 3 }] } });
    assert.equal(code, 1);
    assert.deepEqual(
      api.events.map((e) => [e.seq, e.type]),
      [[1, 'FLOW_FINISHED']],
    );
    assert.equal(api.flowFinished()?.payload.status, 'EXECUTION_STOPPED');
    assert.deepEqual((api.flowFinished()?.payload as { reason?: string }).reason, 'PREPARATION_FAILED');
    assert.match(api.log().toString(), /ERROR - Preparing the execution failed: refusing project file path "\.\.\/escape\.sh"/);
    assert.ok(!api.requests.some((r) => r.path.includes('/files/')), 'nothing was downloaded');
  });

  it('exits 2 listing every problem when its environment is incomplete', async () => {
    const { spawn } = await import('node:child_process');
    const { REPO_ROOT } = await import('./support/container-process.js');
    const child = spawn(process.execPath, ['--import', 'tsx', 'flow-container/src/main.ts'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', CAISSON_EXEC_ID: 'x' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 2);
    assert.match(stderr, /CAISSON_EXEC_ID: expected a whole number, got "x"/);
    assert.match(stderr, /CAISSON_API_URL must be set/);
    assert.match(stderr, /CAISSON_EXEC_TOKEN must be set/);
  });
});
