/**
 * Each pod failure the watch maps, end to end: the fake kubelet produces the failure the way a
 * node would, the watch leader sees it through the real client, and the execution ends
 * EXECUTION_STOPPED (or KILLED) with its specific reason within the configured grace. A final
 * status is never overwritten afterwards.
 */
import assert from 'node:assert/strict';
import { testDialects } from '../../../../common/db/test-database.js';
import { findExecution, type ExecutionRow } from '../../../../web-server/src/executions/executions-store.js';
import {
  BASE_IMAGE,
  NAMESPACE,
  startFakeCluster,
  startKubeServer,
  submitFlow,
  uploadProject,
  waitForFinal,
  type FakeCluster,
} from '../../../support/kube-harness.js';
import { zipOfExample, zipOfFiles } from '../../../support/projects.js';
import { ADMIN_PASSWORD, ajaxLogin, postForm, restCall, type TestServer } from '../../../support/test-server.js';
import { waitFor } from '../../../support/wait.js';

const FINAL = ['SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED'];
const SLOW_FLOW = `
nodes:
  - name: wait
    type: command
    config:
      command: sleep 60
`;
const QUICK_FLOW = `
nodes:
  - name: hello
    type: command
    config:
      command: echo hello
`;

// One dialect is enough here: the mapping is the runtime's, the database only records it.
const dialect = testDialects().at(-1)!;

