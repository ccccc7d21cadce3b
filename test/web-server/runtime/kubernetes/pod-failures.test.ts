import assert from 'node:assert/strict';
import type { V1ContainerStatus, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import {
  assessPod,
  jobtypeOfInitContainer,
  podDeletedReason,
  podPhaseSummary,
  type FailureGraces,
  type PodWatchMemo,
} from '../../../../web-server/src/runtime/kubernetes/pod-failures.js';

const APP_IMAGE = 'registry.example.com/caisson/flow-container:1.4.0';
const BASH_IMAGE = 'registry.example.com/caisson/jobtype-bash:2.1';
const GRACES: FailureGraces = { imagePullGraceMs: 120_000, pendingTimeoutMs: 600_000 };
const NOW = Date.parse('2025-03-01T12:00:00Z');

interface PodOptions {
  phase?: string;
  reason?: string;
  message?: string;
  nodeName?: string;
  hostIP?: string;
  activeDeadlineSeconds?: number;
  appMemoryLimit?: string;
  sidecarInit?: boolean;
  conditions?: V1PodCondition[];
  inits?: V1ContainerStatus[];
  apps?: V1ContainerStatus[];
}

/** A flow pod with a bash jobtype init container, an optional template init, and the flow container. */
function flowPod(o: PodOptions = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'fc-local-42', namespace: 'caisson' },
    spec: {
      nodeName: o.nodeName,
      activeDeadlineSeconds: o.activeDeadlineSeconds,
      restartPolicy: 'Never',
      initContainers: [
        { name: 'jobtype-init-bash', image: BASH_IMAGE, resources: { limits: { memory: '64Mi' } } },
        { name: 'vault-agent-init', image: 'vault:1.15', ...(o.sidecarInit ? { restartPolicy: 'Always' } : {}) },
      ],
      containers: [
        { name: 'flow-container', image: APP_IMAGE, resources: o.appMemoryLimit ? { limits: { memory: o.appMemoryLimit } } : {} },
      ],
    },
    status: {
      phase: o.phase ?? 'Running',
      reason: o.reason,
      message: o.message,
      hostIP: o.hostIP,
      conditions: o.conditions ?? [],
      initContainerStatuses: o.inits ?? [initDone('jobtype-init-bash', BASH_IMAGE), initDone('vault-agent-init', 'vault:1.15')],
      containerStatuses: o.apps ?? [running('flow-container', APP_IMAGE)],
    },
  };
}

function status(name: string, image: string, state: V1ContainerStatus['state'], extra: Partial<V1ContainerStatus> = {}): V1ContainerStatus {
  return { name, image, imageID: '', ready: false, restartCount: 0, state, ...extra };
}
function running(name: string, image: string): V1ContainerStatus {
  return status(name, image, { running: { startedAt: new Date(NOW - 60_000) } });
}
function waiting(name: string, image: string, reason: string, message?: string): V1ContainerStatus {
  return status(name, image, { waiting: { reason, message } });
}
function terminated(
  name: string,
  image: string,
  exitCode: number,
  reason?: string,
  finishedAt?: Date | string,
  message?: string,
): V1ContainerStatus {
  return status(name, image, { terminated: { exitCode, reason, message, finishedAt: finishedAt as Date | undefined } });
}
function initDone(name: string, image: string): V1ContainerStatus {
  return terminated(name, image, 0, 'Completed', new Date(NOW - 90_000));
}
function condition(type: string, statusValue: string, reason?: string, message?: string): V1PodCondition {
  return { type, status: statusValue, reason, message };
}
const PENDING_INITS = [
  waiting('jobtype-init-bash', BASH_IMAGE, 'PodInitializing'),
  waiting('vault-agent-init', 'vault:1.15', 'PodInitializing'),
];
const APP_INITIALIZING = [waiting('flow-container', APP_IMAGE, 'PodInitializing')];

function stopReason(pod: V1Pod, memo: PodWatchMemo = {}, now = NOW): string {
  const { assessment } = assessPod(pod, memo, now, GRACES);
  assert.equal(assessment.action, 'stop', `expected a stop, got ${JSON.stringify(assessment)}`);
  return assessment.action === 'stop' ? assessment.reason : '';
}

