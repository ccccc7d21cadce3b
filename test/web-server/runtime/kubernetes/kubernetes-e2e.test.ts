/**
 * The Kubernetes runtime end to end, through the real @kubernetes/client-node against the fake API
 * server: a flow on two plugin jobtypes gets a valid Secret, Pod (two init containers, one app
 * container), Service and Mapping; the kubelet mode runs it to SUCCEEDED; live logs and cancel go
 * through the Mapping-driven proxy; and nothing of the execution is left afterwards.
 */
import assert from 'node:assert/strict';
import { testDialects } from '../../../../common/db/test-database.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContainerClient } from '../../../../web-server/src/executions/container-client.js';
import { findExecution } from '../../../../web-server/src/executions/executions-store.js';
import {
  NAMESPACE,
  startFakeCluster,
  startKubeServer,
  submitFlow,
  uploadProject,
  waitForFinal,
  type FakeCluster,
} from '../../../support/kube-harness.js';
import { zipOfExample, zipOfFiles } from '../../../support/projects.js';
import { ADMIN_PASSWORD, ajaxLogin, getQuery, postForm, postMultipart, restCall, type TestServer } from '../../../support/test-server.js';
import type { KubeObject } from '../../../support/fake-kube/types.js';
import { waitFor } from '../../../support/wait.js';

const SLOW_FLOW = `
nodes:
  - name: talk
    type: command
    config:
      command: bash -c 'for i in $(seq 1 300); do echo "line $i"; sleep 0.1; done'
`;

