import assert from 'node:assert/strict';
import fs from 'node:fs';
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
import { zipOfExample, zipOfFiles } from '../../support/projects.js';
import { processAlive, waitFor } from '../../support/wait.js';

const PROJECT_FILE = 'azkaban-flow-version: 2.0\n';

const DIAMOND = `nodes:
  - name: start
    type: command
    config:
      command: echo start \${who}
  - name: left
    type: command
    dependsOn: [start]
    config:
      command: sleep 0.3
  - name: right
    type: command
    dependsOn: [start]
    config:
      command: echo right
  - name: end
    type: command
    dependsOn: [left, right]
    config:
      command: echo done
config:
  who: nobody
`;

const FAILING = `nodes:
  - name: ok
    type: command
    config:
      command: echo fine
  - name: boom
    type: command
    dependsOn: [ok]
    config:
      command: bash -c "echo about to fail; exit 3"
  - name: after
    type: command
    dependsOn: [boom]
    config:
      command: echo never
`;

const LONG = `nodes:
  - name: wait
    type: command
    config:
      command: bash -c "echo waiting; sleep 600"
`;

const STEPS = `nodes:
  - name: first
    type: command
    config:
      command: bash -c "for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.5; done"
  - name: second
    type: command
    dependsOn: [first]
    config:
      command: echo second
`;

type Json = Record<string, unknown>;

/** The runtime's marker in a process's environment (FLOW_CONTAINER_SESSION=<execId>.<uuid>), if any. */
function markerOf(pid: number): string | undefined {
  try {
    return fs
      .readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\u0000')
      .find((v) => v.startsWith('FLOW_CONTAINER_SESSION='));
  } catch {
    return undefined;
  }
}

