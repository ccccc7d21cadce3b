/**
 * The flow engine end to end in solo mode: real web server, real flow-container processes.
 * Conditions on runtime parameters fed by a submit override, a retried job, a Flow 1.0 project;
 * then the conformance suite (test/flow-container/conformance/cases.ts) through uploads and
 * executeFlow: every sixth case by default, all of them with CAISSON_CONFORMANCE=all.
 */
import assert from 'node:assert/strict';
import { testDialects } from '../../../common/db/test-database.js';
import {
  ADMIN_PASSWORD,
  ajaxLogin,
  getQuery,
  postForm,
  postMultipart,
  startTestServer,
  type TestServer,
} from '../../support/test-server.js';
import { zipOfFiles } from '../../support/projects.js';
import { waitFor } from '../../support/wait.js';
import { CONFORMANCE_CASES } from '../../flow-container/conformance/cases.js';
import { assertOutcome, projectFilesOf, type CaseOutcome, type JobOutcome } from '../../flow-container/conformance/outcome.js';

const PROJECT_FILE = 'azkaban-flow-version: 2.0\n';

const BRANCHING = `nodes:
  - name: decide
    type: command
    config:
      command: >-
        bash -c 'echo "{\\"mode\\": \\"\${mode}\\", \\"size\\": 7}" > "$JOB_OUTPUT_PROP_FILE"'
  - name: fast
    type: command
    dependsOn: [decide]
    condition: \${decide:mode} == "fast" && \${decide:size} > 5
    config:
      command: echo fast \${size}
  - name: slow
    type: command
    dependsOn: [decide]
    condition: \${decide:mode} == "slow"
    config:
      command: echo slow
  - name: join
    type: noop
    dependsOn: [fast, slow]
    condition: one_success
config:
  mode: slow
`;

const RETRYING = `nodes:
  - name: flaky
    type: command
    config:
      command: bash -c 'echo attempt \${azkaban.job.attempt}; test \${azkaban.job.attempt} -ge 1'
      retries: 2
      retry.backoff: 100
`;

type Json = Record<string, unknown>;

const SOLO_CASES = process.env.CAISSON_CONFORMANCE === 'all' ? CONFORMANCE_CASES : CONFORMANCE_CASES.filter((_, i) => i % 6 === 0);

/** fetchexecflow's nodes, flattened by nested id. */
function flattenNodes(nodes: Json[], into = new Map<string, JobOutcome>()): Map<string, JobOutcome> {
  for (const n of nodes) {
    const job: JobOutcome = { status: String(n.status), attempt: Number(n.attempt) };
    if (Number(n.startTime) > 0) job.startTime = Number(n.startTime);
    if (Number(n.endTime) > 0) job.endTime = Number(n.endTime);
    into.set(String(n.nestedId), job);
    if (Array.isArray(n.nodes)) flattenNodes(n.nodes as Json[], into);
  }
  return into;
}