for (const dialect of testDialects()) {
  describe(`Kubernetes runtime end to end on the fake API server [${dialect}]`, function () {
    this.timeout(120_000);
    let cluster: FakeCluster;
    let t: TestServer;
    let admin: string;

    const objectsOf = (execId: number): KubeObject[] =>
      (['pods', 'secrets', 'services', 'mappings'] as const).flatMap(
        (r) => cluster.api.store.list(r, NAMESPACE, `caisson.io/execution-id=${execId}`).items,
      );
    const submit = (project: string, flow: string, extra: Record<string, string> = {}) => submitFlow(t.url, admin, project, flow, extra);
    const statusOf = async (execId: number) => (await findExecution(t.tdb.db, execId))?.status;
    const waitFinal = (execId: number, ms = 60_000) => waitForFinal(t.tdb, execId, ms);
    const upload = (project: string, zip: Buffer) => uploadProject(t.url, admin, project, zip);

    before(async () => {
      cluster = await startFakeCluster();
      t = await startKubeServer(dialect, cluster);
      admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      await upload('scripts', zipOfExample('plugin-jobtypes'));
      await upload('slow', zipOfFiles({ 'slow.flow': SLOW_FLOW, 'slow.project': 'azkaban-flow-version: 2.0\n' }));
    });
    after(async () => {
      await t?.stop();
      await cluster?.stop();
    });

    it('runs a flow on two plugin jobtypes in a pod with two init containers, creating valid objects and leaving nothing behind', async () => {
      const created: KubeObject[] = [];
      const latest = new Map<string, KubeObject>();
      const unsubscribe = cluster.api.store.subscribe((e) => {
        if (e.type === 'ADDED') created.push(structuredClone(e.object));
        if (e.type !== 'DELETED') latest.set(`${e.object.kind}/${e.object.metadata.name}`, structuredClone(e.object));
      });
      const execId = await submit('scripts', 'scripts');
      const exec = await waitFinal(execId);
      unsubscribe();
      assert.equal(exec.status, 'SUCCEEDED', `failure reason: ${exec.failureReason ?? ''}`);

      const mine = created.filter((o) => o.metadata.labels?.['caisson.io/execution-id'] === String(execId));
      assert.deepEqual(mine.map((o) => o.kind).sort(), ['Mapping', 'Pod', 'Secret', 'Service']);
      const pod = mine.find((o) => o.kind === 'Pod') as KubeObject & {
        spec: {
          initContainers: { name: string; image: string }[];
          containers: { name: string; image: string; env: { name: string; valueFrom?: unknown }[] }[];
        };
      };
      assert.deepEqual(
        pod.spec.initContainers.map((c) => c.name),
        ['jobtype-init-bash', 'jobtype-init-python'],
      );
      assert.match(pod.spec.initContainers[0]!.image, /^registry\.test\/caisson\/jobtype-bash:/);
      assert.deepEqual(
        pod.spec.containers.map((c) => c.name),
        ['flow-container'],
      );
      const tokenVar = pod.spec.containers[0]!.env.find((v) => v.name === 'CAISSON_EXEC_TOKEN');
      assert.deepEqual(tokenVar?.valueFrom, { secretKeyRef: { name: `fc-ci-${execId}-token`, key: 'token' } });
      const mapping = mine.find((o) => o.kind === 'Mapping') as KubeObject & { spec: { prefix: string; service: string } };
      assert.equal(mapping.spec.prefix, `/ci-${execId}/`);
      assert.deepEqual(cluster.invalidObjects(), []);
      // After the pod existed, the Secret, Service and Mapping were given an ownerReference to it.
      for (const kind of ['Secret', 'Service', 'Mapping']) {
        const o = [...latest.values()].find((x) => x.kind === kind && x.metadata.labels?.['caisson.io/execution-id'] === String(execId))!;
        assert.deepEqual(
          o.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid]),
          [['Pod', pod.metadata.name, pod.metadata.uid]],
          kind,
        );
      }
      // The pod's phases were recorded as execution events by the watch leader.
      const phasesOf = async () =>
        (
          (await t.tdb.db('execution_events').where({ exec_id: execId, type: 'POD_PHASE_CHANGED' }).select('payload')) as {
            payload: string;
          }[]
        ).map((p) => (JSON.parse(p.payload) as { phase: string }).phase);
      // The last one is Succeeded, or Deleted when the cleanup removed the pod before its container had exited.
      await waitFor(
        'Running and Succeeded (or Deleted) phase events',
        async () => {
          const seen = await phasesOf();
          return seen.includes('Running') && (seen.includes('Succeeded') || seen.includes('Deleted')) ? true : undefined;
        },
        10_000,
        50,
      );

      // The jobs ran with the payloads the init containers copied in.
      const log = await getQuery(`${t.url}/executor`, {
        'session.id': admin,
        ajax: 'fetchExecJobLogs',
        execid: String(execId),
        jobId: 'report',
        offset: '0',
        length: '100000',
      });
      assert.match(String(log.json.data), /prepare produced 42 rows/);

      await waitFor(
        `the objects of execution ${execId} to be removed`,
        async () => (objectsOf(execId).length === 0 ? true : undefined),
        15_000,
        100,
      );
    });

    it('serves live logs and cancel through the ingress route (the Mapping-driven proxy)', async () => {
      const execId = await submit('slow', 'slow');
      await waitFor(`execution ${execId} to run`, async () => ((await statusOf(execId)) === 'RUNNING' ? true : undefined), 30_000, 100);
      const exec = (await findExecution(t.tdb.db, execId))!;
      const url = t.server.control.controlUrlOf(exec)!;
      assert.equal(url, `${cluster.ingressUrl}/ci-${execId}`);
      // The web server's own client, through the proxy, to the flow container in the pod.
      const ping = await new ContainerClient().ping(url, t.server.control.tokenOf(exec)!);
      assert.equal(ping.execId, execId);
      const live = await waitFor(
        'live log lines',
        async () => {
          const slice = await new ContainerClient().logs(url, t.server.control.tokenOf(exec)!, 'talk', 0, 0, 10_000);
          return slice.data.includes('line 3') ? slice : undefined;
        },
        15_000,
        100,
      );
      assert.match(live.data, /^line 1\n/);
      const ajaxLog = await getQuery(`${t.url}/executor`, {
        'session.id': admin,
        ajax: 'fetchExecJobLogs',
        execid: String(execId),
        jobId: 'talk',
        offset: '0',
        length: '100000',
      });
      assert.match(String(ajaxLog.json.data), /line 1\n/);

      const cancel = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'cancelFlow', execid: String(execId) });
      assert.equal(cancel.json.error, undefined, cancel.text);
      const done = await waitFinal(execId, 20_000);
      assert.equal(done.status, 'KILLED');
      await waitFor(
        `the objects of execution ${execId} to be removed`,
        async () => (objectsOf(execId).length === 0 ? true : undefined),
        15_000,
        100,
      );
      assert.deepEqual(cluster.invalidObjects(), []);
    });
  });
}