/** Processes a container started (its jobs), found by the container's own marker. */
function processesMarked(marker: string): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || markerOf(Number(d)) !== marker) continue;
    try {
      out.push({ pid: Number(d), cmdline: fs.readFileSync(`/proc/${d}/cmdline`, 'utf8') });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

for (const dialect of testDialects()) {
  describe(`running flows end to end in solo mode [${dialect}]`, function () {
    this.timeout(120_000);
    let t: TestServer;
    let admin: string;
    let user: string;

    const exec = (session: string, project: string, flow: string, extra: Record<string, string> = {}) =>
      postForm(`${t.url}/executor`, { 'session.id': session, ajax: 'executeFlow', project, flow, ...extra });
    const fetchFlow = async (session: string, execid: number): Promise<Json> =>
      (await getQuery(`${t.url}/executor`, { 'session.id': session, ajax: 'fetchexecflow', execid: String(execid) })).json;
    const waitFinal = (execid: number, timeoutMs = 60_000) =>
      waitFor(
        `execution ${execid} to finish`,
        async () => {
          const f = await fetchFlow(admin, execid);
          return ['SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED'].includes(String(f.status)) ? f : undefined;
        },
        timeoutMs,
        200,
      );
    const upload = async (project: string, files: Record<string, string>) => {
      await postForm(`${t.url}/manager?action=create`, { 'session.id': admin, name: project, description: project });
      const r = await postMultipart(
        `${t.url}/manager`,
        { 'session.id': admin, ajax: 'upload', project },
        { file: { name: 'p.zip', type: 'application/zip', content: zipOfFiles(files) } },
      );
      assert.equal(r.json.error, undefined, r.text);
    };
    const jobLog = async (execid: number, jobId: string): Promise<string> => {
      let offset = 0;
      let text = '';
      for (let i = 0; i < 100; i++) {
        const r = await getQuery(`${t.url}/executor`, {
          'session.id': admin,
          ajax: 'fetchExecJobLogs',
          execid: String(execid),
          jobId,
          offset: String(offset),
          length: '1000',
        });
        assert.equal(r.json.error, undefined, r.text);
        if (r.json.length === 0) return text;
        text += String(r.json.data);
        offset += Number(r.json.length);
      }
      throw new Error('the log never answered length 0');
    };

    before(async () => {
      t = await startTestServer(dialect);
      admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      await t.server.auth.createUser({ username: 'carol', password: 'carol-password', role: 'USER' });
      user = await ajaxLogin(t.url, 'carol', 'carol-password');
      await upload('diamond', { 'p.project': PROJECT_FILE, 'diamond.flow': DIAMOND });
      await upload('failing', { 'p.project': PROJECT_FILE, 'failing.flow': FAILING });
      await upload('long', { 'p.project': PROJECT_FILE, 'long.flow': LONG });
      await upload('steps', { 'p.project': PROJECT_FILE, 'steps.flow': STEPS });
      await postForm(`${t.url}/manager`, {
        'session.id': admin,
        ajax: 'addPermission',
        project: 'diamond',
        name: 'carol',
        'permissions[execute]': 'true',
        'permissions[read]': 'true',
      });
    });
    after(async () => {
      await t?.stop();
    });

    it('runs a diamond flow to SUCCEEDED with jobs in dependency order and consistent times', async () => {
      const r = await exec(admin, 'diamond', 'diamond', { 'flowOverride[who]': 'caisson' });
      assert.match(String(r.json.message), /^Execution submitted successfully with exec id \d+$/);
      assert.deepEqual(Object.keys(r.json).sort(), ['execid', 'flow', 'message', 'project']);
      const f = await waitFinal(Number(r.json.execid));
      assert.equal(f.status, 'SUCCEEDED');
      const nodes = Object.fromEntries((f.nodes as Json[]).map((n) => [n.id, n]));
      for (const id of ['start', 'left', 'right', 'end']) assert.equal(nodes[id]!.status, 'SUCCEEDED', id);
      const time = (id: string, k: string) => Number(nodes[id]![k]);
      assert.ok(time('start', 'endTime') <= time('left', 'startTime'));
      assert.ok(time('start', 'endTime') <= time('right', 'startTime'));
      assert.ok(Math.max(time('left', 'endTime'), time('right', 'endTime')) <= time('end', 'startTime'));
      assert.ok(Number(f.startTime) <= time('start', 'startTime') && time('end', 'endTime') <= Number(f.endTime));
      assert.deepEqual(nodes.end!.in, ['left', 'right']);
      assert.match(await jobLog(Number(r.json.execid), 'start'), /start caisson/);
    });

    it('fails the flow when a job fails, cancels its dependents, and keeps the failing log', async () => {
      const r = await exec(admin, 'failing', 'failing');
      const f = await waitFinal(Number(r.json.execid));
      assert.equal(f.status, 'FAILED');
      const status = Object.fromEntries((f.nodes as Json[]).map((n) => [n.id, n.status]));
      assert.deepEqual(status, { ok: 'SUCCEEDED', boom: 'FAILED', after: 'CANCELLED' });
      assert.match(await jobLog(Number(r.json.execid), 'boom'), /about to fail/);
      const rest = await restCall(`${t.url}/api/v1/executions/${String(r.json.execid)}`, 'GET', {
        cookie: `azkaban.browser.session.id=${admin}`,
      });
      assert.equal(rest.status, 200);
      assert.equal(rest.json.status, 'FAILED');
      assert.equal(rest.json.failureReason, 'job boom failed: command exited with code 3');
      assert.equal(typeof (rest.json.runtime as Json).pid, 'number');
    });

    it('skips disabled jobs', async () => {
      const r = await exec(admin, 'diamond', 'diamond', { disabled: '["left"]' });
      const f = await waitFinal(Number(r.json.execid));
      assert.equal(f.status, 'SUCCEEDED');
      const status = Object.fromEntries((f.nodes as Json[]).map((n) => [n.id, n.status]));
      assert.deepEqual(status, { start: 'SUCCEEDED', left: 'SKIPPED', right: 'SUCCEEDED', end: 'SUCCEEDED' });
    });

    it('cancels a running flow: KILLED within seconds and no process left', async () => {
      const r = await exec(admin, 'long', 'long');
      const execid = Number(r.json.execid);
      const running = await waitFor('the long job to run', async () => {
        const f = await fetchFlow(admin, execid);
        return (f.nodes as Json[])[0]!.status === 'RUNNING' ? f : undefined;
      });
      assert.equal(running.status, 'RUNNING');
      const rest = await restCall(`${t.url}/api/v1/executions/${execid}`, 'GET', { cookie: `azkaban.browser.session.id=${admin}` });
      const pid = Number((rest.json.runtime as Json).pid);
      const marker = markerOf(pid);
      assert.ok(marker?.startsWith(`FLOW_CONTAINER_SESSION=${execid}.`), `the container carries the runtime's marker (${marker})`);
      const jobPids = await waitFor('the job process to appear', async () => {
        const found = processesMarked(marker!).filter((p) => p.cmdline.includes('sleep\u0000600'));
        return found.length > 0 ? found.map((p) => p.pid) : undefined;
      });
      const started = Date.now();
      const c = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'cancelFlow', execid: String(execid) });
      assert.deepEqual(c.json, {});
      const f = await waitFinal(execid, 20_000);
      assert.equal(f.status, 'KILLED');
      assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
      await waitFor('the container process to be gone', async () => !processAlive(pid), 10_000);
      for (const jobPid of jobPids) assert.equal(processAlive(jobPid), false, `job process ${jobPid} is gone`);
      const again = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'cancelFlow', execid: String(execid) });
      assert.match(String(again.json.error), /isn't running/);
    });

    it('ends EXECUTION_STOPPED with a reason when the flow container is killed, keeping the log shipped before', async () => {
      const r = await exec(admin, 'long', 'long');
      const execid = Number(r.json.execid);
      await waitFor(
        'the log line to be shipped',
        async () => (await t.tdb.db('execution_logs').where({ exec_id: execid, name: 'wait' }).first()) !== undefined,
        20_000,
      );
      const rest = await restCall(`${t.url}/api/v1/executions/${execid}`, 'GET', { cookie: `azkaban.browser.session.id=${admin}` });
      process.kill(Number((rest.json.runtime as Json).pid), 'SIGKILL');
      const f = await waitFinal(execid, 20_000);
      assert.equal(f.status, 'EXECUTION_STOPPED');
      const after = await restCall(`${t.url}/api/v1/executions/${execid}`, 'GET', { cookie: `azkaban.browser.session.id=${admin}` });
      assert.match(String(after.json.failureReason), /flow container exited on signal SIGKILL before reporting a final status/);
      assert.match(await jobLog(execid, 'wait'), /waiting/);
    });

    it('refuses a second run of a running flow with concurrentOption=skip', async () => {
      const first = await exec(admin, 'long', 'long');
      const second = await exec(admin, 'long', 'long');
      assert.equal(
        second.json.error,
        `Error submitting flow long. Flow long is already running with exec id ${String(first.json.execid)}. Skipping execution.`,
      );
      const ignore = await exec(admin, 'long', 'long', { concurrentOption: 'ignore' });
      assert.equal(typeof ignore.json.execid, 'number');
      for (const id of [first.json.execid, ignore.json.execid])
        await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'cancelFlow', execid: String(id) });
      await waitFinal(Number(first.json.execid));
      await waitFinal(Number(ignore.json.execid));
    });

    it('refuses admin-only parameters from a non-admin, from the request and from the flow config', async () => {
      const fromRequest = await exec(user, 'diamond', 'diamond', { 'flowOverride[flowPriority]': '10' });
      assert.deepEqual(fromRequest.json, { error: 'Only admins may set flowPriority.' });
      await upload('privileged', {
        'p.project': PROJECT_FILE,
        'privileged.flow': 'config:\n  param.override.disable.pod.cleanup: "true"\nnodes:\n  - name: a\n    type: noop\n',
      });
      await postForm(`${t.url}/manager`, {
        'session.id': admin,
        ajax: 'addPermission',
        project: 'privileged',
        name: 'carol',
        'permissions[execute]': 'true',
        'permissions[read]': 'true',
      });
      const fromDsl = await exec(user, 'privileged', 'privileged');
      assert.match(
        String(fromDsl.json.error),
        /^Only admins may set disable\.pod\.cleanup: the flow's config sets param\.override\.disable\.pod\.cleanup/,
      );
      const viaRest = await restCall(`${t.url}/api/v1/executions`, 'POST', {
        cookie: `azkaban.browser.session.id=${user}`,
        json: { project: 'diamond', flow: 'diamond', flowParams: { flowPriority: 10 } },
      });
      assert.equal(viaRest.status, 403);
      assert.equal(viaRest.json.message, 'Only admins may set flowPriority.');
      const count = await t.tdb.db('execution_flows').where({ submit_user: 'carol' }).count({ n: '*' });
      assert.equal(Number(count[0]!.n), 0, 'nothing was queued');
      const byAdmin = await exec(admin, 'privileged', 'privileged');
      assert.equal((await waitFinal(Number(byAdmin.json.execid))).status, 'SUCCEEDED');
    });

    it('answers getRunning, fetchFlowExecutions and fetchexecflowupdate in Azkaban shapes', async () => {
      const none = await getQuery(`${t.url}/executor`, { 'session.id': admin, ajax: 'getRunning', project: 'diamond', flow: 'diamond' });
      assert.deepEqual(none.json, {});
      const list = await getQuery(`${t.url}/manager`, {
        'session.id': admin,
        ajax: 'fetchFlowExecutions',
        project: 'diamond',
        flow: 'diamond',
        start: '0',
        length: '1',
      });
      assert.equal(list.json.total, 2);
      assert.equal((list.json.executions as Json[]).length, 1);
      assert.deepEqual(Object.keys((list.json.executions as Json[])[0]!).sort(), [
        'endTime',
        'execId',
        'executionSource',
        'flowId',
        'projectId',
        'scheduleId',
        'startTime',
        'status',
        'submitTime',
        'submitUser',
      ]);
      const execid = (list.json.executions as Json[])[0]!.execId;
      const upd = await getQuery(`${t.url}/executor`, {
        'session.id': admin,
        ajax: 'fetchexecflowupdate',
        execid: String(execid),
        lastUpdateTime: '-1',
      });
      assert.equal((upd.json.nodes as Json[]).length, 4);
      const later = await getQuery(`${t.url}/executor`, {
        'session.id': admin,
        ajax: 'fetchexecflowupdate',
        execid: String(execid),
        lastUpdateTime: String(Date.now()),
      });
      assert.deepEqual(later.json.nodes, []);
      const missing = await getQuery(`${t.url}/executor`, { 'session.id': admin, ajax: 'fetchexecflow', execid: '999999' });
      assert.deepEqual(missing.json, { error: 'Execution 999999 does not exist.' });
      const bad = await getQuery(`${t.url}/executor`, { 'session.id': admin, ajax: 'fetchexecflow', execid: 'abc' });
      assert.deepEqual(bad.json, { error: 'execid must be a positive whole number; got "abc".' });
    });

    it('keeps a flow running across a web-server restart and applies each event once', async () => {
      const r = await exec(admin, 'steps', 'steps');
      const execid = Number(r.json.execid);
      await waitFor(
        'the first job to run',
        async () => (await t.tdb.db('execution_jobs').where({ exec_id: execid, job_id: 'first', status: 'RUNNING' }).first()) !== undefined,
      );
      const port = t.server.port;
      await t.stopServerOnly();
      t = await startTestServer(dialect, { CAISSON_PORT: String(port) }, { tdb: t.tdb, dataDir: t.dataDir });
      admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      const f = await waitFinal(execid);
      assert.equal(f.status, 'SUCCEEDED');
      const events = (await t.tdb.db('execution_events').where({ exec_id: execid, source: 'container' }).orderBy('seq').select('seq')) as {
        seq: number;
      }[];
      assert.deepEqual(
        events.map((e) => Number(e.seq)),
        events.map((_e, i) => i + 1),
        'container events stored once each, contiguous',
      );
      assert.match(await jobLog(execid, 'first'), /tick 1\n(.*\n)*tick 6\n/);
    });

    it('stops an execution whose flow needs an unknown jobtype, naming the type', async () => {
      await upload('exotic', { 'p.project': PROJECT_FILE, 'exotic.flow': 'nodes:\n  - name: a\n    type: sparkly\n' });
      const r = await exec(admin, 'exotic', 'exotic');
      const f = await waitFinal(Number(r.json.execid));
      assert.equal(f.status, 'EXECUTION_STOPPED');
      const rest = await restCall(`${t.url}/api/v1/executions/${String(r.json.execid)}`, 'GET', {
        cookie: `azkaban.browser.session.id=${admin}`,
      });
      assert.match(String(rest.json.failureReason), /unknown jobtype "sparkly"/);
    });

    it('runs the README example project', async () => {
      await postForm(`${t.url}/manager?action=create`, { 'session.id': admin, name: 'hello', description: 'hello' });
      await postMultipart(
        `${t.url}/manager`,
        { 'session.id': admin, ajax: 'upload', project: 'hello' },
        { file: { name: 'h.zip', type: 'application/zip', content: zipOfExample('hello-flow') } },
      );
      const r = await exec(admin, 'hello', 'hello');
      const f = await waitFinal(Number(r.json.execid));
      assert.equal(f.status, 'SUCCEEDED');
      assert.match(await jobLog(Number(r.json.execid), 'greet'), /Hello, world!/);
    });
  });
}

