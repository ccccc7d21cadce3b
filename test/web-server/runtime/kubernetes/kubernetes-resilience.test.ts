/**
 * The Kubernetes runtime when things go wrong around it: API throttling and refusals, a web server
 * killed in the middle of a launch, two web servers sharing the pod watch through the lease, a
 * watch that expires or breaks, and missing RBAC permissions. Killed servers are real processes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, testDialects, type TestDatabase } from '../../../../common/db/test-database.js';
import { isCaissonError } from '../../../../common/errors.js';
import { migrateToLatest } from '../../../../migrations/index.js';
import { findExecution } from '../../../../web-server/src/executions/executions-store.js';
import {
  NAMESPACE,
  kubeRuntimeOf,
  registerClusterImages,
  submitFlow,
  uploadProject,
  waitForFinal,
  spawnKubeServer,
  startFakeCluster,
  startKubeServer,
  type FakeCluster,
} from '../../../support/kube-harness.js';
import { zipOfFiles } from '../../../support/projects.js';
import { ADMIN_PASSWORD, ajaxLogin, type TestServer } from '../../../support/test-server.js';
import { waitFor } from '../../../support/wait.js';

const QUICK = {
  'quick.flow': 'nodes:\n  - name: hello\n    type: command\n    config:\n      command: echo hello\n',
  'quick.project': 'azkaban-flow-version: 2.0\n',
};
const SLOW = {
  'slow.flow': 'nodes:\n  - name: wait\n    type: command\n    config:\n      command: sleep 60\n',
  'slow.project': 'azkaban-flow-version: 2.0\n',
};

async function setUpProjects(url: string): Promise<string> {
  const admin = await ajaxLogin(url, 'azkaban', ADMIN_PASSWORD);
  for (const [name, files] of [
    ['quick', QUICK],
    ['slow', SLOW],
  ] as const) {
    await uploadProject(url, admin, name, zipOfFiles(files));
  }
  return admin;
}

const submit = (url: string, session: string, project: string): Promise<number> => submitFlow(url, session, project, project);

const waitFinal = waitForFinal;

const dialects = testDialects();

for (const dialect of dialects) {
  describe(`Kubernetes runtime: API throttling and refusals [${dialect}]`, function () {
    this.timeout(90_000);
    let cluster: FakeCluster;
    let t: TestServer;
    let admin: string;

    before(async () => {
      cluster = await startFakeCluster();
      t = await startKubeServer(dialect, cluster);
      admin = await setUpProjects(t.url);
    });
    after(async () => {
      await t?.stop();
      await cluster?.stop();
    });

    it('429 (with Retry-After) then success on pod create: one pod, same execution, SUCCEEDED', async () => {
      cluster.api.clearLog();
      cluster.api.inject({ verb: 'create', resource: 'pods', status: 429, retryAfterSeconds: 1, times: 1 });
      const execId = await submit(t.url, admin, 'quick');
      const e = await waitFinal(t.tdb, execId);
      assert.equal(e.status, 'SUCCEEDED', e.failureReason ?? '');
      const creates = cluster.api.requestLog.filter((r) => r.verb === 'create' && r.resource === 'pods' && r.name !== undefined);
      const podCreates = cluster.api.requestLog.filter((r) => r.verb === 'create' && r.resource === 'pods');
      assert.deepEqual(
        podCreates.map((r) => r.status),
        [429, 201],
        JSON.stringify(creates),
      );
      const gap = podCreates[1]!.at - podCreates[0]!.at;
      assert.ok(gap >= 950, `the retry waited for Retry-After (waited ${gap} ms)`);
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      assert.match(metrics, /caisson_kubernetes_api_calls_total\{verb="create",resource="pods",code="429"\} 1/);
    });

    it('a 422 on pod create ends the execution EXECUTION_STOPPED with the API message, and removes what was created', async () => {
      cluster.api.inject({
        verb: 'create',
        resource: 'pods',
        status: 422,
        message: 'Pod "fc-ci-x" is invalid: spec.priorityClassName: Invalid value: "gold": no PriorityClass with name gold was found',
        times: 1,
      });
      const execId = await submit(t.url, admin, 'quick');
      const e = await waitFinal(t.tdb, execId);
      assert.equal(e.status, 'EXECUTION_STOPPED');
      assert.match(e.failureReason ?? '', /refused the Pod fc-ci-\d+: .*no PriorityClass with name gold/);
      await waitFor(
        'the Secret of the refused launch to be removed',
        async () =>
          cluster.api.store.list('secrets', NAMESPACE, `caisson.io/execution-id=${execId}`).items.length === 0 ? true : undefined,
        10_000,
      );
    });

    it('relists after a 410 and resumes after other watch errors, still mapping pod failures', async () => {
      const runtime = kubeRuntimeOf(t.server);
      const before = runtime.watchLists;
      // The resumed watch is answered with a 410 Expired ERROR event, as after an etcd compaction.
      cluster.api.inject({ verb: 'watch', resource: 'pods', status: 410, asWatchEvent: true, times: 1 });
      cluster.api.endAllWatches();
      await waitFor('a relist after 410 Expired', async () => (runtime.watchLists > before ? true : undefined), 15_000);
      cluster.api.inject({ verb: 'watch', resource: 'pods', status: 500, times: 2 });
      cluster.api.endAllWatches();
      const execId = await submit(t.url, admin, 'slow');
      await waitFor('RUNNING', async () => ((await findExecution(t.tdb.db, execId))?.status === 'RUNNING' ? true : undefined), 30_000);
      await cluster.kubelet.oomKill(NAMESPACE, `fc-ci-${execId}`);
      const e = await waitFinal(t.tdb, execId);
      assert.equal(e.status, 'EXECUTION_STOPPED');
      assert.match(e.failureReason ?? '', /OOMKilled/);
      // Watch requests count in the API-call metric by the status they were answered with.
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      assert.match(metrics, /caisson_kubernetes_api_calls_total\{verb="watch",resource="pods",code="500"\} 2\n/);
      assert.match(metrics, /caisson_kubernetes_api_calls_total\{verb="watch",resource="pods",code="200"\} [1-9]/);
    });
  });
}

describe('Kubernetes runtime: web servers killed and replaced', function () {
  this.timeout(150_000);
  const dialect = dialects.at(-1)!;
  let cluster: FakeCluster;
  let tdb: TestDatabase;
  let dataDir: string;
  let b: TestServer | undefined;

  beforeEach(async () => {
    cluster = await startFakeCluster();
    tdb = await createTestDatabase(dialect);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-k8s-'));
    await migrateToLatest(tdb.db);
    await registerClusterImages(tdb);
  });
  afterEach(async () => {
    if (b)
      await b.stop(); // disposes the database and the data directory
    else {
      await tdb.dispose();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    b = undefined;
    await cluster.stop();
  });

  it(`a server killed after creating the pod: its successor adopts the pod instead of creating another [${dialect}]`, async () => {
    const a = await spawnKubeServer(cluster, tdb, dataDir, { CAISSON_REPLICA_ID: 'replica-a', CAISSON_DISPATCH_LEASE: '2s' });
    const admin = await setUpProjects(a.url);
    // The Service cannot be created: the launch keeps retrying after the pod exists.
    cluster.api.inject({ verb: 'create', resource: 'services', dropConnection: true, times: Infinity });
    const execId = await submit(a.url, admin, 'quick');
    const pod = await waitFor('the pod', async () => cluster.api.store.get('pods', NAMESPACE, `fc-ci-${execId}`), 30_000, 50);
    await a.kill();
    cluster.api.clearFaults();
    cluster.api.clearLog();
    // The successor answers at the same address (in a cluster: the web server's Service), so the
    // flow container started for the dead server reaches it.
    const port = new URL(a.url).port;
    b = await startKubeServer(
      dialect,
      cluster,
      { CAISSON_REPLICA_ID: 'replica-b', CAISSON_DISPATCH_LEASE: '2s', CAISSON_PORT: port },
      { tdb, dataDir },
    );
    const e = await waitFinal(tdb, execId, 60_000);
    assert.equal(e.status, 'SUCCEEDED', e.failureReason ?? '');
    const podCreates = cluster.api.requestLog.filter((r) => r.verb === 'create' && r.resource === 'pods').map((r) => r.status);
    assert.deepEqual(podCreates, [409], 'the successor tried once, found its own pod and adopted it');
    const [event] = (await tdb.db('execution_flows').where({ exec_id: execId }).select('runtime_info')) as { runtime_info: string }[];
    assert.equal((JSON.parse(event!.runtime_info) as { podUid: string }).podUid, pod.metadata.uid);
    assert.deepEqual(cluster.invalidObjects(), []);
  });

  it(`two web servers: one watch leader; the other takes over when the leader is killed [${dialect}]`, async () => {
    const a = await spawnKubeServer(cluster, tdb, dataDir, { CAISSON_REPLICA_ID: 'replica-a' });
    await waitFor('replica-a to hold the watch lease', async () => {
      const row = (await tdb.db('leases').where({ name: 'k8s-watch:ci' }).first('holder')) as { holder: string } | undefined;
      return row?.holder === 'replica-a' ? true : undefined;
    });
    b = await startKubeServer(dialect, cluster, { CAISSON_REPLICA_ID: 'replica-b' }, { tdb, dataDir });
    const runtimeB = kubeRuntimeOf(b.server);
    await new Promise((r) => setTimeout(r, 2000)); // more than a lease period: B keeps following
    assert.equal(runtimeB.isLeader, false);
    const admin = await setUpProjects(b.url);
    const before = await submit(b.url, admin, 'quick');
    assert.equal((await waitFinal(tdb, before)).status, 'SUCCEEDED');

    await a.kill();
    await waitFor('replica-b to take the watch over', async () => (runtimeB.isLeader ? true : undefined), 15_000, 50);
    const row = (await tdb.db('leases').where({ name: 'k8s-watch:ci' }).first('holder')) as { holder: string };
    assert.equal(row.holder, 'replica-b');
    // The new leader maps pod failures.
    const execId = await submit(b.url, admin, 'slow');
    await waitFor('RUNNING', async () => ((await findExecution(tdb.db, execId))?.status === 'RUNNING' ? true : undefined), 30_000);
    await cluster.kubelet.oomKill(NAMESPACE, `fc-ci-${execId}`);
    const e = await waitFinal(tdb, execId);
    assert.equal(e.status, 'EXECUTION_STOPPED');
    assert.match(e.failureReason ?? '', /OOMKilled/);
  });

  it(`start-up names the permissions RBAC does not grant [${dialect}]`, async () => {
    cluster.api.denyPermissions([
      { group: '', resource: 'pods', verb: 'watch' },
      { group: 'getambassador.io', resource: 'mappings', verb: 'create' },
    ]);
    await assert.rejects(
      startKubeServer(dialect, cluster, {}, { tdb, dataDir }),
      (e: unknown) =>
        isCaissonError(e) &&
        /cannot create mappings\.getambassador\.io, watch pods in namespace flows/.test(e.message) &&
        e.code === 'INVALID_CONFIG',
    );
  });
});
