/**
 * Flow-level retries end to end in solo mode: a run that fails once is retried as a new execution
 * (linked to its root and parent) that succeeds; with disableSucceededNodes the jobs that
 * succeeded the first time are SKIPPED.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testDialects } from '../../../common/db/test-database.js';
import {
  ADMIN_PASSWORD,
  ajaxLogin,
  getQuery,
  postForm,
  postMultipart,
  restCall,
  startTestServer,
  type TestServer,
} from '../../support/test-server.js';
import { zipOfFiles } from '../../support/projects.js';
import { waitFor } from '../../support/wait.js';

type Json = Record<string, unknown>;

/** `flaky` fails while ${marker} is absent, creating it: the first run fails, its retry succeeds. */
const FLOW = (strategy: string) => `config:
  flow.retry.statuses: FAILED
  flow.max.retries: 2
  flow.retry.strategy: ${strategy}
nodes:
  - name: prepare
    type: command
    config:
      command: bash -c 'echo ran >> \${marker}.prepare'
  - name: flaky
    type: command
    dependsOn: [prepare]
    config:
      command: bash -c 'if [ -e \${marker} ]; then echo found; else touch \${marker}; exit 1; fi'
  - name: finish
    type: noop
    dependsOn: [flaky]
`;

/** `fails` fails until ${marker}.fixed exists; `slow` runs until ${marker}.release exists. */
const RUNNING_FAILURE = `nodes:
  - name: fails
    type: command
    config:
      command: bash -c 'test -e \${marker}.fixed'
  - name: after_fail
    type: noop
    dependsOn: [fails]
  - name: slow
    type: command
    config:
      command: bash -c 'while [ ! -e \${marker}.release ]; do sleep 0.05; done'
`;