describe('reading the log of a running execution from the container (live tail)', function () {
  this.timeout(60_000);
  let t: TestServer;
  after(async () => {
    await t?.stop();
  });

  it('answers bytes the container has not shipped yet', async () => {
    // Nothing is shipped for a minute: every byte read comes from the container's control API.
    t = await startTestServer('sqlite', { CAISSON_LOG_SHIP_INTERVAL: '60s', CAISSON_LOG_SHIP_BYTES: '10MiB' });
    const admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
    await postForm(`${t.url}/manager?action=create`, { 'session.id': admin, name: 'long', description: 'long' });
    await postMultipart(
      `${t.url}/manager`,
      { 'session.id': admin, ajax: 'upload', project: 'long' },
      { file: { name: 'p.zip', type: 'application/zip', content: zipOfFiles({ 'p.project': PROJECT_FILE, 'long.flow': LONG }) } },
    );
    const r = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'executeFlow', project: 'long', flow: 'long' });
    const execid = String(r.json.execid);
    const slice = await waitFor('the live log to show the job output', async () => {
      const l = await getQuery(`${t.url}/executor`, {
        'session.id': admin,
        ajax: 'fetchExecJobLogs',
        execid,
        jobId: 'wait',
        offset: '0',
        length: '1000',
      });
      return String(l.json.data).includes('waiting') ? l.json : undefined;
    });
    assert.equal(slice.offset, 0);
    const stored = await t.tdb
      .db('execution_logs')
      .where({ exec_id: Number(execid), name: 'wait' })
      .count({ n: '*' });
    assert.equal(Number(stored[0]!.n), 0, 'nothing was stored yet: the bytes came from the container');
    await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'cancelFlow', execid });
    await waitFor('the cancelled execution to end', async () => {
      const f = await getQuery(`${t.url}/executor`, { 'session.id': admin, ajax: 'fetchexecflow', execid });
      return f.json.status === 'KILLED' ? true : undefined;
    });
    const after = await getQuery(`${t.url}/executor`, {
      'session.id': admin,
      ajax: 'fetchExecJobLogs',
      execid,
      jobId: 'wait',
      offset: '0',
      length: '1000',
    });
    assert.match(String(after.json.data), /waiting/, 'everything was flushed to the database before the end');
  });
});