describe(`Kubernetes runtime: annotation routes, a pod template, resource caps and the sweep [${testDialects().at(-1)!}]`, function () {
  this.timeout(120_000);
  const dialect = testDialects().at(-1)!;
  let cluster: FakeCluster;
  let t: TestServer;
  let admin: string;
  let templateDir: string;

  const submitAs = (session: string, extra: Record<string, string> = {}) =>
    postForm(`${t.url}/executor`, { 'session.id': session, ajax: 'executeFlow', project: 'slow', flow: 'slow', ...extra });
  const waitStatus = (execId: number, statuses: string[]) =>
    waitFor(
      `execution ${execId} to be ${statuses.join(' or ')}`,
      async () => {
        const e = await findExecution(t.tdb.db, execId);
        return e && statuses.includes(e.status) ? e : undefined;
      },
      40_000,
      50,
    );

  before(async () => {
    cluster = await startFakeCluster();
    templateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-template-'));
    const template = path.join(templateDir, 'pod-template.yaml');
    fs.writeFileSync(
      template,
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata:',
        '  labels: { team: data-eng }',
        'spec:',
        '  serviceAccountName: flows',
        '  priorityClassName: batch-low',
        '  nodeSelector: { pool: flows }',
        '  tolerations: [{ key: dedicated, operator: Equal, value: flows, effect: NoSchedule }]',
        '  imagePullSecrets: [{ name: registry-credentials }]',
        '  securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 }',
        '  restartPolicy: Always', // Caisson's Never wins
        '  volumes: [{ name: shared-config, configMap: { name: flow-defaults } }]',
        '  containers:',
        '    - name: flow-container',
        '      env: [{ name: TEAM, value: data-eng }]',
        '      volumeMounts: [{ name: shared-config, mountPath: /etc/flow-defaults }]',
        '',
      ].join('\n'),
    );
    t = await startKubeServer(dialect, cluster, {
      CAISSON_INGRESS_MODE: 'annotation',
      CAISSON_POD_TEMPLATE_FILE: template,
      CAISSON_POD_USER_MAX_MEMORY: '2Gi',
      CAISSON_POD_ADMIN_MAX_MEMORY: '8Gi',
    });
    admin = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
    await postForm(`${t.url}/manager?action=create`, { 'session.id': admin, name: 'slow', description: 'slow' });
    const up = await postMultipart(
      `${t.url}/manager`,
      { 'session.id': admin, ajax: 'upload', project: 'slow' },
      {
        file: {
          name: 'slow.zip',
          type: 'application/zip',
          content: zipOfFiles({ 'slow.flow': SLOW_FLOW, 'slow.project': 'azkaban-flow-version: 2.0\n' }),
        },
      },
    );
    assert.equal(up.json.error, undefined, up.text);
  });
  after(async () => {
    await t?.stop();
    await cluster?.stop();
    if (templateDir) fs.rmSync(templateDir, { recursive: true, force: true });
  });

  it('routes through the Service annotation and keeps the pod-level fields of the template', async () => {
    const r = await submitAs(admin);
    assert.equal(r.json.error, undefined, r.text);
    const execId = Number(r.json.execid);
    await waitStatus(execId, ['RUNNING']);
    assert.equal(cluster.api.store.list('mappings', NAMESPACE).items.length, 0, 'no Mapping objects in annotation mode');
    const service = cluster.api.store.get('services', NAMESPACE, `fc-ci-${execId}`)!;
    assert.match(service.metadata.annotations?.['getambassador.io/config'] ?? '', new RegExp(`prefix: /ci-${execId}/`));
    const pod = cluster.api.store.get('pods', NAMESPACE, `fc-ci-${execId}`) as unknown as {
      metadata: { labels: Record<string, string> };
      spec: Record<string, unknown> & { containers: { name: string; env: { name: string }[]; volumeMounts: { mountPath: string }[] }[] };
    };
    assert.equal(pod.spec.serviceAccountName, 'flows');
    assert.equal(pod.spec.priorityClassName, 'batch-low');
    assert.deepEqual(pod.spec.nodeSelector, { pool: 'flows' });
    assert.equal(pod.spec.restartPolicy, 'Never');
    assert.equal(pod.spec.automountServiceAccountToken, false);
    assert.equal(pod.spec.enableServiceLinks, false);
    assert.equal(pod.metadata.labels.team, 'data-eng');
    const app = pod.spec.containers.find((c) => c.name === 'flow-container')!;
    assert.ok(app.env.some((v) => v.name === 'TEAM'));
    assert.ok(app.volumeMounts.some((m) => m.mountPath === '/etc/flow-defaults'));
    // Control calls reach the container through the annotation's route.
    const exec = (await findExecution(t.tdb.db, execId))!;
    const ping = await new ContainerClient().ping(t.server.control.controlUrlOf(exec)!, t.server.control.tokenOf(exec)!);
    assert.equal(ping.execId, execId);
    const cancel = await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'cancelFlow', execid: String(execId) });
    assert.equal(cancel.json.error, undefined, cancel.text);
    assert.equal((await waitStatus(execId, ['KILLED'])).status, 'KILLED');
    assert.deepEqual(cluster.invalidObjects(), []);
  });

  it('refuses resource requests above the caps at submit (4xx), admins up to theirs', async () => {
    await t.server.auth.createUser({ username: 'analyst', password: 'analyst-password', role: 'USER' });
    const grant = await restCall(`${t.url}/api/v1/projects/slow/permissions`, 'POST', {
      cookie: `azkaban.browser.session.id=${admin}`,
      json: { type: 'user', name: 'analyst', permissions: ['READ', 'EXECUTE'] },
    });
    assert.equal(grant.status, 201, grant.text);
    const analyst = await ajaxLogin(t.url, 'analyst', 'analyst-password');
    // A non-admin over the user cap: AJAX answers HTTP 200 with an error body; REST a 403.
    const ajax = await submitAs(analyst, { 'flowOverride[flow.container.memory.request]': '4Gi' });
    assert.equal(ajax.status, 200);
    assert.match(String(ajax.json.error), /flow\.container\.memory\.request=4Gi is above the user cap of 2Gi/);
    const rest = await restCall(`${t.url}/api/v1/executions`, 'POST', {
      cookie: `azkaban.browser.session.id=${analyst}`,
      json: { project: 'slow', flow: 'slow', flowParams: { 'flow.container.memory.request': '4Gi' } },
    });
    assert.equal(rest.status, 403, rest.text);
    const within = await submitAs(analyst, { 'flowOverride[flow.container.memory.request]': '1Gi' });
    assert.equal(within.json.error, undefined, within.text);
    await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'cancelFlow', execid: String(within.json.execid) });
    const bad = await submitAs(admin, { 'flowOverride[flow.container.cpu.request]': 'lots' });
    assert.match(String(bad.json.error), /flow\.container\.cpu\.request must be a positive Kubernetes quantity/);
    const overAdmin = await submitAs(admin, { 'flowOverride[flow.container.memory.request]': '16Gi' });
    assert.match(String(overAdmin.json.error), /above the admin cap of 8Gi/);
    const ok = await submitAs(admin, { 'flowOverride[flow.container.memory.request]': '4Gi' });
    assert.equal(ok.json.error, undefined, ok.text);
    const execId = Number(ok.json.execid);
    await waitStatus(execId, ['RUNNING']);
    const pod = cluster.api.store.get('pods', NAMESPACE, `fc-ci-${execId}`) as unknown as {
      spec: { containers: { name: string; resources: { requests: Record<string, string>; limits: Record<string, string> } }[] };
    };
    const app = pod.spec.containers.find((c) => c.name === 'flow-container')!;
    assert.equal(app.resources.requests.memory, '4Gi');
    assert.equal(app.resources.limits.memory, '4Gi');
    await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'cancelFlow', execid: String(execId) });
    await waitStatus(execId, ['KILLED']);
  });

  it('the sweep deletes pods of unknown executions and ends live executions whose pod is gone', async () => {
    // A pod with our labels for an execution this database does not know (left by a lost database, say).
    cluster.api.store.create('pods', NAMESPACE, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'fc-ci-999999',
        labels: {
          'app.kubernetes.io/name': 'caisson',
          'app.kubernetes.io/component': 'flow-container',
          'app.kubernetes.io/managed-by': 'caisson',
          'caisson.io/cluster': 'ci',
          'caisson.io/execution-id': '999999',
        },
      },
      spec: { restartPolicy: 'Never', containers: [{ name: 'flow-container', image: 'registry.test/caisson/none:1' }] },
    });
    await waitFor(
      'the sweep to delete the stray pod',
      async () => (cluster.api.store.get('pods', NAMESPACE, 'fc-ci-999999') ? undefined : true),
      15_000,
    );

    // The database says RUNNING but no pod exists (it went while no watch saw it): only the sweep can tell.
    const r = await submitAs(admin);
    const execId = Number(r.json.execid);
    await waitStatus(execId, ['RUNNING']);
    await postForm(`${t.url}/executor`, { 'session.id': admin, ajax: 'cancelFlow', execid: String(execId) });
    await waitStatus(execId, ['KILLED']);
    await waitFor('the pod to go', async () => (cluster.api.store.get('pods', NAMESPACE, `fc-ci-${execId}`) ? undefined : true), 15_000);
    await new Promise((res) => setTimeout(res, 1500)); // past the final-report grace of that deletion
    await t.tdb
      .db('execution_flows')
      .where({ exec_id: execId })
      .update({ status: 'RUNNING', cancel_requested: false, failure_reason: null, end_time: null, heartbeat_at: Date.now() });
    const e = await waitStatus(execId, ['EXECUTION_STOPPED', 'KILLED']);
    assert.equal(e.status, 'EXECUTION_STOPPED');
    assert.match(e.failureReason ?? '', /pod of the execution is gone/);
  });
});
