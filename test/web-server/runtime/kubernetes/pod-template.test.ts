import assert from 'node:assert/strict';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { buildPod } from '../../../../web-server/src/runtime/kubernetes/pod-spec.js';
import { mergePodTemplate } from '../../../../web-server/src/runtime/kubernetes/pod-template.js';
import { validateObject } from '../../../support/fake-kube/validate.js';
import { testPlan, testSettings } from './fixtures.js';

function generated(): V1Pod {
  return buildPod(testPlan({ maxRunningMs: 60_000 }), testSettings());
}

function container(pod: V1Pod, name: string, init = false): V1Container {
  const c = (init ? pod.spec?.initContainers : pod.spec?.containers)?.find((x) => x.name === name);
  assert.ok(c, `the pod has container ${name}`);
  return c;
}

function specField(pod: V1Pod, field: string): unknown {
  return (pod.spec as unknown as Record<string, unknown>)[field];
}

const POD_LEVEL = {
  serviceAccountName: 'flow-runner',
  nodeSelector: { pool: 'batch' },
  tolerations: [{ key: 'batch', operator: 'Exists', effect: 'NoSchedule' }],
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
      },
    },
  },
  imagePullSecrets: [{ name: 'registry' }],
  priorityClassName: 'batch-low',
  securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 },
  schedulerName: 'batch-scheduler',
  runtimeClassName: 'gvisor',
  dnsPolicy: 'ClusterFirst',
  hostAliases: [{ ip: '10.0.0.1', hostnames: ['hdfs.local'] }],
  terminationGracePeriodSeconds: 45,
};