describe(`Kubernetes runtime: pod failures end executions with a specific reason [${dialect}]`, function () {
  this.timeout(90_000);
  let cluster: FakeCluster;
  let t: TestServer;
  let admin: string;

  const submit = (project: string, flow: string, extra: Record<string, string> = {}) => submitFlow(t.url, admin, project, flow, extra);
  const exec = async (execId: number): Promise<ExecutionRow> => (await findExecution(t.tdb.db, execId))!;
  const waitFinal = (execId: number, ms = 30_000) => waitForFinal(t.tdb, execId, ms);
  /** The execution ends with `status` and a reason matching `reason` (the runtime may refine a container's own report). */
  const waitStopped = (execId: number, status: string, reason: RegExp, ms = 30_000) =>
    waitFor(
      `execution ${execId} to end ${status} with a reason matching ${String(reason)}`,
      async () => {
        const e = await exec(execId);
        if (FINAL.includes(e.status) && e.status !== status) throw new Error(`ended ${e.status}: ${e.failureReason ?? ''}`);
        if (e.status === status && reason.test(e.failureReason ?? '')) return e;
        throw new Error(`still ${e.status}${e.failureReason ? `: ${e.failureReason}` : ''}`); // shown if the wait times out
      },
      ms,
      50,
    );
  const waitStatus = (execId: number, status: string) =>
    waitFor(`execution ${execId} to be ${status}`, async () => ((await exec(execId)).status === status ? true : undefined), 30_000, 50);
  const podOf = (execId: number) => `fc-ci-${execId}`;
  const podExists = (execId: number) => cluster.api.store.get('pods', NAMESPACE, podOf(execId)) !== undefined;
  const upload = (project: string, zip: Buffer) => uploadProject(t.url, admin, project, zip);
  const registerVersion = async (imageType: string, imagePath: string, imageVersion: string) => {
    const r = await restCall(`${t.url}/imageVersions`, 'POST', {
      cookie: `azkaban.browser.session.id=${admin}`,
      json: { imageType, imagePath, imageVersion },
    });
    assert.equal(r.status, 201, r.text);
  };
  /** Status events of the execution, in order (a final status is recorded once and never replaced). */
  const finalEvents = async (execId: number) =>
    (await t.tdb
      .db('execution_events')
      .where({ exec_id: execId })
      .whereIn('type', ['EXECUTION_STOPPED', 'FLOW_FINISHED'])
      .select('type')) as {
      type: string;
    }[];

  before(async () => {
    cluster = await startFakeCluster();
    t = await startKubeServer(dialect, cluster, {
      CAISSON_K8S_IMAGE_PULL_GRACE: '1500ms',
      CAISSON_K8S_PENDING_TIMEOUT: '1500ms',
      CAISSON_K8S_FINAL_REPORT_GRACE: '1s',
      CAISSON_K8S_POD_RETENTION: '3s',
    });
    admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
    await upload('slow', zipOfFiles({ 'slow.flow': SLOW_FLOW, 'slow.project': 'azkaban-flow-version: 2.0\n' }));
    await upload('quick', zipOfFiles({ 'quick.flow': QUICK_FLOW, 'quick.project': 'azkaban-flow-version: 2.0\n' }));
    await upload('scripts', zipOfExample('plugin-jobtypes'));
  });
  after(async () => {
    await t?.stop();
    await cluster?.stop();
  });
  afterEach(() => {
    cluster.kubelet.unschedulable = false;
    cluster.kubelet.failInit('jobtype-init-bash', undefined);
    cluster.kubelet.failImagePull(`${BASE_IMAGE.path}:${BASE_IMAGE.version}`, false);
  });

  it('an image that cannot be pulled ends the execution after the pull grace, naming the image', async () => {
    const image = `${BASE_IMAGE.path}:${BASE_IMAGE.version}`;
    cluster.kubelet.failImagePull(image);
    const started = Date.now();
    const execId = await submit('quick', 'quick');
    const e = await waitFinal(execId);
    assert.equal(e.status, 'EXECUTION_STOPPED');
    assert.match(e.failureReason ?? '', /could not pull image "registry\.test\/caisson\/flow-container:1\.0\.0"/);
    assert.ok(Date.now() - started >= 1500, 'not before the grace');
  });

  it('an invalid image name ends the execution at once, naming the image', async () => {
    await registerVersion('bash', 'registry.test/Caisson/Bash', '9.0.0');
    const execId = await submit('scripts', 'scripts', { 'flowOverride[image.bash.version]': '9.0.0' });
    const e = await waitFinal(execId);
    assert.equal(e.status, 'EXECUTION_STOPPED');
    // Mapped at once as an invalid name, not as a pull failure after the grace.
    assert.match(e.failureReason ?? '', /^invalid image name "registry\.test\/Caisson\/Bash:9\.0\.0"/);
  });

  it('a missing Secret key ends the execution at once (CreateContainerConfigError names the key)', async () => {
    const unsubscribe = cluster.api.store.subscribe((ev) => {
      // The token Secret loses its key before the pod starts: the kubelet cannot build the env.
      if (ev.type === 'ADDED' && ev.resource === 'secrets' && ev.object.metadata.name.endsWith('-token')) {
        cluster.api.store.update('secrets', NAMESPACE, ev.object.metadata.name, (o) => {
          o.data = { other: Buffer.from('x').toString('base64') };
        });
      }
    });
    try {
      const execId = await submit('quick', 'quick');
      const e = await waitFinal(execId);
      assert.equal(e.status, 'EXECUTION_STOPPED');
      assert.match(e.failureReason ?? '', /flow-container/);
      assert.match(e.failureReason ?? '', /token/);
    } finally {
      unsubscribe();
    }
  });

  it('an init container exiting non-zero names the jobtype and the exit code', async () => {
    cluster.kubelet.failInit('jobtype-init-bash', 3);
    const execId = await submit('scripts', 'scripts');
    const e = await waitFinal(execId);
    assert.equal(e.status, 'EXECUTION_STOPPED');
    assert.match(e.failureReason ?? '', /jobtype bash/);
    assert.match(e.failureReason ?? '', /exited with code 3/);
  });

  it('an OOMKilled flow container names the memory limit', async () => {
    const execId = await submit('slow', 'slow', { 'flowOverride[flow.container.memory.request]': '768Mi' });
    await waitStatus(execId, 'RUNNING');
    await cluster.kubelet.oomKill(NAMESPACE, podOf(execId));
    const e = await waitFinal(execId);
    assert.equal(e.status, 'EXECUTION_STOPPED');
    assert.match(e.failureReason ?? '', /OOMKilled/);
    assert.match(e.failureReason ?? '', /768Mi/);
  });

  it('an evicted pod ends the execution with the eviction message', async () => {
    const execId = await submit('slow', 'slow');
    await waitStatus(execId, 'RUNNING');
    await cluster.kubelet.evict(NAMESPACE, podOf(execId), 'The node was low on resource: ephemeral-storage.');
    await waitStopped(execId, 'EXECUTION_STOPPED', /evicted: The node was low on resource: ephemeral-storage/);
  });

  it('a lost node ends the execution naming the node', async () => {
    const execId = await submit('slow', 'slow');
    await waitStatus(execId, 'RUNNING');
    await cluster.kubelet.loseNode(NAMESPACE, podOf(execId));
    const e = await waitFinal(execId);
    assert.equal(e.status, 'EXECUTION_STOPPED');
    assert.match(e.failureReason ?? '', /node .*was lost/);
    assert.match(e.failureReason ?? '', /caisson-fake-node/);
  });

  it('a pod that cannot be scheduled ends the execution after the pending timeout', async () => {
    cluster.kubelet.unschedulable = '0/3 nodes are available: 3 Insufficient cpu.';
    const started = Date.now();
    const execId = await submit('quick', 'quick');
    const e = await waitFinal(execId);
    assert.equal(e.status, 'EXECUTION_STOPPED');
    assert.match(e.failureReason ?? '', /could not be scheduled .*Insufficient cpu/);
    assert.ok(Date.now() - started >= 1500, 'not before the pending timeout');
  });

  it('a pod deleted under a live execution ends it EXECUTION_STOPPED, and KILLED when a cancel was asked', async () => {
    const a = await submit('slow', 'slow');
    await waitStatus(a, 'RUNNING');
    cluster.api.store.delete('pods', NAMESPACE, podOf(a));
    await waitStopped(a, 'EXECUTION_STOPPED', /pod was deleted/);

    const b = await submit('slow', 'slow');
    await waitStatus(b, 'RUNNING');
    // A cancel was asked (and not yet delivered) when the pod went away.
    await t.tdb.db('execution_flows').where({ exec_id: b }).update({ cancel_requested: true });
    cluster.api.store.delete('pods', NAMESPACE, podOf(b));
    const eb = await waitFinal(b);
    assert.equal(eb.status, 'KILLED');
  });

  it('a flow container that exits before its final report ends the execution after the report grace', async () => {
    const execId = await submit('slow', 'slow');
    await waitStatus(execId, 'RUNNING');
    await cluster.kubelet.crash(NAMESPACE, podOf(execId), 4);
    const e = await waitFinal(execId);
    assert.equal(e.status, 'EXECUTION_STOPPED');
    assert.match(e.failureReason ?? '', /exited with code 4 .*before reporting a final status/);
  });

  it('an unreachable container on cancel: the pod is deleted and the execution ends KILLED', async () => {
    const execId = await submit('slow', 'slow');
    await waitStatus(execId, 'RUNNING');
    // The route is gone (the ingress answers 404): the cancel cannot reach the container.
    cluster.api.store.delete('mappings', NAMESPACE, podOf(execId));
    const r = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'cancelFlow', execid: String(execId) });
    assert.equal(r.json.error, undefined, r.text);
    const e = await waitFinal(execId);
    assert.equal(e.status, 'KILLED');
    await waitFor('the pod to be deleted', async () => (podExists(execId) ? undefined : true), 10_000, 50);
  });

  it('a final status is never overwritten: a kept pod failing after SUCCEEDED changes nothing, and is swept after its retention', async () => {
    const execId = await submit('quick', 'quick', { 'flowOverride[disable.pod.cleanup]': 'true' });
    const e = await waitFinal(execId);
    assert.equal(e.status, 'SUCCEEDED');
    await waitFor(
      'the kept pod to get its expiry',
      async () =>
        cluster.api.store.get('pods', NAMESPACE, podOf(execId))?.metadata.annotations?.['caisson.io/expires-at'] ? true : undefined,
      10_000,
      50,
    );
    // The node then evicts the finished pod: the watch sees a failure, the execution stays SUCCEEDED.
    cluster.api.store.update('pods', NAMESPACE, podOf(execId), (o) => {
      o.status = { ...(o.status as object), phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' };
    });
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await exec(execId)).status, 'SUCCEEDED');
    assert.deepEqual(await finalEvents(execId), [{ type: 'FLOW_FINISHED' }]);
    await waitFor('the sweep to delete the kept pod after its retention', async () => (podExists(execId) ? undefined : true), 15_000, 100);
    assert.deepEqual(cluster.invalidObjects(), []);
  });
});
