/**
 * The fake kubelet runs pods from the store as local processes and reports their status as a real
 * kubelet does: init containers with path rewriting, env from Secrets, phases in order, and every
 * injected fault with its realistic status.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeKubelet, isValidImageReference, pathRewriter } from '../support/fake-kube/kubelet.js';
import { createFakeKubeStore } from '../support/fake-kube/store.js';
import type { FakeKubeStore, KubeObject } from '../support/fake-kube/types.js';
import { validateObject } from '../support/fake-kube/validate.js';
import { processAlive, waitFor } from '../support/wait.js';

const NS = 'caisson';
const FLOW_IMAGE = 'registry.example.com/caisson/flow-container:1.0';
const BASH_IMAGE = 'registry.example.com/caisson/jobtype-bash:2.1';

/** The stand-in flow container: prints its environment, then exits, sleeps (with a child) or serves HTTP per MODE. */
const APP_SCRIPT = `
const mode = process.env.MODE || 'exit:0';
console.log('ENV ' + JSON.stringify({ env: process.env, cwd: process.cwd() }));
if (mode.startsWith('exit:')) process.exit(Number(mode.slice(5)));
if (mode === 'sleep') {
  const child = require('child_process').spawn('sleep', ['60'], { stdio: 'ignore' });
  console.log('CHILD ' + child.pid);
  setInterval(() => {}, 1000);
}
if (mode === 'listen') {
  require('http').createServer((req, res) => res.end('hello from ' + process.env.HOSTNAME + ' ' + req.url))
    .listen(Number(process.env.CAISSON_CONTROL_PORT), process.env.CAISSON_CONTROL_HOST);
}
`;

interface Status {
  phase: string;
  reason?: string;
  message?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
  initContainerStatuses?: ContainerStatus[];
  containerStatuses?: ContainerStatus[];
  podIP?: string;
  startTime?: string;
}
interface ContainerStatus {
  name: string;
  ready: boolean;
  started: boolean;
  state: {
    waiting?: { reason: string; message?: string };
    running?: { startedAt: string };
    terminated?: { exitCode: number; reason: string; message?: string };
  };
}

/** Whether a process runs (a zombie waiting for init to reap it does not). */
function isRunning(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

const statusOf = (pod: KubeObject | undefined): Status => (pod?.status ?? { phase: '' }) as Status;
const conditionOf = (s: Status, type: string) => s.conditions?.find((c) => c.type === type);
const appState = (s: Status) => s.containerStatuses?.[0]?.state ?? {};

function appContainer(env: Record<string, unknown>[] = [], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'flow',
    image: FLOW_IMAGE,
    ports: [{ name: 'control', containerPort: 7070 }],
    env,
    volumeMounts: [
      { name: 'work', mountPath: '/caisson/work' },
      { name: 'jobtypes', mountPath: '/caisson/jobtypes' },
    ],
    ...extra,
  };
}

function podBody(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return {
    metadata: { name, labels: { 'app.kubernetes.io/name': 'caisson-flow' } },
    spec: {
      restartPolicy: 'Never',
      volumes: [
        { name: 'work', emptyDir: {} },
        { name: 'jobtypes', emptyDir: {} },
      ],
      containers: [appContainer([{ name: 'MODE', value: 'exit:0' }])],
      ...spec,
    },
  };
}