describe('pod template merge', () => {
  it('returns the generated pod unchanged without a template', () => {
    assert.deepEqual(mergePodTemplate(generated(), undefined), generated());
  });

  it('keeps every pod-level field the template sets (a Pod template)', () => {
    const pod = mergePodTemplate(generated(), { apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: { ...POD_LEVEL, containers: [] } });
    for (const [field, value] of Object.entries(POD_LEVEL)) assert.deepEqual(specField(pod, field), value, field);
    assert.deepEqual(validateObject('pods', 'flows', pod), []);
  });

  it('accepts a bare pod spec as the template', () => {
    const pod = mergePodTemplate(generated(), { ...POD_LEVEL, containers: [] });
    for (const [field, value] of Object.entries(POD_LEVEL)) assert.deepEqual(specField(pod, field), value, field);
    assert.deepEqual(mergePodTemplate(generated(), { nodeSelector: { pool: 'x' } }).spec?.nodeSelector, { pool: 'x' });
  });

  it('refuses a template of another kind', () => {
    assert.throws(
      () => mergePodTemplate(generated(), { kind: 'Deployment', spec: {} }),
      /must be a Pod or a pod spec, got kind "Deployment"/,
    );
  });

  it('keeps the fields Caisson controls, and drops a template deadline when the flow has none', () => {
    const template = {
      spec: {
        restartPolicy: 'Always',
        automountServiceAccountToken: true,
        enableServiceLinks: true,
        activeDeadlineSeconds: 5,
        containers: [],
      },
    };
    const pod = mergePodTemplate(generated(), template);
    assert.equal(pod.spec?.restartPolicy, 'Never');
    assert.equal(pod.spec?.automountServiceAccountToken, false);
    assert.equal(pod.spec?.enableServiceLinks, false);
    assert.equal(pod.spec?.activeDeadlineSeconds, 660);
    const noDeadline = mergePodTemplate(buildPod(testPlan(), testSettings()), template);
    assert.equal('activeDeadlineSeconds' in (noDeadline.spec ?? {}), false);
  });

  it('adds template volumes after ours and never replaces ours', () => {
    const template = {
      spec: {
        containers: [],
        volumes: [
          { name: 'work', hostPath: { path: '/data' } },
          { name: 'hadoop-conf', configMap: { name: 'hadoop-conf' } },
        ],
      },
    };
    const pod = mergePodTemplate(generated(), template);
    assert.deepEqual(pod.spec?.volumes, [
      { name: 'jobtypes', emptyDir: { sizeLimit: '2Gi' } },
      { name: 'work', emptyDir: { sizeLimit: '2Gi' } },
      { name: 'hadoop-conf', configMap: { name: 'hadoop-conf' } },
    ]);
  });

  it('merges labels and annotations, ours winning on our keys', () => {
    const template = {
      metadata: {
        name: 'ignored',
        namespace: 'ignored',
        labels: { team: 'data', 'caisson.io/cluster': 'evil' },
        annotations: { 'sidecar.istio.io/inject': 'false', 'caisson.io/flow': 'evil' },
      },
      spec: { containers: [] },
    };
    const pod = mergePodTemplate(generated(), template);
    assert.equal(pod.metadata?.name, 'fc-prod-42');
    assert.equal(pod.metadata?.namespace, 'flows');
    assert.equal(pod.metadata?.labels?.team, 'data');
    assert.equal(pod.metadata?.labels?.['caisson.io/cluster'], 'prod');
    assert.equal(pod.metadata?.annotations?.['sidecar.istio.io/inject'], 'false');
    assert.equal(pod.metadata?.annotations?.['caisson.io/flow'], 'daily');
  });

  it('keeps template-only containers as sidecars after ours, and template init containers before ours', () => {
    const template = {
      spec: {
        initContainers: [{ name: 'fetch-keytab', image: 'busybox:1.36', command: ['true'] }],
        containers: [{ name: 'log-agent', image: 'fluent-bit:3' }],
      },
    };
    const pod = mergePodTemplate(generated(), template);
    assert.deepEqual(
      pod.spec?.initContainers?.map((c) => c.name),
      ['fetch-keytab', 'jobtype-init-hive-cli', 'jobtype-init-spark'],
    );
    assert.deepEqual(
      pod.spec?.containers.map((c) => c.name),
      ['flow-container', 'log-agent'],
    );
    assert.deepEqual(container(pod, 'log-agent'), { name: 'log-agent', image: 'fluent-bit:3' });
    assert.deepEqual(validateObject('pods', 'flows', pod), []);
  });

  it('merges a template flow-container into ours by name, ours winning', () => {
    const template = {
      spec: {
        volumes: [{ name: 'hadoop-conf', configMap: { name: 'hadoop-conf' } }],
        containers: [
          {
            name: 'flow-container',
            image: 'evil:latest',
            imagePullPolicy: 'Never',
            command: ['/bin/evil'],
            args: ['--x'],
            securityContext: { allowPrivilegeEscalation: false },
            workingDir: '/caisson/work',
            ports: [
              { name: 'control', containerPort: 9999 },
              { name: 'metrics', containerPort: 9100 },
            ],
            env: [
              { name: 'HADOOP_CONF_DIR', value: '/etc/hadoop' },
              { name: 'CAISSON_CONTROL_HOST', value: '127.0.0.1' },
              { name: 'TZ', value: 'UTC' },
            ],
            envFrom: [{ configMapRef: { name: 'flow-env' } }],
            volumeMounts: [
              { name: 'hadoop-conf', mountPath: '/etc/hadoop' },
              { name: 'hadoop-conf', mountPath: '/caisson/work' },
            ],
            resources: { requests: { cpu: '8', 'nvidia.com/gpu': '1' }, limits: { memory: '99Gi', 'nvidia.com/gpu': '1' } },
          },
        ],
      },
    };
    const pod = mergePodTemplate(generated(), template);
    const app = container(pod, 'flow-container');
    assert.equal(app.image, 'registry.example.com/caisson/flow-container:2.0.1');
    assert.equal(app.imagePullPolicy, 'IfNotPresent');
    assert.equal(app.command, undefined);
    assert.equal(app.args, undefined);
    assert.deepEqual(app.securityContext, { allowPrivilegeEscalation: false });
    assert.equal(app.workingDir, '/caisson/work');
    assert.deepEqual(app.envFrom, [{ configMapRef: { name: 'flow-env' } }]);
    assert.deepEqual(app.ports, [
      { name: 'control', containerPort: 8090, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9100 },
    ]);
    const env = app.env ?? [];
    assert.deepEqual(
      env.find((e) => e.name === 'HADOOP_CONF_DIR'),
      { name: 'HADOOP_CONF_DIR', value: '/etc/hadoop' },
    );
    assert.deepEqual(
      env.filter((e) => e.name === 'CAISSON_CONTROL_HOST'),
      [{ name: 'CAISSON_CONTROL_HOST', value: '0.0.0.0' }],
    );
    assert.deepEqual(
      env.filter((e) => e.name === 'TZ'),
      [{ name: 'TZ', value: 'Europe/Paris' }],
    );
    assert.equal(env.at(-1)?.name, 'HADOOP_CONF_DIR', 'template variables follow ours');
    assert.deepEqual(app.volumeMounts, [
      { name: 'jobtypes', mountPath: '/caisson/jobtypes' },
      { name: 'work', mountPath: '/caisson/work' },
      { name: 'hadoop-conf', mountPath: '/etc/hadoop' },
    ]);
    assert.deepEqual(app.resources, {
      requests: { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '2Gi', 'nvidia.com/gpu': '1' },
      limits: { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '2Gi', 'nvidia.com/gpu': '1' },
    });
    assert.deepEqual(
      pod.spec?.containers.map((c) => c.name),
      ['flow-container'],
    );
    assert.deepEqual(validateObject('pods', 'flows', pod), []);
  });

  it('merges a template jobtype init container into ours and drops those of jobtypes this run does not use', () => {
    const template = {
      spec: {
        containers: [],
        initContainers: [
          { name: 'jobtype-init-spark', image: 'evil', securityContext: { runAsUser: 0 }, command: ['evil'] },
          { name: 'jobtype-init-pig', securityContext: { runAsUser: 0 } },
        ],
      },
    };
    const pod = mergePodTemplate(generated(), template);
    assert.deepEqual(
      pod.spec?.initContainers?.map((c) => c.name),
      ['jobtype-init-hive-cli', 'jobtype-init-spark'],
    );
    const spark = container(pod, 'jobtype-init-spark', true);
    assert.equal(spark.image, 'registry.example.com/jobtypes/spark:3.1.0');
    assert.deepEqual(spark.command, ['sh', '-c', 'mkdir -p /caisson/jobtypes/spark && cp -R /caisson/jobtype/. /caisson/jobtypes/spark/']);
    assert.deepEqual(spark.securityContext, { runAsUser: 0 });
    assert.deepEqual(validateObject('pods', 'flows', pod), []);
  });

  it('modifies neither the generated pod nor the template', () => {
    const pod = generated();
    const template = { spec: { nodeSelector: { a: 'b' }, containers: [{ name: 'flow-container', env: [{ name: 'X', value: '1' }] }] } };
    const podCopy = structuredClone(pod);
    const templateCopy = structuredClone(template);
    mergePodTemplate(pod, template);
    assert.deepEqual(pod, podCopy);
    assert.deepEqual(template, templateCopy);
  });
});
