import assert from 'node:assert/strict';
import { testDialects } from '../../../common/db/test-database.js';
import { insertExecution } from '../../../web-server/src/executions/executions-store.js';
import { zipOfFiles } from '../../support/projects.js';
import {
  ADMIN_PASSWORD,
  ajaxLogin,
  getQuery,
  postForm,
  uploadProject,
  startTestServer,
  type TestServer,
} from '../../support/test-server.js';
import { waitFor } from '../../support/wait.js';
import { OPTIONS } from '../queue/queue-fixture.js';

const FLOW = `nodes:
  - name: hello
    type: command
    config:
      command: echo hello
`;

/** One sample's value from the exposition text, or undefined when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '')
      .split(/,(?=[a-zA-Z_]\w*=")/)
      .filter((s) => s !== '')
      .sort();
    if (have.length === wanted.length && have.every((h, i) => h === wanted[i])) return Number(m[3]);
  }
  return undefined;
}

for (const dialect of testDialects()) {
  describe(`the /metrics endpoint [${dialect}]`, function () {
    this.timeout(120_000);
    let t: TestServer;
    let other: TestServer;
    let admin: string;
    let execid: number;

    const scrape = async (base = t.url): Promise<string> => {
      const r = await fetch(`${base}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return r.text();
    };

    before(async () => {
      t = await startTestServer(dialect);
      other = await startTestServer(dialect);
      admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      await uploadProject(t.url, admin, 'hello', zipOfFiles({ 'p.project': 'azkaban-flow-version: 2.0\n', 'hello.flow': FLOW }));
      const r = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'executeFlow', project: 'hello', flow: 'hello' });
      execid = Number(r.json.execid);
      await waitFor(
        `execution ${execid} to succeed`,
        async () => {
          const f = await getQuery(`${t.url}/executor`, { 'session.id': admin, ajax: 'fetchexecflow', execid: String(execid) });
          return f.json.status === 'SUCCEEDED' ? f : undefined;
        },
        60_000,
        100,
      );
    });
    after(async () => {
      await t?.stop();
      await other?.stop();
    });

    it('records each stage of a finished execution once', async () => {
      const text = await scrape();
      for (const stage of ['ready_to_dispatching', 'dispatching_to_preparing', 'preparing_to_running', 'running_to_final']) {
        assert.equal(sample(text, 'caisson_execution_stage_duration_seconds_count', { stage }), 1, stage);
        assert.ok(sample(text, 'caisson_execution_stage_duration_seconds_sum', { stage })! >= 0, stage);
        assert.equal(sample(text, 'caisson_execution_stage_duration_seconds_bucket', { stage, le: '+Inf' }), 1, stage);
      }
    });

    it('counts the launch, the applied events and the shipped log', async () => {
      const text = await scrape();
      assert.equal(sample(text, 'caisson_launches_total', { result: 'launched' }), 1);
      assert.equal(sample(text, 'caisson_launch_failures_total', { reason: 'permanent' }), undefined);
      assert.equal(sample(text, 'caisson_launch_limiter_waiting'), 0);
      assert.ok(sample(text, 'caisson_container_events_applied_total')! >= 4, 'flow started, job started, job finished, flow finished');
      assert.ok(sample(text, 'caisson_container_event_batches_total')! >= 1);
      assert.ok(sample(text, 'caisson_log_ingest_requests_total')! >= 1);
      assert.ok(sample(text, 'caisson_log_ingest_bytes_total')! >= 'hello\n'.length);
    });

    it('times HTTP requests by matched route, not by raw URL', async () => {
      const text = await scrape();
      const executeFlow = sample(text, 'caisson_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/executor',
        status_code: '200',
      });
      assert.ok(executeFlow! >= 1);
      const events = sample(text, 'caisson_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/container-api/v1/executions/:execId/events',
        status_code: '200',
      });
      assert.ok(events! >= 1);
      assert.doesNotMatch(text, new RegExp(`route="[^"]*/${execid}/`));
    });

    it('reports queue depth and the oldest READY age per priority at scrape time', async () => {
      await t.server.queue.stop();
      const now = Date.now();
      const project = (await t.tdb.db('projects').where({ name: 'hello' }).first('id')) as { id: number };
      const projectId = Number(project.id);
      const ready = (priority: number, submitTime: number) =>
        insertExecution(t.tdb.db, {
          projectId,
          projectVersion: 1,
          flowId: 'hello',
          priority,
          submitUser: 'azkaban',
          submitTime,
          executionSource: 'adhoc',
          scheduleId: null,
          options: OPTIONS,
          flowParams: {},
        });
      await ready(5, now - 60_000);
      await ready(5, now - 1_000);
      await ready(10, now - 30_000);
      const text = await scrape();
      assert.equal(sample(text, 'caisson_queue_depth', { priority: '5' }), 2);
      assert.equal(sample(text, 'caisson_queue_depth', { priority: '10' }), 1);
      const age5 = sample(text, 'caisson_queue_oldest_ready_age_seconds', { priority: '5' })!;
      const age10 = sample(text, 'caisson_queue_oldest_ready_age_seconds', { priority: '10' })!;
      assert.ok(age5 >= 60 && age5 < 60 + 60, String(age5));
      assert.ok(age10 >= 30 && age10 < 30 + 60, String(age10));
    });

    for (const [what, path] of [
      ['fetchexecflow', () => `/executor?ajax=fetchexecflow&execid=${execid}&session.id=${admin}`],
      ['the REST status', () => `/api/v1/executions/${execid}`],
    ] as const) {
      it(`answers a current conditional ${what} request with 304 without rebuilding the status`, async () => {
        const headers = { cookie: `azkaban.browser.session.id=${admin}` };
        const first = await fetch(`${t.url}${path()}`, { headers });
        assert.equal(first.status, 200);
        const etag = first.headers.get('etag')!;
        assert.match(etag, new RegExp(`^W/"[a-z]+-${execid}-\\d+-SUCCEEDED"$`));
        assert.equal(first.headers.get('cache-control'), 'no-cache');
        await first.text();

        const service = t.server.executions;
        const build = service.detailOf.bind(service);
        let builds = 0;
        service.detailOf = (exec) => {
          builds++;
          return build(exec);
        };
        try {
          const again = await fetch(`${t.url}${path()}`, { headers: { ...headers, 'if-none-match': etag } });
          assert.equal(again.status, 304);
          assert.equal(again.headers.get('etag'), etag);
          assert.equal(await again.text(), '');
          assert.equal(builds, 0);

          await t.tdb.db('execution_flows').where({ exec_id: execid }).increment('update_time', 1);
          const changed = await fetch(`${t.url}${path()}`, { headers: { ...headers, 'if-none-match': etag } });
          assert.equal(changed.status, 200);
          assert.notEqual(changed.headers.get('etag'), etag);
          assert.equal(JSON.parse(await changed.text()).status, 'SUCCEEDED');
          assert.equal(builds, 1);
        } finally {
          service.detailOf = build;
        }
      });
    }

    it('refuses a conditional status request without a session before comparing validators', async () => {
      const r = await fetch(`${t.url}/api/v1/executions/${execid}`, { headers: { 'if-none-match': '*' } });
      assert.equal(r.status, 401);
    });

    it('keeps each server instance in its own registry', async () => {
      const text = await scrape(other.url);
      assert.equal(sample(text, 'caisson_launches_total', { result: 'launched' }), undefined);
      assert.equal(sample(text, 'caisson_execution_stage_duration_seconds_count', { stage: 'ready_to_dispatching' }), undefined);
      assert.equal(
        sample(text, 'caisson_http_request_duration_seconds_count', { method: 'POST', route: '/executor', status_code: '200' }),
        undefined,
      );
      assert.equal(sample(text, 'caisson_queue_depth', { priority: '5' }), undefined);
      assert.notEqual(sample(text, 'caisson_process_resident_memory_bytes'), undefined);
    });

    it('answers only the configured bearer token when CAISSON_METRICS_TOKEN is set', async () => {
      const guarded = await startTestServer(dialect, { CAISSON_METRICS_TOKEN: 'scrape-secret-1' });
      try {
        const refused: Record<string, string>[] = [
          {},
          { authorization: 'Bearer scrape-secret-2' },
          { authorization: 'Basic c2NyYXBlOnNlY3JldA==' },
        ];
        for (const headers of refused) {
          const r = await fetch(`${guarded.url}/metrics`, { headers });
          assert.equal(r.status, 401, JSON.stringify(headers));
          assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer /);
          assert.match(((await r.json()) as { message: string }).message, /Authorization: Bearer <token>.*CAISSON_METRICS_TOKEN/);
        }
        const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer scrape-secret-1' } });
        assert.equal(ok.status, 200);
        assert.notEqual(sample(await ok.text(), 'caisson_process_resident_memory_bytes'), undefined);
        // The token guards /metrics only: health probes stay open.
        assert.equal((await fetch(`${guarded.url}/healthz`)).status, 200);
      } finally {
        await guarded.stop();
      }
    });
  });
}