describe('FakeKubelet', function () {
  this.timeout(10_000);
  let store: FakeKubeStore;
  let kubelet: FakeKubelet;
  let workRoot: string;
  let payloadDir: string;
  let phases: Map<string, string[]>;
  let invalid: string[];

  beforeEach(() => {
    workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-kubelet-'));
    payloadDir = path.join(workRoot, 'images', 'jobtype-bash');
    fs.mkdirSync(payloadDir, { recursive: true });
    fs.writeFileSync(path.join(payloadDir, 'plugin.properties'), 'jobtype.class=bash\n');
    store = createFakeKubeStore();
    phases = new Map();
    invalid = [];
    store.subscribe((e) => {
      if (e.resource !== 'pods' || e.type === 'DELETED') return;
      for (const c of validateObject('pods', NS, e.object)) invalid.push(`${e.object.metadata.name}: ${c.field}: ${c.message}`);
      const seen = phases.get(e.object.metadata.name) ?? [];
      const phase = statusOf(e.object).phase;
      if (seen[seen.length - 1] !== phase) seen.push(phase);
      phases.set(e.object.metadata.name, seen);
    });
    kubelet = new FakeKubelet({
      store,
      images: { [BASH_IMAGE]: payloadDir, [FLOW_IMAGE]: path.join(workRoot, 'images', 'flow') },
      appCommand: (image) => (image === FLOW_IMAGE ? { command: process.execPath, args: ['-e', APP_SCRIPT] } : undefined),
      workRoot: path.join(workRoot, 'pods'),
      killGraceMs: 500,
      tickMs: 50,
    });
    kubelet.start();
  });

  afterEach(async () => {
    await kubelet.stop();
    assert.deepEqual(kubelet.errors, []);
    assert.deepEqual([...new Set(invalid)], [], 'every status the kubelet writes passes the API server validation');
    fs.rmSync(workRoot, { recursive: true, force: true });
  });

  const createPod = (name: string, spec: Record<string, unknown> = {}): KubeObject => store.create('pods', NS, podBody(name, spec));
  const waitForStatus = (name: string, what: string, test: (s: Status) => boolean, timeoutMs = 5000): Promise<Status> =>
    waitFor(
      `pod ${name}: ${what}`,
      async () => {
        const s = statusOf(store.get('pods', NS, name));
        return test(s) ? s : undefined;
      },
      timeoutMs,
      20,
    );
  const envOf = (name: string): { env: Record<string, string>; cwd: string } => {
    const line = kubelet
      .logsOf(NS, name, 'flow')
      .split('\n')
      .find((l) => l.startsWith('ENV '));
    assert.ok(line, `no ENV line in the log of ${name}`);
    return JSON.parse(line.slice(4)) as { env: Record<string, string>; cwd: string };
  };

  it('runs init containers that copy the jobtype payload into the volume, then the app with rewritten env and the secret', async () => {
    store.create('secrets', NS, { metadata: { name: 'exec-1-token' }, data: { token: Buffer.from('s3cret').toString('base64') } });
    createPod('flow-1', {
      initContainers: [
        {
          name: 'jobtype-bash',
          image: BASH_IMAGE,
          command: ['sh', '-c', 'mkdir -p /caisson/jobtypes/bash && cp -R /caisson/jobtype/. /caisson/jobtypes/bash/'],
          volumeMounts: [{ name: 'jobtypes', mountPath: '/caisson/jobtypes' }],
        },
      ],
      containers: [
        appContainer([
          { name: 'MODE', value: 'exit:0' },
          { name: 'CAISSON_JOBTYPES_DIR', value: '/caisson/jobtypes' },
          { name: 'CAISSON_WORK_DIR', value: '/caisson/work' },
          { name: 'CAISSON_CONTROL_PORT', value: '7070' },
          { name: 'CAISSON_CONTROL_HOST', value: '0.0.0.0' },
          { name: 'CAISSON_EXEC_TOKEN', valueFrom: { secretKeyRef: { name: 'exec-1-token', key: 'token' } } },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'LOGS', value: '$(CAISSON_WORK_DIR)/logs' },
        ]),
      ],
    });
    const s = await waitForStatus('flow-1', 'Succeeded', (x) => x.phase === 'Succeeded');

    const jobtypes = kubelet.volumeDir(NS, 'flow-1', 'jobtypes');
    const work = kubelet.volumeDir(NS, 'flow-1', 'work');
    assert.equal(fs.readFileSync(path.join(jobtypes, 'bash', 'plugin.properties'), 'utf8'), 'jobtype.class=bash\n');
    const { env, cwd } = envOf('flow-1');
    assert.equal(env.CAISSON_JOBTYPES_DIR, jobtypes);
    assert.equal(env.CAISSON_WORK_DIR, work);
    assert.equal(env.LOGS, path.join(work, 'logs'));
    assert.equal(env.CAISSON_EXEC_TOKEN, 's3cret');
    assert.equal(env.POD_NAME, 'flow-1');
    assert.equal(env.CAISSON_CONTROL_HOST, '127.0.0.1');
    assert.match(env.CAISSON_CONTROL_PORT ?? '', /^\d+$/);
    assert.notEqual(env.CAISSON_CONTROL_PORT, '7070');
    assert.equal(env.PATH, process.env.PATH);
    assert.equal(fs.realpathSync(cwd), fs.realpathSync(work));

    assert.deepEqual(phases.get('flow-1'), ['Pending', 'Running', 'Succeeded']);
    const init = s.initContainerStatuses?.[0]?.state.terminated;
    assert.deepEqual([init?.exitCode, init?.reason], [0, 'Completed']);
    assert.equal(appState(s).terminated?.exitCode, 0);
    assert.equal(appState(s).terminated?.reason, 'Completed');
    assert.equal(s.podIP, '127.0.0.1');
    assert.ok(s.startTime);
    assert.equal(conditionOf(s, 'PodScheduled')?.status, 'True');
    assert.equal(conditionOf(s, 'Initialized')?.status, 'True');
    assert.equal(conditionOf(s, 'Ready')?.status, 'False');
    assert.equal(conditionOf(s, 'Ready')?.reason, 'PodCompleted');
    assert.equal((store.get('pods', NS, 'flow-1')?.spec as { nodeName?: string }).nodeName, kubelet.nodeName);
  });

  it('reports a non-zero exit as terminated Error with its code and the pod Failed', async () => {
    createPod('flow-2', { containers: [appContainer([{ name: 'MODE', value: 'exit:3' }])] });
    const s = await waitForStatus('flow-2', 'Failed', (x) => x.phase === 'Failed');
    assert.deepEqual(phases.get('flow-2'), ['Pending', 'Running', 'Failed']);
    assert.equal(appState(s).terminated?.exitCode, 3);
    assert.equal(appState(s).terminated?.reason, 'Error');
  });

  it('marks the pod Ready once its readiness probe answers, and serves the container port through endpointOf', async () => {
    createPod('flow-3', {
      containers: [
        appContainer([{ name: 'MODE', value: 'listen' }], { readinessProbe: { httpGet: { path: '/healthz', port: 'control' } } }),
      ],
    });
    const s = await waitForStatus('flow-3', 'Ready', (x) => conditionOf(x, 'Ready')?.status === 'True');
    assert.equal(s.phase, 'Running');
    assert.equal(s.containerStatuses?.[0]?.ready, true);
    assert.ok(appState(s).running?.startedAt);
    const endpoint = kubelet.endpointOf(NS, 'flow-3', 7070);
    assert.ok(endpoint);
    assert.equal(kubelet.endpointOf(NS, 'flow-3', 8080), undefined);
    const answer = await fetch(`http://${endpoint.host}:${endpoint.port}/x`);
    assert.equal(await answer.text(), 'hello from flow-3 /x');
  });

  it('fails the pod when an init container exits non-zero, and never starts the app', async () => {
    kubelet.failInit('jobtype-bash', 2);
    createPod('flow-4', {
      initContainers: [{ name: 'jobtype-bash', image: BASH_IMAGE, command: ['sh', '-c', 'true'] }],
    });
    const s = await waitForStatus('flow-4', 'Failed', (x) => x.phase === 'Failed');
    assert.equal(s.initContainerStatuses?.[0]?.state.terminated?.exitCode, 2);
    assert.equal(s.initContainerStatuses?.[0]?.state.terminated?.reason, 'Error');
    assert.equal(appState(s).waiting?.reason, 'PodInitializing');
    assert.equal(conditionOf(s, 'Initialized')?.status, 'False');
    assert.equal(conditionOf(s, 'Initialized')?.message, 'containers with incomplete status: [jobtype-bash]');
    assert.equal(kubelet.logsOf(NS, 'flow-4', 'flow'), '');
  });

  const startSleeper = async (name: string, spec: Record<string, unknown> = {}): Promise<number> => {
    createPod(name, { containers: [appContainer([{ name: 'MODE', value: 'sleep' }])], ...spec });
    await waitForStatus(name, 'Running', (x) => x.phase === 'Running');
    const pid = kubelet.pidOf(NS, name);
    assert.ok(pid);
    await waitFor(`the child of ${name}`, async () => /CHILD \d+/.test(kubelet.logsOf(NS, name, 'flow')), 3000, 20);
    return pid;
  };

  it('reports an OOM kill as terminated OOMKilled 137 and the pod Failed', async () => {
    const pid = await startSleeper('flow-5');
    await kubelet.oomKill(NS, 'flow-5');
    const s = await waitForStatus('flow-5', 'Failed', (x) => x.phase === 'Failed');
    assert.equal(appState(s).terminated?.reason, 'OOMKilled');
    assert.equal(appState(s).terminated?.exitCode, 137);
    assert.equal(isRunning(pid), false);
  });

  it('reports an injected crash with its exit code', async () => {
    await startSleeper('flow-6');
    await kubelet.crash(NS, 'flow-6', 42);
    const s = await waitForStatus('flow-6', 'Failed', (x) => x.phase === 'Failed');
    assert.deepEqual([appState(s).terminated?.exitCode, appState(s).terminated?.reason], [42, 'Error']);
  });

  it('evicts a pod: processes killed, phase Failed with reason Evicted and the node-pressure message', async () => {
    const pid = await startSleeper('flow-7');
    await kubelet.evict(NS, 'flow-7');
    const s = statusOf(store.get('pods', NS, 'flow-7'));
    assert.equal(s.phase, 'Failed');
    assert.equal(s.reason, 'Evicted');
    assert.match(s.message ?? '', /^The node was low on resource: memory\./);
    assert.ok(appState(s).terminated);
    assert.equal(conditionOf(s, 'DisruptionTarget')?.status, 'True');
    assert.equal(isRunning(pid), false);
  });

  it('reports a lost node as phase Unknown with reason NodeLost and Ready False', async () => {
    const pid = await startSleeper('flow-8');
    await kubelet.loseNode(NS, 'flow-8');
    const s = statusOf(store.get('pods', NS, 'flow-8'));
    assert.equal(s.phase, 'Unknown');
    assert.equal(s.reason, 'NodeLost');
    assert.equal(s.message, `Node ${kubelet.nodeName} which was running pod flow-8 is unresponsive`);
    assert.equal(conditionOf(s, 'Ready')?.status, 'False');
    assert.ok(appState(s).running, 'the last known container state stays');
    assert.equal(isRunning(pid), false);
    assert.equal(kubelet.endpointOf(NS, 'flow-8', 7070), undefined);
  });

  it('kills a pod that outlives activeDeadlineSeconds and fails it with DeadlineExceeded', async () => {
    await startSleeper('flow-9', { activeDeadlineSeconds: 1 });
    const s = await waitForStatus('flow-9', 'Failed', (x) => x.phase === 'Failed', 4000);
    assert.equal(s.reason, 'DeadlineExceeded');
    assert.equal(s.message, 'Pod was active on the node longer than the specified deadline');
    assert.ok(appState(s).terminated);
  });

  it('kills the process group of a deleted pod and writes no more status for it', async () => {
    const pid = await startSleeper('flow-10');
    const child = Number(/CHILD (\d+)/.exec(kubelet.logsOf(NS, 'flow-10', 'flow'))?.[1]);
    assert.ok(child > 0 && isRunning(child));
    let updates = 0;
    store.subscribe((e) => {
      if (e.object.metadata.name === 'flow-10') updates++;
    });
    store.delete('pods', NS, 'flow-10');
    await waitFor('the deleted pod to die', async () => !isRunning(pid) && !isRunning(child), 3000, 20);
    assert.equal(updates, 1, 'only the DELETED event');
    assert.equal(store.get('pods', NS, 'flow-10'), undefined);
  });

  it('keeps a pod Pending as Unschedulable while the node is full, then runs it', async () => {
    kubelet.unschedulable = true;
    createPod('flow-11');
    const s = await waitForStatus('flow-11', 'Unschedulable', (x) => conditionOf(x, 'PodScheduled')?.reason === 'Unschedulable');
    assert.equal(s.phase, 'Pending');
    assert.equal(conditionOf(s, 'PodScheduled')?.status, 'False');
    assert.equal(conditionOf(s, 'PodScheduled')?.message, '0/1 nodes are available: 1 Insufficient memory.');
    assert.equal(s.containerStatuses, undefined);
    kubelet.unschedulable = false;
    await waitForStatus('flow-11', 'Succeeded', (x) => x.phase === 'Succeeded');
    assert.deepEqual(phases.get('flow-11'), ['Pending', 'Running', 'Succeeded']);
  });

  it('alternates ErrImagePull and ImagePullBackOff for an unknown image, and for an injected pull failure', async () => {
    createPod('flow-12', { containers: [appContainer([], { image: 'registry.example.com/nowhere:1' })] });
    const seen = new Set<string>();
    await waitFor(
      'both pull reasons',
      async () => {
        const s = statusOf(store.get('pods', NS, 'flow-12'));
        const reason = appState(s).waiting?.reason;
        if (reason) seen.add(reason);
        if (reason === 'ImagePullBackOff')
          assert.equal(appState(s).waiting?.message, 'Back-off pulling image "registry.example.com/nowhere:1"');
        assert.equal(s.phase, 'Pending');
        return seen.has('ErrImagePull') && seen.has('ImagePullBackOff');
      },
      3000,
      10,
    );
    kubelet.failImagePull(BASH_IMAGE);
    createPod('flow-13', { initContainers: [{ name: 'jobtype-bash', image: BASH_IMAGE, command: ['true'] }] });
    const s = await waitForStatus('flow-13', 'pull failure', (x) =>
      /ErrImagePull|ImagePullBackOff/.test(x.initContainerStatuses?.[0]?.state.waiting?.reason ?? ''),
    );
    assert.equal(s.phase, 'Pending');
    kubelet.failImagePull(BASH_IMAGE, false);
    await waitForStatus('flow-13', 'Succeeded after the pull recovers', (x) => x.phase === 'Succeeded');
  });

  it('reports InvalidImageName for a malformed image reference', async () => {
    createPod('flow-14', { containers: [appContainer([], { image: 'registry.example.com/Caisson/Flow:1' })] });
    const s = await waitForStatus('flow-14', 'InvalidImageName', (x) => appState(x).waiting?.reason === 'InvalidImageName');
    assert.equal(s.phase, 'Pending');
    assert.match(appState(s).waiting?.message ?? '', /invalid reference format/);
  });

  it('reports CreateContainerConfigError for a missing secret or key, and starts once the secret appears', async () => {
    const env = [{ name: 'CAISSON_EXEC_TOKEN', valueFrom: { secretKeyRef: { name: 'exec-15-token', key: 'token' } } }];
    createPod('flow-15', { containers: [appContainer(env)] });
    let s = await waitForStatus('flow-15', 'config error', (x) => appState(x).waiting?.reason === 'CreateContainerConfigError');
    assert.equal(appState(s).waiting?.message, 'secret "exec-15-token" not found');
    store.create('secrets', NS, { metadata: { name: 'exec-15-token' }, stringData: { other: 'x' } });
    s = await waitForStatus('flow-15', 'missing key', (x) => /couldn't find key/.test(appState(x).waiting?.message ?? ''));
    assert.equal(appState(s).waiting?.message, `couldn't find key token in Secret ${NS}/exec-15-token`);
    assert.equal(s.phase, 'Pending');
    store.update('secrets', NS, 'exec-15-token', (o) => {
      o.data = { token: Buffer.from('late').toString('base64') };
    });
    await waitForStatus('flow-15', 'Succeeded', (x) => x.phase === 'Succeeded');
    assert.equal(envOf('flow-15').env.CAISSON_EXEC_TOKEN, 'late');
  });

  it('leaves no process behind after stop(), grandchildren included', async () => {
    const pids = [await startSleeper('flow-16'), await startSleeper('flow-17')];
    const children = ['flow-16', 'flow-17'].map((n) => Number(/CHILD (\d+)/.exec(kubelet.logsOf(NS, n, 'flow'))?.[1]));
    await kubelet.stop();
    for (const pid of [...pids, ...children]) assert.equal(isRunning(pid), false, `process ${pid} still runs`);
  });

  it('checks image references and rewrites container paths at path boundaries', () => {
    for (const ok of ['busybox', 'busybox:1.36', 'localhost:5000/a/b:tag', 'Registry.Example.com/x/y', `x@sha256:${'a'.repeat(64)}`]) {
      assert.equal(isValidImageReference(ok), true, ok);
    }
    for (const bad of ['', 'Busybox', 'a b', 'a::b', 'registry.example.com/X:1', 'x:', 'x@sha256:zz']) {
      assert.equal(isValidImageReference(bad), false, bad);
    }
    const rewrite = pathRewriter([
      { from: '/caisson/jobtypes', to: '/tmp/v/jobtypes' },
      { from: '/caisson/jobtype', to: '/images/bash' },
    ]);
    assert.equal(
      rewrite('mkdir -p /caisson/jobtypes/bash && cp -R /caisson/jobtype/. /caisson/jobtypes/bash/ /caisson/jobtypesX /x/caisson/jobtype'),
      'mkdir -p /tmp/v/jobtypes/bash && cp -R /images/bash/. /tmp/v/jobtypes/bash/ /caisson/jobtypesX /x/caisson/jobtype',
    );
    assert.equal(rewrite('--dir=/caisson/jobtype'), '--dir=/images/bash');
  });
});
