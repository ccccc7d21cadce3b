import assert from 'node:assert/strict';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import {
  buildExecutionObjects,
  buildMapping,
  buildPod,
  buildSecret,
  buildService,
  controlUrlFor,
  executionLabels,
  executionObjectNames,
  executionSelectorFor,
  isOurs,
  jobtypeInitContainerName,
  ownerReferenceTo,
  podSelectorFor,
} from '../../../../web-server/src/runtime/kubernetes/pod-spec.js';
import { validateObject } from '../../../support/fake-kube/validate.js';
import { testPlan, testSettings, TOKEN } from './fixtures.js';

const LABELS = {
  'app.kubernetes.io/name': 'caisson',
  'app.kubernetes.io/component': 'flow-container',
  'app.kubernetes.io/managed-by': 'caisson',
  'app.kubernetes.io/instance': 'prod',
  'caisson.io/cluster': 'prod',
  'caisson.io/execution-id': '42',
};

function appContainer(pod: V1Pod): V1Container {
  const c = pod.spec?.containers.find((x) => x.name === 'flow-container');
  assert.ok(c, 'the pod has a flow-container');
  return c;
}

function envOf(pod: V1Pod): Record<string, string> {
  return Object.fromEntries((appContainer(pod).env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

describe('Kubernetes pod spec', () => {
  describe('names and labels', () => {
    it('derives every object name and the route prefix from the cluster and execution id', () => {
      assert.deepEqual(executionObjectNames('prod', 42), {
        pod: 'fc-prod-42',
        secret: 'fc-prod-42-token',
        service: 'fc-prod-42',
        mapping: 'fc-prod-42',
        routePrefix: '/prod-42/',
      });
    });

    it('keeps the longest cluster name and execution id within a DNS label', () => {
      const cluster = `a${'b'.repeat(38)}9`;
      const names = executionObjectNames(cluster, Number.MAX_SAFE_INTEGER);
      assert.equal(names.service.length, 60);
      assert.match(names.service, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    });

    it('refuses a cluster name that is not a DNS label and an execution id that is not positive', () => {
      assert.throws(() => executionObjectNames('Prod', 1), /cluster name "Prod" is not a lower-case DNS label/);
      assert.throws(() => executionObjectNames('a'.repeat(41), 1), /not a lower-case DNS label of at most 40 characters/);
      assert.throws(() => executionObjectNames('prod', 0), /execution id 0 is not a positive integer/);
    });

    it('labels every object with the app.kubernetes.io and caisson.io labels', () => {
      assert.deepEqual(executionLabels('prod', 42), LABELS);
    });

    it('selects all pods of a cluster, or those of one execution', () => {
      assert.equal(
        podSelectorFor('prod'),
        'app.kubernetes.io/managed-by=caisson,app.kubernetes.io/component=flow-container,caisson.io/cluster=prod',
      );
      assert.equal(executionSelectorFor('prod', 42), `${podSelectorFor('prod')},caisson.io/execution-id=42`);
    });

    it('recognizes its own objects by managed-by, cluster and execution id', () => {
      assert.equal(isOurs(LABELS, 'prod', 42), true);
      assert.equal(isOurs(LABELS, 'prod', 43), false);
      assert.equal(isOurs(LABELS, 'staging', 42), false);
      assert.equal(isOurs({ ...LABELS, 'app.kubernetes.io/managed-by': 'helm' }, 'prod', 42), false);
      assert.equal(isOurs(undefined, 'prod', 42), false);
    });

    it('sanitizes jobtype init container names to DNS-1123 labels', () => {
      assert.equal(jobtypeInitContainerName('hive_cli'), 'jobtype-init-hive-cli');
      assert.equal(jobtypeInitContainerName('Spark.SQL'), 'jobtype-init-spark-sql');
      assert.equal(jobtypeInitContainerName('_x_'), 'jobtype-init-x');
      assert.equal(jobtypeInitContainerName('y'.repeat(80)).length, 63);
    });
  });

  describe('secret', () => {
    it('holds the token under key token in an immutable Opaque secret', () => {
      const secret = buildSecret(testPlan(), testSettings());
      assert.deepEqual(secret, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'fc-prod-42-token', namespace: 'flows', labels: LABELS },
        type: 'Opaque',
        immutable: true,
        data: { token: Buffer.from(TOKEN).toString('base64') },
      });
      assert.deepEqual(validateObject('secrets', 'flows', secret), []);
    });

    it('refuses a plan without a token', () => {
      const plan = testPlan();
      delete plan.env.CAISSON_EXEC_TOKEN;
      assert.throws(() => buildSecret(plan, testSettings()), /execution 42 has no CAISSON_EXEC_TOKEN/);
    });
  });

  describe('pod', () => {
    it('is a never-restarting pod without service-account token or service links, with its labels and annotations', () => {
      const pod = buildPod(testPlan(), testSettings());
      assert.deepEqual(pod.metadata, {
        name: 'fc-prod-42',
        namespace: 'flows',
        labels: LABELS,
        annotations: { 'caisson.io/project': 'etl', 'caisson.io/flow': 'daily', 'caisson.io/version-set-id': '7' },
      });
      assert.equal(pod.spec?.restartPolicy, 'Never');
      assert.equal(pod.spec?.automountServiceAccountToken, false);
      assert.equal(pod.spec?.enableServiceLinks, false);
      assert.equal('activeDeadlineSeconds' in (pod.spec ?? {}), false);
      assert.deepEqual(pod.spec?.volumes, [
        { name: 'jobtypes', emptyDir: { sizeLimit: '2Gi' } },
        { name: 'work', emptyDir: { sizeLimit: '2Gi' } },
      ]);
      assert.deepEqual(validateObject('pods', 'flows', pod), []);
    });

    it('has no version-set annotation when the plan has no version set', () => {
      const pod = buildPod(testPlan({ versionSetId: null }), testSettings());
      assert.deepEqual(pod.metadata?.annotations, { 'caisson.io/project': 'etl', 'caisson.io/flow': 'daily' });
    });

    it('copies each jobtype payload in its own init container, in image type order', () => {
      const pod = buildPod(testPlan(), testSettings({ imagePullPolicy: 'Always' }));
      const small = { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } };
      assert.deepEqual(pod.spec?.initContainers, [
        {
          name: 'jobtype-init-hive-cli',
          image: 'registry.example.com/jobtypes/hive:1.2',
          imagePullPolicy: 'Always',
          command: ['sh', '-c', 'mkdir -p /caisson/jobtypes/hive_cli && cp -R /caisson/jobtype/. /caisson/jobtypes/hive_cli/'],
          volumeMounts: [{ name: 'jobtypes', mountPath: '/caisson/jobtypes' }],
          resources: small,
        },
        {
          name: 'jobtype-init-spark',
          image: 'registry.example.com/jobtypes/spark:3.1.0',
          imagePullPolicy: 'Always',
          command: ['sh', '-c', 'mkdir -p /caisson/jobtypes/spark && cp -R /caisson/jobtype/. /caisson/jobtypes/spark/'],
          volumeMounts: [{ name: 'jobtypes', mountPath: '/caisson/jobtypes' }],
          resources: small,
        },
      ]);
    });

    it('keeps init container names unique and quotes odd jobtype names for the shell', () => {
      const plan = testPlan({
        jobtypeImages: [
          { imageType: 'a_b', path: 'r/a', version: '1' },
          { imageType: "a'b", path: 'r/b', version: '1' },
        ],
      });
      const init = buildPod(plan, testSettings()).spec?.initContainers ?? [];
      assert.deepEqual(
        init.map((c) => c.name),
        ['jobtype-init-a-b', 'jobtype-init-a-b-2'],
      );
      assert.deepEqual(
        init[0]?.command?.[2],
        `mkdir -p '/caisson/jobtypes/a'\\''b' && cp -R /caisson/jobtype/. '/caisson/jobtypes/a'\\''b/'`,
      );
      assert.deepEqual(validateObject('pods', 'flows', buildPod(plan, testSettings())), []);
    });

    it('has no init containers when the flow needs no jobtype image', () => {
      const pod = buildPod(testPlan({ jobtypeImages: [] }), testSettings());
      assert.equal(pod.spec?.initContainers, undefined);
      assert.deepEqual(validateObject('pods', 'flows', pod), []);
    });

    it('runs the base image with the control port and both volumes mounted', () => {
      const app = appContainer(buildPod(testPlan(), testSettings()));
      assert.equal(app.image, 'registry.example.com/caisson/flow-container:2.0.1');
      assert.equal(app.imagePullPolicy, 'IfNotPresent');
      assert.equal(app.command, undefined);
      assert.deepEqual(app.ports, [{ name: 'control', containerPort: 8090, protocol: 'TCP' }]);
      assert.deepEqual(app.volumeMounts, [
        { name: 'jobtypes', mountPath: '/caisson/jobtypes' },
        { name: 'work', mountPath: '/caisson/work' },
      ]);
    });

    it('refuses a plan without a base image', () => {
      assert.throws(() => buildPod(testPlan({ baseImage: undefined }), testSettings()), /execution 42 has no base image/);
    });

    it('passes the environment sorted by name, the token only through the secret', () => {
      const app = appContainer(buildPod(testPlan(), testSettings()));
      assert.deepEqual(app.env, [
        { name: 'CAISSON_API_URL', value: 'http://caisson.caisson.svc:8081' },
        { name: 'CAISSON_CLUSTER', value: 'prod' },
        { name: 'CAISSON_CONTROL_HOST', value: '0.0.0.0' },
        { name: 'CAISSON_CONTROL_PORT', value: '8090' },
        { name: 'CAISSON_EXEC_ID', value: '42' },
        { name: 'CAISSON_EXEC_TOKEN', valueFrom: { secretKeyRef: { name: 'fc-prod-42-token', key: 'token' } } },
        { name: 'CAISSON_JOBTYPES_DIR', value: '/caisson/jobtypes' },
        { name: 'CAISSON_VERSION_SET_ID', value: '7' },
        { name: 'CAISSON_WORK_DIR', value: '/caisson/work' },
        { name: 'TZ', value: 'Europe/Paris' },
      ]);
      assert.ok(!JSON.stringify(app).includes(TOKEN), 'the raw token is nowhere in the container');
    });

    it('never lets user variables replace the system ones', () => {
      const plan = testPlan();
      Object.assign(plan.env, {
        CAISSON_CONTROL_HOST: '127.0.0.1',
        CAISSON_WORK_DIR: '/tmp',
        CAISSON_CONTROL_PORT: '1',
        CAISSON_JOBTYPES_DIR: '/x',
      });
      const env = envOf(buildPod(plan, testSettings()));
      assert.equal(env.CAISSON_CONTROL_HOST, '0.0.0.0');
      assert.equal(env.CAISSON_CONTROL_PORT, '8090');
      assert.equal(env.CAISSON_WORK_DIR, '/caisson/work');
      assert.equal(env.CAISSON_JOBTYPES_DIR, '/caisson/jobtypes');
      const tokenVars = (appContainer(buildPod(plan, testSettings())).env ?? []).filter((e) => e.name === 'CAISSON_EXEC_TOKEN');
      assert.equal(tokenVars.length, 1);
    });

    it('escapes $ so Kubernetes passes user values literally', () => {
      const env = envOf(buildPod(testPlan({ env: { ...testPlan().env, PASS: 'a$b$$c$(HOME)' } }), testSettings()));
      assert.equal(env.PASS, 'a$$b$$$$c$$(HOME)');
    });

    it('requests the default resources with limits equal to them', () => {
      assert.deepEqual(appContainer(buildPod(testPlan(), testSettings())).resources, {
        requests: { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '2Gi' },
        limits: { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '2Gi' },
      });
    });

    it("requests the flow's own resources and sets limits to requests × the limit multiple", () => {
      const plan = testPlan({ resources: { cpu: '2', memory: '3Gi', disk: ' 10Gi ' } });
      const pod = buildPod(plan, testSettings({ limitMultiple: 2 }));
      assert.deepEqual(appContainer(pod).resources, {
        requests: { cpu: '2', memory: '3Gi', 'ephemeral-storage': '10Gi' },
        limits: { cpu: '4000m', memory: '6144Mi', 'ephemeral-storage': '20480Mi' },
      });
      assert.deepEqual(pod.spec?.volumes?.[1], { name: 'work', emptyDir: { sizeLimit: '10Gi' } });
      assert.deepEqual(validateObject('pods', 'flows', pod), []);
    });

    it('mixes the defaults with the resources the flow sets', () => {
      const pod = buildPod(testPlan({ resources: { memory: '512Mi' } }), testSettings({ limitMultiple: 2 }));
      assert.deepEqual(appContainer(pod).resources, {
        requests: { cpu: '500m', memory: '512Mi', 'ephemeral-storage': '2Gi' },
        limits: { cpu: '1000m', memory: '1024Mi', 'ephemeral-storage': '4096Mi' },
      });
    });

    it('ends the pod 10 minutes after the maximum running time of the flow', () => {
      assert.equal(buildPod(testPlan({ maxRunningMs: 3_600_000 }), testSettings()).spec?.activeDeadlineSeconds, 4200);
      assert.equal(buildPod(testPlan({ maxRunningMs: 1500 }), testSettings()).spec?.activeDeadlineSeconds, 602);
    });
  });

  describe('service and route', () => {
    it('is a ClusterIP service selecting the execution pod by cluster and execution id', () => {
      const service = buildService(testPlan(), testSettings());
      assert.deepEqual(service, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'fc-prod-42', namespace: 'flows', labels: LABELS },
        spec: {
          type: 'ClusterIP',
          selector: { 'caisson.io/cluster': 'prod', 'caisson.io/execution-id': '42' },
          ports: [{ name: 'control', port: 8090, targetPort: 'control', protocol: 'TCP' }],
        },
      });
      assert.deepEqual(validateObject('services', 'flows', service), []);
    });

    it('routes the execution prefix to the service with a Mapping', () => {
      const mapping = buildMapping(testPlan(), testSettings());
      assert.deepEqual(mapping, {
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Mapping',
        metadata: { name: 'fc-prod-42', namespace: 'flows', labels: LABELS },
        spec: { hostname: '*', prefix: '/prod-42/', service: 'fc-prod-42.flows:8090', rewrite: '/', timeout_ms: 0 },
      });
      assert.deepEqual(validateObject('mappings', 'flows', mapping), []);
    });

    it('names the ambassador id on the Mapping when one is configured', () => {
      assert.deepEqual(buildMapping(testPlan(), testSettings({ ambassadorId: 'internal' })).spec.ambassador_id, ['internal']);
    });

    it('carries the route as a getambassador.io/config annotation in annotation mode', () => {
      const service = buildService(testPlan(), testSettings({ ingressMode: 'annotation', ambassadorId: 'internal' }));
      const config = service.metadata?.annotations?.['getambassador.io/config'];
      assert.ok(config);
      assert.deepEqual(parse(config), {
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Mapping',
        name: 'fc-prod-42',
        hostname: '*',
        prefix: '/prod-42/',
        service: 'fc-prod-42.flows:8090',
        rewrite: '/',
        timeout_ms: 0,
        ambassador_id: ['internal'],
      });
      assert.deepEqual(validateObject('services', 'flows', service), []);
    });

    it('has no route annotation in the other modes', () => {
      assert.equal(buildService(testPlan(), testSettings({ ingressMode: 'mapping' })).metadata?.annotations, undefined);
      assert.equal(buildService(testPlan(), testSettings({ ingressMode: 'none', ingressUrl: '' })).metadata?.annotations, undefined);
    });

    it('reaches the control API through the ingress, or the service in mode none', () => {
      assert.equal(controlUrlFor(testSettings({ ingressMode: 'mapping' }), 'prod', 42), 'https://ingress.example.com/prod-42');
      assert.equal(
        controlUrlFor(testSettings({ ingressMode: 'annotation', ingressUrl: 'http://gw/base/' }), 'prod', 42),
        'http://gw/base/prod-42',
      );
      assert.equal(controlUrlFor(testSettings({ ingressMode: 'none', ingressUrl: '' }), 'prod', 42), 'http://fc-prod-42.flows.svc:8090');
      assert.throws(() => controlUrlFor(testSettings({ ingressMode: 'mapping', ingressUrl: '' }), 'prod', 42), /needs the ingress URL/);
    });
  });

  describe('all objects of an execution', () => {
    it('builds a mapping only in mapping mode, and merges the pod template', () => {
      const template = { spec: { serviceAccountName: 'flows', containers: [] } };
      const objects = buildExecutionObjects(testPlan(), testSettings({ podTemplate: template }));
      assert.deepEqual(Object.keys(objects), ['secret', 'pod', 'service', 'mapping']);
      assert.equal(objects.pod.spec?.serviceAccountName, 'flows');
      assert.deepEqual(validateObject('pods', 'flows', objects.pod), []);
      assert.deepEqual(validateObject('secrets', 'flows', objects.secret), []);
      assert.deepEqual(validateObject('services', 'flows', objects.service), []);
      assert.deepEqual(validateObject('mappings', 'flows', objects.mapping), []);
      assert.deepEqual(Object.keys(buildExecutionObjects(testPlan(), testSettings({ ingressMode: 'annotation' }))), [
        'secret',
        'pod',
        'service',
      ]);
      assert.deepEqual(Object.keys(buildExecutionObjects(testPlan(), testSettings({ ingressMode: 'none', ingressUrl: '' }))), [
        'secret',
        'pod',
        'service',
      ]);
    });

    it('makes the created pod the owner of the other objects, without controlling or blocking', () => {
      const pod = { ...buildPod(testPlan(), testSettings()) };
      pod.metadata = { ...pod.metadata, uid: '0b6c3d2e-1f00-4a5b-9c7d-8e9f00112233' };
      assert.deepEqual(ownerReferenceTo(pod), {
        apiVersion: 'v1',
        kind: 'Pod',
        name: 'fc-prod-42',
        uid: '0b6c3d2e-1f00-4a5b-9c7d-8e9f00112233',
        controller: false,
        blockOwnerDeletion: false,
      });
      assert.throws(() => ownerReferenceTo(buildPod(testPlan(), testSettings())), /needs the created pod/);
      const secret = { ...buildSecret(testPlan(), testSettings()) };
      secret.metadata = { ...secret.metadata, ownerReferences: [ownerReferenceTo(pod)] };
      assert.deepEqual(validateObject('secrets', 'flows', secret), []);
    });
  });
});