for (const dialect of testDialects()) {
  describe(`flow-level retries end to end in solo mode [${dialect}]`, function () {
    this.timeout(60_000);
    let t: TestServer;
    let admin: string;
    let markers: string;

    const fetchExecFlow = async (execid: number): Promise<Json> =>
      (await getQuery(`${t.url}/executor`, { 'session.id': admin, ajax: 'fetchexecflow', execid: String(execid) })).json;
    const waitFinal = (execid: number): Promise<Json> =>
      waitFor(
        `execution ${execid} to finish`,
        async () => {
          const f = await fetchExecFlow(execid);
          return ['SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED'].includes(String(f.status)) ? f : undefined;
        },
        30_000,
        100,
      );
    /** The newest execution of the flow other than `than`. */
    const waitNewerExecution = (project: string, than: number): Promise<number> =>
      waitFor(
        `a retry of execution ${than}`,
        async () => {
          const r = await getQuery(`${t.url}/manager`, { 'session.id': admin, ajax: 'fetchFlowExecutions', project, flow: 'retried' });
          const ids = (r.json.executions as Json[]).map((e) => Number(e.execId)).filter((id) => id > than);
          return ids[0];
        },
        30_000,
        100,
      );
    const statuses = (f: Json): Record<string, unknown> => Object.fromEntries((f.nodes as Json[]).map((n) => [n.id, n.status]));
    const upload = async (project: string, flow: string): Promise<void> => {
      await postForm(`${t.url}/manager?action=create`, { 'session.id': admin, name: project, description: project });
      const r = await postMultipart(
        `${t.url}/manager`,
        { 'session.id': admin, ajax: 'upload', project },
        {
          file: {
            name: 'p.zip',
            type: 'application/zip',
            content: zipOfFiles({ 'p.project': 'azkaban-flow-version: 2.0\n', 'retried.flow': flow }),
          },
        },
      );
      assert.equal(r.json.error, undefined, r.text);
    };
    const runFailingOnce = async (project: string): Promise<{ first: Json; retry: Json; marker: string }> => {
      const marker = path.join(markers, project);
      const r = await postForm(`${t.url}/executor`, {
        'session.id': admin,
        ajax: 'executeFlow',
        project,
        flow: 'retried',
        'flowOverride[marker]': marker,
      });
      assert.equal(r.json.error, undefined, r.text);
      const firstId = Number(r.json.execid);
      const first = await waitFinal(firstId);
      const retry = await waitFinal(await waitNewerExecution(project, firstId));
      return { first, retry, marker };
    };

    before(async () => {
      // An idle queue looks only every 30 s: a retry starts at once only because its submit wakes the queue.
      t = await startTestServer(dialect, { CAISSON_DISPATCH_POLL_INTERVAL: '30s', CAISSON_DISPATCH_MAX_POLL_INTERVAL: '60s' });
      admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      markers = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-retry-'));
      await upload('as-new', FLOW('retryAsNew'));
      await upload('skip-succeeded', FLOW('disableSucceededNodes'));
      await upload('running-failure', RUNNING_FAILURE);
    });
    after(async () => {
      await t?.stop();
      if (markers) fs.rmSync(markers, { recursive: true, force: true });
    });

    it('retries a FAILED run as a new linked execution that SUCCEEDS, skipping the jobs that succeeded (disableSucceededNodes)', async () => {
      const { first, retry, marker } = await runFailingOnce('skip-succeeded');
      assert.equal(first.status, 'FAILED');
      assert.deepEqual(statuses(first), { prepare: 'SUCCEEDED', flaky: 'FAILED', finish: 'CANCELLED' });
      assert.deepEqual([first.rootExecId, first.parentExecId, first.retryCount], [-1, -1, 0]);
      assert.equal(retry.status, 'SUCCEEDED');
      const waited = Number(retry.startTime) - Number(first.endTime);
      assert.ok(waited < 10_000, `the retry started ${waited} ms after its parent ended, not within the idle poll of 30 s`);
      assert.deepEqual(statuses(retry), { prepare: 'SKIPPED', flaky: 'SUCCEEDED', finish: 'SUCCEEDED' });
      assert.deepEqual([retry.rootExecId, retry.parentExecId, retry.retryCount], [first.execid, first.execid, 1]);
      assert.equal(retry.submitUser, 'azkaban');
      assert.equal(fs.readFileSync(`${marker}.prepare`, 'utf8'), 'ran\n', 'prepare ran once');
      const rest = await restCall(`${t.url}/api/v1/executions/${String(retry.execid)}`, 'GET', {
        cookie: `azkaban.browser.session.id=${admin}`,
      });
      assert.deepEqual([rest.json.rootExecId, rest.json.parentExecId, rest.json.retryCount], [first.execid, first.execid, 1]);
    });

    it('retryAsNew runs every job again', async () => {
      const { first, retry, marker } = await runFailingOnce('as-new');
      assert.equal(first.status, 'FAILED');
      assert.equal(retry.status, 'SUCCEEDED');
      assert.deepEqual(statuses(retry), { prepare: 'SUCCEEDED', flaky: 'SUCCEEDED', finish: 'SUCCEEDED' });
      assert.equal(fs.readFileSync(`${marker}.prepare`, 'utf8'), 'ran\nran\n');
    });

    it('retryFailedJobs runs the failed jobs of a running flow again, and is refused once the flow ended', async () => {
      const marker = path.join(markers, 'running-failure');
      const submitted = await postForm(`${t.url}/executor`, {
        'session.id': admin,
        ajax: 'executeFlow',
        project: 'running-failure',
        flow: 'retried',
        'flowOverride[marker]': marker,
      });
      const execid = Number(submitted.json.execid);
      await waitFor(
        'the flow to be FAILED_FINISHING with fails FAILED',
        async () => {
          const f = await fetchExecFlow(execid);
          return f.status === 'FAILED_FINISHING' && statuses(f).fails === 'FAILED' && statuses(f).after_fail === 'CANCELLED'
            ? f
            : undefined;
        },
        30_000,
        100,
      );
      fs.writeFileSync(`${marker}.fixed`, '');
      const retried = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'retryFailedJobs', execid: String(execid) });
      assert.deepEqual(retried.json, { retried: ['fails', 'after_fail'] }, retried.text);
      await waitFor(
        'fails to succeed on its new attempt',
        async () => ((await fetchExecFlow(execid)).nodes as Json[]).find((n) => n.id === 'fails' && n.status === 'SUCCEEDED'),
        30_000,
        100,
      );
      fs.writeFileSync(`${marker}.release`, '');
      const f = await waitFinal(execid);
      assert.equal(f.status, 'SUCCEEDED');
      assert.deepEqual(statuses(f), { fails: 'SUCCEEDED', after_fail: 'SUCCEEDED', slow: 'SUCCEEDED' });
      assert.equal((f.nodes as Json[]).find((n) => n.id === 'fails')!.attempt, 1);
      const late = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'retryFailedJobs', execid: String(execid) });
      assert.equal(late.json.error, `Execution ${execid} of flow retried isn't running.`);
    });
  });
}