for (const dialect of testDialects()) {
  describe(`the flow engine end to end in solo mode [${dialect}]`, function () {
    this.timeout(60_000);
    let t: TestServer;
    let admin: string;

    const exec = async (project: string, flow: string, extra: Record<string, string> = {}): Promise<number> => {
      const r = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'executeFlow', project, flow, ...extra });
      assert.equal(r.json.error, undefined, r.text);
      return Number(r.json.execid);
    };
    const waitFinal = (execid: number): Promise<Json> =>
      waitFor(
        `execution ${execid} to finish`,
        async () => {
          const f = (await getQuery(`${t.url}/executor`, { 'session.id': admin, ajax: 'fetchexecflow', execid: String(execid) })).json;
          return ['SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED'].includes(String(f.status)) ? f : undefined;
        },
        30_000,
        100,
      );
    const upload = async (project: string, files: Record<string, string>): Promise<void> => {
      await postForm(`${t.url}/manager?action=create`, { 'session.id': admin, name: project, description: project });
      const r = await postMultipart(
        `${t.url}/manager`,
        { 'session.id': admin, ajax: 'upload', project },
        { file: { name: 'p.zip', type: 'application/zip', content: zipOfFiles(files) } },
      );
      assert.equal(r.json.error, undefined, r.text);
    };
    const jobLog = async (execid: number, jobId: string, attempt = 0): Promise<string> => {
      const r = await getQuery(`${t.url}/executor`, {
        'session.id': admin,
        ajax: 'fetchExecJobLogs',
        execid: String(execid),
        jobId,
        attempt: String(attempt),
        offset: '0',
        length: '100000',
      });
      assert.equal(r.json.error, undefined, r.text);
      return String(r.json.data);
    };
    const statuses = (f: Json): Record<string, unknown> => Object.fromEntries((f.nodes as Json[]).map((n) => [n.id, n.status]));

    before(async () => {
      t = await startTestServer(dialect);
      admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      await upload('branching', { 'p.project': PROJECT_FILE, 'branching.flow': BRANCHING });
      await upload('retrying', { 'p.project': PROJECT_FILE, 'retrying.flow': RETRYING });
      await upload('legacy', {
        'system.properties': 'greeting=hello\n',
        'jobs/jobs.properties': 'type=command\n',
        'jobs/extract.job': 'command=echo ${greeting} from extract\n',
        'jobs/load.job': 'dependencies=extract\ncommand=echo load ${azkaban.flow.flowid}\n',
        'report.job': 'type=noop\ndependencies=load\n',
      });
    });
    after(async () => {
      await t?.stop();
    });

    it('runs the branch chosen by a runtime parameter that a submit override fed, and cancels the other', async () => {
      const execid = await exec('branching', 'branching', { 'flowOverride[mode]': 'fast' });
      const f = await waitFinal(execid);
      assert.equal(f.status, 'SUCCEEDED');
      assert.deepEqual(statuses(f), { decide: 'SUCCEEDED', fast: 'SUCCEEDED', slow: 'CANCELLED', join: 'SUCCEEDED' });
      assert.equal(await jobLog(execid, 'fast'), 'fast 7\n', 'the parent’s output is a property of its child');
      const other = await waitFinal(await exec('branching', 'branching'));
      assert.deepEqual(statuses(other), { decide: 'SUCCEEDED', fast: 'CANCELLED', slow: 'SUCCEEDED', join: 'SUCCEEDED' });
    });

    it('retries a failing job: fetchexecflow shows the newest attempt and each attempt keeps its log', async () => {
      const execid = await exec('retrying', 'retrying');
      const f = await waitFinal(execid);
      assert.equal(f.status, 'SUCCEEDED');
      const flaky = (f.nodes as Json[])[0]!;
      assert.equal(flaky.status, 'SUCCEEDED');
      assert.equal(flaky.attempt, 1);
      assert.match(await jobLog(execid, 'flaky', 0), /^attempt 0\n/);
      assert.match(await jobLog(execid, 'flaky', 1), /^attempt 1\n/);
    });

    it('uploads and runs a Flow 1.0 project with .properties inherited by directory', async () => {
      const flows = await getQuery(`${t.url}/manager`, { 'session.id': admin, ajax: 'fetchprojectflows', project: 'legacy' });
      assert.deepEqual(
        (flows.json.flows as Json[]).map((x) => x.flowId),
        ['report'],
      );
      const execid = await exec('legacy', 'report');
      const f = await waitFinal(execid);
      assert.equal(f.status, 'SUCCEEDED');
      assert.deepEqual(statuses(f), { extract: 'SUCCEEDED', load: 'SUCCEEDED', report: 'SUCCEEDED' });
      assert.equal(await jobLog(execid, 'extract'), 'hello from extract\n');
      assert.equal(await jobLog(execid, 'load'), 'load report\n');
    });

    describe('the conformance suite in solo mode', () => {
      const outcomes = new Map<string, CaseOutcome | Error>();

      before(async function () {
        this.timeout(300_000);
        const runCase = async (index: number): Promise<CaseOutcome> => {
          const c = SOLO_CASES[index]!;
          const project = `conformance-${index}`;
          await upload(project, projectFilesOf(c));
          const extra: Record<string, string> = {};
          for (const [k, v] of Object.entries(c.submit?.params ?? {})) extra[`flowOverride[${k}]`] = v;
          if (c.submit?.failureAction !== undefined) extra.failureAction = c.submit.failureAction;
          if (c.submit?.disabled !== undefined) extra.disabled = JSON.stringify(c.submit.disabled);
          const execid = await exec(project, c.flow, extra);
          const f = await waitFinal(execid);
          const jobs = flattenNodes(f.nodes as Json[]);
          for (const id of Object.keys(c.expect.logs ?? {})) {
            const job = jobs.get(id);
            if (job !== undefined) job.log = await jobLog(execid, id, job.attempt);
          }
          return { flow: String(f.status), jobs };
        };
        let next = 0;
        const worker = async (): Promise<void> => {
          for (let i = next++; i < SOLO_CASES.length; i = next++) {
            try {
              outcomes.set(SOLO_CASES[i]!.name, await runCase(i));
            } catch (e) {
              outcomes.set(SOLO_CASES[i]!.name, e instanceof Error ? e : new Error(String(e)));
            }
          }
        };
        await Promise.all(Array.from({ length: 4 }, worker));
      });

      for (const c of SOLO_CASES) {
        it(c.name, () => {
          const outcome = outcomes.get(c.name);
          if (outcome instanceof Error) throw outcome;
          if (outcome === undefined) throw new Error('the case did not run');
          assertOutcome(c, outcome);
        });
      }
    });
  });
}