describe('assessing a flow pod for failures', () => {
  describe('healthy pods', () => {
    it('leaves a running pod alone with an empty memo', () => {
      assert.deepEqual(assessPod(flowPod(), {}, NOW, GRACES), { assessment: { action: 'none' }, memo: {} });
    });

    it('leaves a pending pod whose init containers are starting alone', () => {
      const pod = flowPod({
        phase: 'Pending',
        conditions: [condition('PodScheduled', 'True')],
        inits: [
          waiting('jobtype-init-bash', BASH_IMAGE, 'ContainerCreating'),
          waiting('vault-agent-init', 'vault:1.15', 'PodInitializing'),
        ],
        apps: APP_INITIALIZING,
      });
      assert.deepEqual(assessPod(pod, {}, NOW, GRACES), { assessment: { action: 'none' }, memo: {} });
    });

    it('leaves a brand-new pod without status alone', () => {
      const pod: V1Pod = { metadata: { name: 'fc-local-42' }, spec: { containers: [{ name: 'flow-container', image: APP_IMAGE }] } };
      assert.deepEqual(assessPod(pod, {}, NOW, GRACES), { assessment: { action: 'none' }, memo: {} });
    });
  });

  describe('image pull failures', () => {
    const pulling = (reason = 'ImagePullBackOff', message = `Back-off pulling image "${BASH_IMAGE}"`): V1Pod =>
      flowPod({
        phase: 'Pending',
        inits: [waiting('jobtype-init-bash', BASH_IMAGE, reason, message), waiting('vault-agent-init', 'vault:1.15', 'PodInitializing')],
        apps: APP_INITIALIZING,
      });

    it('starts the grace on the first failing look without stopping', () => {
      assert.deepEqual(assessPod(pulling('ErrImagePull'), {}, NOW, GRACES), {
        assessment: { action: 'none' },
        memo: { pullFailingSince: NOW },
      });
    });

    it('keeps the start and does not stop just before the grace ends', () => {
      const memo = { pullFailingSince: NOW - 119_999 };
      assert.deepEqual(assessPod(pulling(), memo, NOW, GRACES), { assessment: { action: 'none' }, memo });
    });

    it('stops once the grace has passed, naming the image, the duration and the kubelet message', () => {
      const reason = stopReason(pulling(), { pullFailingSince: NOW - 120_000 });
      assert.equal(
        reason,
        `could not pull image "${BASH_IMAGE}" for 120 s (ImagePullBackOff: Back-off pulling image "${BASH_IMAGE}") in container jobtype-init-bash (jobtype bash)`,
      );
    });

    it('watches the flow container image too', () => {
      const pod = flowPod({
        phase: 'Pending',
        apps: [waiting('flow-container', APP_IMAGE, 'ErrImagePull', 'rpc error: code = NotFound desc = manifest unknown')],
      });
      assert.equal(
        stopReason(pod, { pullFailingSince: NOW - 300_000 }),
        `could not pull image "${APP_IMAGE}" for 300 s (ErrImagePull: rpc error: code = NotFound desc = manifest unknown) in container flow-container`,
      );
    });

    it('forgets the failure once the pull recovers', () => {
      const pod = flowPod({
        phase: 'Pending',
        inits: [running('jobtype-init-bash', BASH_IMAGE), waiting('vault-agent-init', 'vault:1.15', 'PodInitializing')],
        apps: APP_INITIALIZING,
      });
      assert.deepEqual(assessPod(pod, { pullFailingSince: NOW - 60_000 }, NOW, GRACES), { assessment: { action: 'none' }, memo: {} });
    });
  });

  describe('waiting errors that stop at once', () => {
    it('stops on an invalid image name, naming the image and container', () => {
      const pod = flowPod({
        phase: 'Pending',
        apps: [
          waiting(
            'flow-container',
            APP_IMAGE,
            'InvalidImageName',
            `Failed to apply default image tag "${APP_IMAGE}": invalid reference format`,
          ),
        ],
      });
      assert.equal(
        stopReason(pod),
        `invalid image name "${APP_IMAGE}" for container flow-container: Failed to apply default image tag "${APP_IMAGE}": invalid reference format`,
      );
    });

    it('stops on a missing Secret key with the API message', () => {
      const pod = flowPod({
        phase: 'Pending',
        apps: [
          waiting('flow-container', APP_IMAGE, 'CreateContainerConfigError', "couldn't find key db-password in Secret caisson/fc-local-42"),
        ],
      });
      assert.equal(stopReason(pod), "cannot start container flow-container: couldn't find key db-password in Secret caisson/fc-local-42");
    });

    it('stops on a container the runtime cannot create, naming the jobtype', () => {
      const pod = flowPod({
        phase: 'Pending',
        inits: [waiting('jobtype-init-bash', BASH_IMAGE, 'CreateContainerError', 'failed to reserve container name'), PENDING_INITS[1]!],
        apps: APP_INITIALIZING,
      });
      assert.equal(
        stopReason(pod),
        `cannot create container jobtype-init-bash (jobtype bash) from image "${BASH_IMAGE}": failed to reserve container name`,
      );
    });

    it('stops when the image is absent and the pull policy is Never', () => {
      const pod = flowPod({
        phase: 'Pending',
        apps: [
          waiting(
            'flow-container',
            APP_IMAGE,
            'ErrImageNeverPull',
            `Container image "${APP_IMAGE}" is not present with pull policy of Never`,
          ),
        ],
      });
      assert.equal(
        stopReason(pod),
        `image "${APP_IMAGE}" of container flow-container is not on the node and the image pull policy is Never (ErrImageNeverPull): ` +
          `Container image "${APP_IMAGE}" is not present with pull policy of Never`,
      );
    });
  });

  describe('init container failures', () => {
    it('stops when a jobtype init container exits non-zero, naming jobtype, image and code', () => {
      const pod = flowPod({
        phase: 'Failed',
        inits: [terminated('jobtype-init-bash', BASH_IMAGE, 1, 'Error', new Date(NOW - 5_000)), PENDING_INITS[1]!],
        apps: APP_INITIALIZING,
      });
      assert.equal(
        stopReason(pod),
        `the init container of jobtype bash (jobtype-init-bash, image ${BASH_IMAGE}) exited with code 1 (Error)`,
      );
    });

    it('adds the termination message when there is one', () => {
      const pod = flowPod({
        phase: 'Failed',
        inits: [terminated('jobtype-init-bash', BASH_IMAGE, 2, 'Error', undefined, 'cp: cannot stat /caisson/jobtype: No such file')],
        apps: APP_INITIALIZING,
      });
      assert.equal(
        stopReason(pod),
        `the init container of jobtype bash (jobtype-init-bash, image ${BASH_IMAGE}) exited with code 2 (Error: cp: cannot stat /caisson/jobtype: No such file)`,
      );
    });

    it('names a template init container by its name', () => {
      const pod = flowPod({
        phase: 'Failed',
        inits: [initDone('jobtype-init-bash', BASH_IMAGE), terminated('vault-agent-init', 'vault:1.15', 3, 'Error')],
        apps: APP_INITIALIZING,
      });
      assert.equal(stopReason(pod), 'init container vault-agent-init (image vault:1.15) exited with code 3 (Error)');
    });

    it('stops on an init container crash-looping after a non-zero exit', () => {
      const crashing = status(
        'jobtype-init-bash',
        BASH_IMAGE,
        { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 20s' } },
        { lastState: { terminated: { exitCode: 127, reason: 'Error' } }, restartCount: 2 },
      );
      const pod = flowPod({ phase: 'Pending', inits: [crashing, PENDING_INITS[1]!], apps: APP_INITIALIZING });
      assert.equal(
        stopReason(pod),
        `the init container of jobtype bash (jobtype-init-bash, image ${BASH_IMAGE}) exited with code 127 (Error)`,
      );
    });

    it('ignores the exits of native sidecar init containers, which the kubelet restarts', () => {
      const pod = flowPod({
        sidecarInit: true,
        inits: [initDone('jobtype-init-bash', BASH_IMAGE), terminated('vault-agent-init', 'vault:1.15', 1, 'Error')],
      });
      assert.deepEqual(assessPod(pod, {}, NOW, GRACES).assessment, { action: 'none' });
    });
  });

  describe('out of memory', () => {
    it('stops when the flow container is OOMKilled, naming its memory limit', () => {
      const pod = flowPod({ phase: 'Failed', appMemoryLimit: '3Gi', apps: [terminated('flow-container', APP_IMAGE, 137, 'OOMKilled')] });
      assert.equal(stopReason(pod), 'the flow container was killed for using more than its memory limit of 3Gi (OOMKilled)');
    });

    it('says unknown when the flow container has no memory limit', () => {
      const pod = flowPod({ phase: 'Failed', apps: [terminated('flow-container', APP_IMAGE, 137, 'OOMKilled')] });
      assert.equal(stopReason(pod), 'the flow container was killed for using more than its memory limit of unknown (OOMKilled)');
    });

    it('names a jobtype init container killed for memory', () => {
      const pod = flowPod({
        phase: 'Failed',
        inits: [terminated('jobtype-init-bash', BASH_IMAGE, 137, 'OOMKilled'), PENDING_INITS[1]!],
        apps: APP_INITIALIZING,
      });
      assert.equal(
        stopReason(pod),
        'the init container of jobtype bash (jobtype-init-bash) was killed for using more than its memory limit of 64Mi (OOMKilled)',
      );
    });
  });

  describe('pod-level failures', () => {
    it('stops on eviction with the kubelet message', () => {
      const message = 'The node was low on resource: ephemeral-storage. Container flow-container was using 12Gi, request is 1Gi.';
      const pod = flowPod({ phase: 'Failed', reason: 'Evicted', message, apps: [terminated('flow-container', APP_IMAGE, 137, 'Error')] });
      assert.equal(stopReason(pod), `the pod was evicted: ${message}`);
    });

    it('stops on node loss naming the node', () => {
      const pod = flowPod({
        reason: 'NodeLost',
        message: 'Node worker-3 which was running pod fc-local-42 is unresponsive',
        nodeName: 'worker-3',
      });
      assert.equal(
        stopReason(pod),
        'the node running the pod (worker-3) was lost: Node worker-3 which was running pod fc-local-42 is unresponsive',
      );
    });

    it('stops on phase Unknown naming the host IP when there is no node name', () => {
      const pod = flowPod({ phase: 'Unknown', hostIP: '10.0.3.17' });
      assert.equal(stopReason(pod), 'the node running the pod (10.0.3.17) was lost');
    });

    for (const [why, message] of [
      ['DeletionByTaintManager', 'Taint manager: deleting due to NoExecute taint'],
      ['TerminationByKubelet', 'Pod was terminated in response to imminent node shutdown.'],
      ['EvictionByEvictionAPI', 'Eviction API: evicting'],
      ['PreemptionByScheduler', 'Preempted in order to admit critical pod'],
    ] as const) {
      it(`stops on a DisruptionTarget condition with reason ${why}`, () => {
        const pod = flowPod({
          nodeName: 'worker-1',
          conditions: [condition('Ready', 'True'), condition('DisruptionTarget', 'True', why, message)],
        });
        assert.equal(stopReason(pod), `the pod was disrupted on node worker-1 (${why}): ${message}`);
      });
    }

    it('ignores a DisruptionTarget condition that is False', () => {
      const pod = flowPod({ conditions: [condition('DisruptionTarget', 'False', 'EvictionByEvictionAPI')] });
      assert.deepEqual(assessPod(pod, {}, NOW, GRACES).assessment, { action: 'none' });
    });

    it('stops on an exceeded active deadline, naming it', () => {
      const pod = flowPod({
        phase: 'Failed',
        reason: 'DeadlineExceeded',
        message: 'Pod was active on the node longer than the specified deadline',
        activeDeadlineSeconds: 86_400,
      });
      assert.equal(stopReason(pod), 'the pod ran past its activeDeadlineSeconds (86400 s)');
    });
  });

  describe('unschedulable pods', () => {
    const message = '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found.';
    const unschedulable = (): V1Pod =>
      flowPod({
        phase: 'Pending',
        conditions: [condition('PodScheduled', 'False', 'Unschedulable', message)],
        inits: [],
        apps: [],
      });

    it('starts the timeout on the first look', () => {
      assert.deepEqual(assessPod(unschedulable(), {}, NOW, GRACES), { assessment: { action: 'none' }, memo: { unschedulableSince: NOW } });
    });

    it('does not stop just before the timeout', () => {
      const memo = { unschedulableSince: NOW - 599_999 };
      assert.deepEqual(assessPod(unschedulable(), memo, NOW, GRACES), { assessment: { action: 'none' }, memo });
    });

    it('stops at the timeout with the scheduler message', () => {
      assert.equal(
        stopReason(unschedulable(), { unschedulableSince: NOW - 600_000 }),
        `the pod could not be scheduled for 600 s: ${message}`,
      );
    });

    it('forgets the timeout once the pod is scheduled', () => {
      const pod = flowPod({
        phase: 'Pending',
        conditions: [condition('PodScheduled', 'True')],
        inits: PENDING_INITS,
        apps: APP_INITIALIZING,
      });
      assert.deepEqual(assessPod(pod, { unschedulableSince: NOW - 500_000 }, NOW, GRACES), { assessment: { action: 'none' }, memo: {} });
    });
  });

  describe('flow container exits', () => {
    it('awaits the final report from the exit time when the container exited 0', () => {
      const finishedAt = new Date(NOW - 3_000);
      const pod = flowPod({ phase: 'Succeeded', apps: [terminated('flow-container', APP_IMAGE, 0, 'Completed', finishedAt)] });
      assert.deepEqual(assessPod(pod, {}, NOW, GRACES), {
        assessment: {
          action: 'await-final-report',
          since: finishedAt.getTime(),
          reason: 'the flow container exited with code 0 (Completed) before reporting a final status',
        },
        memo: { appTerminatedAt: finishedAt.getTime() },
      });
    });

    it('reads a finishedAt that arrived as a JSON string', () => {
      const pod = flowPod({ phase: 'Failed', apps: [terminated('flow-container', APP_IMAGE, 1, 'Error', '2025-03-01T11:59:50Z')] });
      const { assessment } = assessPod(pod, {}, NOW, GRACES);
      assert.deepEqual(assessment, {
        action: 'await-final-report',
        since: NOW - 10_000,
        reason: 'the flow container exited with code 1 (Error) before reporting a final status',
      });
    });

    it('uses now when there is no finish time, and keeps the same since on later looks', () => {
      const pod = flowPod({ phase: 'Failed', apps: [terminated('flow-container', APP_IMAGE, 143, 'Error')] });
      const first = assessPod(pod, {}, NOW, GRACES);
      const second = assessPod(pod, first.memo, NOW + 30_000, GRACES);
      assert.equal(first.assessment.action === 'await-final-report' && first.assessment.since, NOW);
      assert.deepEqual(second.assessment, first.assessment);
      assert.deepEqual(second.memo, { appTerminatedAt: NOW });
    });

    it('awaits the final report with an unknown code when a finished pod has no container statuses', () => {
      const pod = flowPod({ phase: 'Failed', inits: [], apps: [] });
      assert.deepEqual(assessPod(pod, {}, NOW, GRACES).assessment, {
        action: 'await-final-report',
        since: NOW,
        reason: 'the flow container exited with code unknown (pod phase Failed, no container status) before reporting a final status',
      });
    });
  });

  describe('precedence', () => {
    it('puts eviction before OOM', () => {
      const pod = flowPod({
        phase: 'Failed',
        reason: 'Evicted',
        message: 'low memory',
        apps: [terminated('flow-container', APP_IMAGE, 137, 'OOMKilled')],
      });
      assert.equal(stopReason(pod), 'the pod was evicted: low memory');
    });

    it('puts OOM before an init failure', () => {
      const pod = flowPod({
        phase: 'Failed',
        inits: [initDone('jobtype-init-bash', BASH_IMAGE), terminated('vault-agent-init', 'vault:1.15', 1, 'Error')],
        apps: [terminated('flow-container', APP_IMAGE, 137, 'OOMKilled')],
        appMemoryLimit: '1Gi',
      });
      assert.match(stopReason(pod), /^the flow container was killed .* 1Gi \(OOMKilled\)$/);
    });

    it('puts an init failure before a waiting error', () => {
      const pod = flowPod({
        phase: 'Failed',
        inits: [terminated('jobtype-init-bash', BASH_IMAGE, 1, 'Error'), PENDING_INITS[1]!],
        apps: [waiting('flow-container', APP_IMAGE, 'CreateContainerConfigError', 'secret "x" not found')],
      });
      assert.match(stopReason(pod), /^the init container of jobtype bash/);
    });

    it('puts an immediate waiting error before a pull still within its grace, while still remembering the pull', () => {
      const pod = flowPod({
        phase: 'Pending',
        inits: [
          waiting('jobtype-init-bash', BASH_IMAGE, 'ImagePullBackOff'),
          waiting('vault-agent-init', 'vault:1.15', 'InvalidImageName', 'invalid reference format'),
        ],
        apps: APP_INITIALIZING,
      });
      const result = assessPod(pod, {}, NOW, GRACES);
      assert.deepEqual(result, {
        assessment: { action: 'stop', reason: 'invalid image name "vault:1.15" for container vault-agent-init: invalid reference format' },
        memo: { pullFailingSince: NOW },
      });
    });

    it('puts a pull failure past its grace before a flow container exit', () => {
      const pod = flowPod({
        inits: [initDone('jobtype-init-bash', BASH_IMAGE), waiting('vault-agent-init', 'vault:1.15', 'ErrImagePull', 'not found')],
        apps: [terminated('flow-container', APP_IMAGE, 0, 'Completed')],
      });
      assert.match(
        stopReason(pod, { pullFailingSince: NOW - 200_000 }),
        /^could not pull image "vault:1.15" for 200 s \(ErrImagePull: not found\)/,
      );
    });
  });
});

describe('summarising a pod phase for events', () => {
  it('lists each container state compactly', () => {
    const pod = flowPod({
      inits: [initDone('jobtype-init-bash', BASH_IMAGE), terminated('vault-agent-init', 'vault:1.15', 137, 'OOMKilled')],
      apps: [waiting('flow-container', APP_IMAGE, 'ImagePullBackOff')],
    });
    assert.deepEqual(podPhaseSummary(pod), {
      phase: 'Running',
      containers: {
        'jobtype-init-bash': 'terminated:0',
        'vault-agent-init': 'terminated:137:OOMKilled',
        'flow-container': 'waiting:ImagePullBackOff',
      },
    });
  });

  it('carries the pod reason and message', () => {
    const pod = flowPod({
      phase: 'Failed',
      reason: 'Evicted',
      message: 'low on memory',
      inits: [],
      apps: [running('flow-container', APP_IMAGE)],
    });
    assert.deepEqual(podPhaseSummary(pod), {
      phase: 'Failed',
      reason: 'Evicted',
      message: 'low on memory',
      containers: { 'flow-container': 'running' },
    });
  });

  it('explains a pending pod with the scheduler condition', () => {
    const pod = flowPod({
      phase: 'Pending',
      conditions: [condition('PodScheduled', 'False', 'Unschedulable', '0/3 nodes are available')],
      inits: [],
      apps: [],
    });
    assert.deepEqual(podPhaseSummary(pod), {
      phase: 'Pending',
      reason: 'Unschedulable',
      message: '0/3 nodes are available',
      containers: {},
    });
  });
});

describe('naming jobtypes and deleted pods', () => {
  it('reads the jobtype from an init container name', () => {
    assert.equal(jobtypeOfInitContainer('jobtype-init-bash'), 'bash');
    assert.equal(jobtypeOfInitContainer('jobtype-init-'), undefined);
    assert.equal(jobtypeOfInitContainer('vault-agent-init'), undefined);
  });

  it('kills an execution whose pod was deleted after a cancel', () => {
    assert.deepEqual(podDeletedReason(true), { status: 'KILLED' });
  });

  it('stops an execution whose pod was deleted under it', () => {
    assert.deepEqual(podDeletedReason(false), {
      status: 'EXECUTION_STOPPED',
      reason: 'the pod was deleted while the execution was running',
    });
  });
});
