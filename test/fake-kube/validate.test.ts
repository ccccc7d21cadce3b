/**
 * Object validation of the fake API server: the objects Caisson creates pass, and each rule of
 * the official schemas, strict field validation and the API server's own checks rejects a
 * mutated copy with the cause (field, reason) the real server gives.
 */
import assert from 'node:assert/strict';
import type { V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import { KubeApiError } from '../support/fake-kube/types.js';
import type { ResourceName } from '../support/fake-kube/types.js';
import { assertValidObject, validateObject } from '../support/fake-kube/validate.js';
import type { ValidationCause } from '../support/fake-kube/validate.js';

const NS = 'caisson';
const OWNER = { apiVersion: 'v1', kind: 'Pod', name: 'caisson-exec-42', uid: '6f1c2a8e-3d4b-4c5d-9e6f-7a8b9c0d1e2f', controller: true };
const LABELS = { 'app.kubernetes.io/name': 'caisson-flow', 'app.kubernetes.io/managed-by': 'caisson', 'caisson.io/exec-id': '42' };

function validPod(): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'caisson-exec-42',
      namespace: NS,
      labels: LABELS,
      annotations: { 'caisson.io/flow': 'daily-report', 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' },
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: 86400,
      serviceAccountName: 'caisson-flow',
      initContainers: [
        {
          name: 'jobtype-shell',
          image: 'registry.local/caisson/jobtype-shell:1.2.0',
          imagePullPolicy: 'IfNotPresent',
          command: ['cp', '-r', '/jobtype/.', '/jobtypes/shell'],
          volumeMounts: [{ name: 'jobtypes', mountPath: '/jobtypes' }],
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
        },
      ],
      containers: [
        {
          name: 'flow',
          image: 'registry.local/caisson/flow-container:3.4.5',
          env: [
            { name: 'CAISSON_EXEC_ID', value: '42' },
            { name: 'CAISSON_TOKEN', valueFrom: { secretKeyRef: { name: 'caisson-exec-42', key: 'token' } } },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          ports: [{ name: 'control', containerPort: 8080, protocol: 'TCP' }],
          volumeMounts: [
            { name: 'jobtypes', mountPath: '/jobtypes', readOnly: true },
            { name: 'work', mountPath: '/work' },
          ],
          resources: { requests: { cpu: '500m', memory: '512Mi', 'ephemeral-storage': '1Gi' }, limits: { cpu: '1', memory: '1Gi' } },
          readinessProbe: { httpGet: { path: '/healthz', port: 'control' }, periodSeconds: 5 },
        },
      ],
      volumes: [
        { name: 'jobtypes', emptyDir: {} },
        { name: 'work', emptyDir: { sizeLimit: '2Gi' } },
      ],
    },
  };
}

function validService(): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'caisson-exec-42', namespace: NS, labels: LABELS, ownerReferences: [OWNER] },
    spec: {
      type: 'ClusterIP',
      selector: { 'caisson.io/exec-id': '42' },
      ports: [{ name: 'control', port: 8080, targetPort: 'control', protocol: 'TCP' }],
    },
  };
}

function validSecret(): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'caisson-exec-42', namespace: NS, labels: LABELS },
    type: 'Opaque',
    immutable: true,
    data: { token: Buffer.from('s3cr3t-token').toString('base64') },
    stringData: { 'config.json': '{"a":1}' },
  };
}

function validMapping(): Record<string, unknown> {
  return {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name: 'caisson-exec-42', namespace: NS, labels: LABELS, ownerReferences: [OWNER] },
    spec: {
      hostname: '*',
      prefix: '/executions/42/',
      service: 'caisson-exec-42.caisson:8080',
      rewrite: '/',
      timeout_ms: 0,
      ambassador_id: ['caisson'],
    },
  };
}

const VALID: Record<ResourceName, () => object> = { pods: validPod, services: validService, secrets: validSecret, mappings: validMapping };

/** Sets (or, with undefined, deletes) the value at a dotted path (`spec.containers.0.image`) of a copy. */
function withChanges(obj: object, changes: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(obj) as Record<string, unknown>;
  for (const [path, value] of Object.entries(changes)) {
    const segments = path.split('.');
    const last = segments.pop() ?? '';
    let target: Record<string, unknown> = copy;
    for (const segment of segments) target = target[segment] as Record<string, unknown>;
    if (value === undefined) delete target[last];
    else target[last] = value;
  }
  return copy;
}

function causesOf(resource: ResourceName, changes: Record<string, unknown>, namespace = NS): ValidationCause[] {
  return validateObject(resource, namespace, withChanges(VALID[resource](), changes));
}

/** Asserts a cause with this field and reason (and message part) is among the causes. */
function assertCause(causes: ValidationCause[], field: string, reason: string, messagePart?: string): void {
  const found = causes.find(
    (c) => c.field === field && c.reason === reason && (messagePart === undefined || c.message.includes(messagePart)),
  );
  assert.ok(found, `expected ${reason} at ${field}${messagePart ? ` (${messagePart})` : ''}, got ${JSON.stringify(causes, null, 2)}`);
}

describe('fake kube object validation', () => {
  describe('valid objects', () => {
    for (const resource of ['pods', 'services', 'secrets', 'mappings'] as const) {
      it(`accepts the ${resource} Caisson creates`, () => {
        assert.deepEqual(validateObject(resource, NS, VALID[resource]()), []);
      });
    }

    it('accepts server-filled metadata, integer quantities and a numeric targetPort', () => {
      const causes = causesOf('pods', {
        'metadata.uid': 'b4b2c7de-0000-4000-8000-000000000001',
        'metadata.resourceVersion': '17',
        'metadata.creationTimestamp': '2025-01-01T00:00:00Z',
        'spec.containers.0.resources': { requests: { cpu: 1 }, limits: { cpu: 2 } },
      });
      assert.deepEqual(causes, []);
      assert.deepEqual(causesOf('services', { 'spec.ports.0.targetPort': 8080 }), []);
    });

    it('validates a pod in well under 5 ms after warm-up', () => {
      const pod = validPod();
      for (let i = 0; i < 20; i++) validateObject('pods', NS, pod);
      const start = process.hrtime.bigint();
      const rounds = 200;
      for (let i = 0; i < rounds; i++) validateObject('pods', NS, pod);
      const perPodMs = Number(process.hrtime.bigint() - start) / 1e6 / rounds;
      assert.ok(perPodMs < 5, `one pod took ${perPodMs.toFixed(3)} ms`);
    });
  });

  describe('official schemas', () => {
    it('rejects a malformed quantity with the API-server path of the map key', () => {
      const causes = causesOf('pods', { 'spec.containers.0.resources.requests.cpu': 'lots' });
      assert.deepEqual(causes, [
        {
          field: 'spec.containers[0].resources.requests[cpu]',
          reason: 'FieldValueInvalid',
          message: `Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
        },
      ]);
    });

    it('rejects a value of the wrong type', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.ports.0.containerPort': '8080' }),
        'spec.containers[0].ports[0].containerPort',
        'FieldValueInvalid',
        'must be of type integer',
      );
    });

    it('rejects a missing field the schema requires', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.env.1.valueFrom.secretKeyRef.key': undefined }),
        'spec.containers[0].env[1].valueFrom.secretKeyRef.key',
        'FieldValueRequired',
      );
    });

    it('rejects a Secret whose type is not a string', () => {
      assertCause(causesOf('secrets', { type: 7 }), 'type', 'FieldValueInvalid', 'must be of type string');
    });
  });

  describe('unknown fields', () => {
    it('rejects a misspelt container field', () => {
      const causes = causesOf('pods', { 'spec.containers.0.imagePullPolcy': 'Always' });
      assert.deepEqual(causes, [
        {
          field: 'spec.containers[0].imagePullPolcy',
          reason: 'FieldValueInvalid',
          message: 'unknown field "spec.containers[0].imagePullPolcy"',
        },
      ]);
    });

    it('rejects unknown fields at the top level, in metadata, in volume sources and in Services', () => {
      assertCause(causesOf('pods', { specs: {} }), 'specs', 'FieldValueInvalid', 'unknown field');
      assertCause(causesOf('pods', { 'metadata.label': {} }), 'metadata.label', 'FieldValueInvalid', 'unknown field');
      assertCause(
        causesOf('pods', { 'spec.volumes.1.emptyDir.size': '1Gi' }),
        'spec.volumes[1].emptyDir.size',
        'FieldValueInvalid',
        'unknown field',
      );
      assertCause(
        causesOf('services', { 'spec.ports.0.targetport': 80 }),
        'spec.ports[0].targetport',
        'FieldValueInvalid',
        'unknown field',
      );
    });

    it('accepts any keys in maps and free-form fields', () => {
      assert.deepEqual(
        causesOf('pods', {
          'metadata.annotations': { 'any.example.com/Key_1': 'x' },
          'spec.nodeSelector': { 'kubernetes.io/os': 'linux' },
        }),
        [],
      );
    });
  });

  describe('metadata', () => {
    it('requires metadata.name', () => {
      assertCause(causesOf('pods', { 'metadata.name': undefined }), 'metadata.name', 'FieldValueRequired');
    });

    it('rejects a pod name that is not a DNS-1123 subdomain', () => {
      assertCause(
        causesOf('pods', { 'metadata.name': 'Bad_Name' }),
        'metadata.name',
        'FieldValueInvalid',
        'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain',
      );
      assertCause(
        causesOf('secrets', { 'metadata.name': 'a'.repeat(254) }),
        'metadata.name',
        'FieldValueInvalid',
        'must be no more than 253 characters',
      );
      assertCause(causesOf('mappings', { 'metadata.name': '-route' }), 'metadata.name', 'FieldValueInvalid', 'RFC 1123 subdomain');
    });

    it('rejects a service name that is not a DNS-1035 label', () => {
      assertCause(causesOf('services', { 'metadata.name': '42-exec' }), 'metadata.name', 'FieldValueInvalid', 'a DNS-1035 label');
      assertCause(causesOf('services', { 'metadata.name': 'exec.42' }), 'metadata.name', 'FieldValueInvalid', 'a DNS-1035 label');
      assertCause(
        causesOf('services', { 'metadata.name': `s${'a'.repeat(63)}` }),
        'metadata.name',
        'FieldValueInvalid',
        'must be no more than 63 characters',
      );
    });

    it('rejects a metadata.namespace other than the request namespace as a bad request', () => {
      assertCause(
        causesOf('pods', { 'metadata.namespace': 'other' }),
        'metadata.namespace',
        'BadRequest',
        'does not match the namespace sent on the request',
      );
    });

    it('rejects label keys with a bad prefix or name and label values that are not label values', () => {
      assertCause(
        causesOf('pods', { 'metadata.labels': { 'Bad_Prefix/name': 'x' } }),
        'metadata.labels',
        'FieldValueInvalid',
        'prefix part a lowercase RFC 1123 subdomain',
      );
      assertCause(
        causesOf('pods', { 'metadata.labels': { '-name': 'x' } }),
        'metadata.labels',
        'FieldValueInvalid',
        'name part must consist of',
      );
      assertCause(
        causesOf('pods', { 'metadata.labels': { [`k${'a'.repeat(63)}`]: 'x' } }),
        'metadata.labels',
        'FieldValueInvalid',
        'name part must be no more than 63 characters',
      );
      assertCause(
        causesOf('pods', { 'metadata.labels': { a: 'has space' } }),
        'metadata.labels',
        'FieldValueInvalid',
        'Invalid value: "has space": a valid label',
      );
      assertCause(
        causesOf('pods', { 'metadata.labels': { a: 'v'.repeat(64) } }),
        'metadata.labels',
        'FieldValueInvalid',
        'must be no more than 63 characters',
      );
      assert.deepEqual(causesOf('pods', { 'metadata.labels': { a: '' } }), []);
    });

    it('rejects annotation keys that are not qualified names', () => {
      assertCause(
        causesOf('pods', { 'metadata.annotations': { 'a/b/c': 'x' } }),
        'metadata.annotations',
        'FieldValueInvalid',
        'a qualified name',
      );
    });

    it('rejects annotations larger than 256 KiB in total', () => {
      const causes = causesOf('pods', { 'metadata.annotations': { a: 'x'.repeat(200 * 1024), b: 'y'.repeat(60 * 1024) } });
      assert.deepEqual(causes, [
        { field: 'metadata.annotations', reason: 'FieldValueTooLong', message: 'Too long: may not be more than 262144 bytes' },
      ]);
    });

    it('requires apiVersion, kind, name and uid of owner references', () => {
      assertCause(
        causesOf('services', { 'metadata.ownerReferences.0.uid': undefined }),
        'metadata.ownerReferences[0].uid',
        'FieldValueRequired',
      );
      assertCause(
        causesOf('services', { 'metadata.ownerReferences.0.name': '' }),
        'metadata.ownerReferences[0].name',
        'FieldValueInvalid',
        'name must not be empty',
      );
      assertCause(
        causesOf('mappings', { 'metadata.ownerReferences.0.kind': '' }),
        'metadata.ownerReferences[0].kind',
        'FieldValueInvalid',
        'kind must not be empty',
      );
    });

    it('rejects more than one controller owner reference', () => {
      const second = { ...OWNER, name: 'other', uid: '00000000-0000-4000-8000-000000000002' };
      assertCause(
        causesOf('services', { 'metadata.ownerReferences': [OWNER, second] }),
        'metadata.ownerReferences',
        'FieldValueInvalid',
        'Only one reference can have Controller set to true',
      );
    });

    it('rejects a kind that does not match the resource as a bad request', () => {
      assertCause(causesOf('pods', { kind: 'Service' }), 'kind', 'BadRequest');
    });
  });

  describe('pods', () => {
    it('requires at least one container', () => {
      assertCause(causesOf('pods', { 'spec.containers': [] }), 'spec.containers', 'FieldValueRequired');
    });

    it('reports containers that are not a list as a type error, not as missing', () => {
      assert.deepEqual(causesOf('pods', { 'spec.containers': 'flow' }), [
        { field: 'spec.containers', reason: 'FieldValueInvalid', message: 'Invalid value: "flow": must be of type array' },
      ]);
    });

    it('rejects a container name that is not a DNS-1123 label', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.name': 'Bad_Name' }),
        'spec.containers[0].name',
        'FieldValueInvalid',
        `Invalid value: "Bad_Name": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`,
      );
    });

    it('rejects a container name used by an init container', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.name': 'jobtype-shell' }),
        'spec.containers[0].name',
        'FieldValueDuplicate',
        'Duplicate value: "jobtype-shell"',
      );
    });

    it('requires a non-empty image', () => {
      assertCause(causesOf('pods', { 'spec.containers.0.image': '' }), 'spec.containers[0].image', 'FieldValueRequired', 'Required value');
      assertCause(causesOf('pods', { 'spec.initContainers.0.image': undefined }), 'spec.initContainers[0].image', 'FieldValueRequired');
    });

    it('rejects a volume mount naming no volume', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.volumeMounts.1.name': 'scratch' }),
        'spec.containers[0].volumeMounts[1].name',
        'FieldValueNotFound',
        'Not found: "scratch"',
      );
    });

    it('rejects volume names that are not DNS-1123 labels or not unique', () => {
      assertCause(causesOf('pods', { 'spec.volumes.1.name': 'Work' }), 'spec.volumes[1].name', 'FieldValueInvalid', 'RFC 1123 label');
      assertCause(causesOf('pods', { 'spec.volumes.1.name': 'jobtypes' }), 'spec.volumes[1].name', 'FieldValueDuplicate');
    });

    it('requires a volume type', () => {
      assertCause(
        causesOf('pods', { 'spec.volumes.1.emptyDir': undefined }),
        'spec.volumes[1]',
        'FieldValueRequired',
        'must specify a volume type',
      );
    });

    it('requires a mountPath and rejects a mountPath used twice in one container', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.volumeMounts.1.mountPath': '' }),
        'spec.containers[0].volumeMounts[1].mountPath',
        'FieldValueRequired',
      );
      assertCause(
        causesOf('pods', { 'spec.containers.0.volumeMounts.1.mountPath': '/jobtypes' }),
        'spec.containers[0].volumeMounts[1].mountPath',
        'FieldValueInvalid',
        'must be unique',
      );
    });

    it('rejects container ports outside 1-65535', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.ports.0.containerPort': 70000 }),
        'spec.containers[0].ports[0].containerPort',
        'FieldValueInvalid',
        'must be between 1 and 65535, inclusive',
      );
      assertCause(
        causesOf('pods', { 'spec.containers.0.ports.0.containerPort': 0 }),
        'spec.containers[0].ports[0].containerPort',
        'FieldValueRequired',
      );
    });

    it('rejects port names that are not IANA service names', () => {
      const path = 'spec.containers[0].ports[0].name';
      assertCause(
        causesOf('pods', { 'spec.containers.0.ports.0.name': 'control-port-http' }),
        path,
        'FieldValueInvalid',
        'must be no more than 15 characters',
      );
      assertCause(
        causesOf('pods', { 'spec.containers.0.ports.0.name': 'Control' }),
        path,
        'FieldValueInvalid',
        'must contain only alpha-numeric characters',
      );
      assertCause(
        causesOf('pods', { 'spec.containers.0.ports.0.name': '8080' }),
        path,
        'FieldValueInvalid',
        'must contain at least one letter',
      );
      assertCause(
        causesOf('pods', { 'spec.containers.0.ports.0.name': 'a--b' }),
        path,
        'FieldValueInvalid',
        'must not contain consecutive hyphens',
      );
      assertCause(
        causesOf('pods', { 'spec.containers.0.ports.0.name': '-ctl' }),
        path,
        'FieldValueInvalid',
        'must not begin or end with a hyphen',
      );
    });

    it('rejects a port name used twice in one container', () => {
      const ports = [
        { name: 'control', containerPort: 8080 },
        { name: 'control', containerPort: 8081 },
      ];
      assertCause(causesOf('pods', { 'spec.containers.0.ports': ports }), 'spec.containers[0].ports[1].name', 'FieldValueDuplicate');
    });

    it('rejects an unsupported container port protocol', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.ports.0.protocol': 'HTTP' }),
        'spec.containers[0].ports[0].protocol',
        'FieldValueNotSupported',
        'supported values: "SCTP", "TCP", "UDP"',
      );
    });

    it('rejects an unsupported restartPolicy', () => {
      const causes = causesOf('pods', { 'spec.restartPolicy': 'Sometimes' });
      assert.deepEqual(causes, [
        {
          field: 'spec.restartPolicy',
          reason: 'FieldValueNotSupported',
          message: 'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"',
        },
      ]);
    });

    it('rejects env names that are not environment variable names', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.env.0.name': '1ST' }),
        'spec.containers[0].env[0].name',
        'FieldValueInvalid',
        'a valid environment variable name',
      );
      assertCause(causesOf('pods', { 'spec.containers.0.env.0.name': 'A B' }), 'spec.containers[0].env[0].name', 'FieldValueInvalid');
    });

    it('rejects an env var with both value and valueFrom', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.env.1.value': 'inline' }),
        'spec.containers[0].env[1].valueFrom',
        'FieldValueInvalid',
        'may not be specified when `value` is not empty',
      );
    });

    it('requires a key and a name in secretKeyRef', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.env.1.valueFrom.secretKeyRef.key': '' }),
        'spec.containers[0].env[1].valueFrom.secretKeyRef.key',
        'FieldValueRequired',
      );
      assertCause(
        causesOf('pods', { 'spec.containers.0.env.1.valueFrom.secretKeyRef.name': '' }),
        'spec.containers[0].env[1].valueFrom.secretKeyRef.name',
        'FieldValueRequired',
      );
    });

    it('requires exactly one source in valueFrom', () => {
      assertCause(
        causesOf('pods', { 'spec.containers.0.env.1.valueFrom': {} }),
        'spec.containers[0].env[1].valueFrom',
        'FieldValueInvalid',
        'must specify one of',
      );
    });

    it('rejects activeDeadlineSeconds below 1', () => {
      assertCause(
        causesOf('pods', { 'spec.activeDeadlineSeconds': 0 }),
        'spec.activeDeadlineSeconds',
        'FieldValueInvalid',
        'must be between 1 and 2147483647, inclusive',
      );
    });

    it('rejects a request above its limit', () => {
      const causes = causesOf('pods', {
        'spec.containers.0.resources': { requests: { cpu: '1500m', memory: '2Gi' }, limits: { cpu: '1', memory: '2048Mi' } },
      });
      assert.deepEqual(causes, [
        {
          field: 'spec.containers[0].resources.requests[cpu]',
          reason: 'FieldValueInvalid',
          message: 'Invalid value: "1500m": must be less than or equal to cpu limit of 1',
        },
      ]);
    });

    it('rejects a negative quantity', () => {
      assertCause(
        causesOf('pods', { 'spec.initContainers.0.resources.limits.memory': '-1Mi' }),
        'spec.initContainers[0].resources.limits[memory]',
        'FieldValueInvalid',
        'must be greater than or equal to 0',
      );
    });
  });

  describe('services', () => {
    it('requires ports for a ClusterIP service', () => {
      assertCause(causesOf('services', { 'spec.ports': [] }), 'spec.ports', 'FieldValueRequired');
      assert.deepEqual(causesOf('services', { 'spec.ports': [], 'spec.clusterIP': 'None' }), []);
    });

    it('rejects a port outside 1-65535', () => {
      assertCause(
        causesOf('services', { 'spec.ports.0.port': 0 }),
        'spec.ports[0].port',
        'FieldValueInvalid',
        'must be between 1 and 65535, inclusive',
      );
    });

    it('rejects a numeric targetPort outside 1-65535 and a named one that is not an IANA service name', () => {
      assertCause(
        causesOf('services', { 'spec.ports.0.targetPort': 65536 }),
        'spec.ports[0].targetPort',
        'FieldValueInvalid',
        'must be between 1 and 65535, inclusive',
      );
      assertCause(
        causesOf('services', { 'spec.ports.0.targetPort': 'Control_Port' }),
        'spec.ports[0].targetPort',
        'FieldValueInvalid',
        'must contain only alpha-numeric characters',
      );
    });

    it('requires port names when there are several ports, and unique ones', () => {
      const unnamed = [{ name: 'control', port: 8080 }, { port: 8081 }];
      assertCause(causesOf('services', { 'spec.ports': unnamed }), 'spec.ports[1].name', 'FieldValueRequired');
      const twice = [
        { name: 'control', port: 8080 },
        { name: 'control', port: 8081 },
      ];
      assertCause(causesOf('services', { 'spec.ports': twice }), 'spec.ports[1].name', 'FieldValueDuplicate', 'Duplicate value: "control"');
    });

    it('rejects an unsupported protocol and type', () => {
      assertCause(causesOf('services', { 'spec.ports.0.protocol': 'tcp' }), 'spec.ports[0].protocol', 'FieldValueNotSupported');
      assertCause(causesOf('services', { 'spec.type': 'Internal' }), 'spec.type', 'FieldValueNotSupported');
    });

    it('applies the label rules to the selector', () => {
      assertCause(
        causesOf('services', { 'spec.selector': { 'caisson.io/exec-id': 'not valid' } }),
        'spec.selector',
        'FieldValueInvalid',
        'a valid label',
      );
    });
  });

  describe('secrets', () => {
    it('rejects data keys that are not config keys', () => {
      assertCause(causesOf('secrets', { 'data.bad key': 'eA==' }), 'data[bad key]', 'FieldValueInvalid', 'a valid config key');
      assertCause(
        causesOf('secrets', { 'data.token': undefined, data: { '..': 'eA==' } }),
        'data[..]',
        'FieldValueInvalid',
        "must not be '..'",
      );
    });

    it('rejects data values that are not base64', () => {
      assertCause(causesOf('secrets', { 'data.token': 'not base64!' }), 'data[token]', 'FieldValueInvalid', 'illegal base64 data');
    });

    it('rejects stringData keys that are not config keys', () => {
      assertCause(causesOf('secrets', { 'stringData.a/b': 'x' }), 'data[a/b]', 'FieldValueInvalid', 'a valid config key');
    });

    it('rejects a secret larger than 1 MiB', () => {
      const causes = causesOf('secrets', { 'stringData.big': 'x'.repeat(1024 * 1024) });
      assert.deepEqual(causes, [{ field: 'data', reason: 'FieldValueTooLong', message: 'Too long: may not be more than 1048576 bytes' }]);
    });
  });

  describe('mappings', () => {
    it('requires prefix and service', () => {
      assertCause(causesOf('mappings', { 'spec.prefix': undefined }), 'spec.prefix', 'FieldValueRequired');
      assertCause(causesOf('mappings', { 'spec.service': undefined }), 'spec.service', 'FieldValueRequired');
      assertCause(causesOf('mappings', { spec: undefined }), 'spec', 'FieldValueRequired');
    });

    it('requires a prefix starting with / unless it is a regex', () => {
      assertCause(causesOf('mappings', { 'spec.prefix': 'executions/42/' }), 'spec.prefix', 'FieldValueInvalid', "must start with '/'");
      assert.deepEqual(causesOf('mappings', { 'spec.prefix': '^/executions/[0-9]+/', 'spec.prefix_regex': true }), []);
    });

    it('rejects a service that is not [scheme://]name[.namespace][:port]', () => {
      assertCause(causesOf('mappings', { 'spec.service': 'Caisson Exec' }), 'spec.service', 'FieldValueInvalid');
      assertCause(
        causesOf('mappings', { 'spec.service': 'caisson-exec-42:99999' }),
        'spec.service',
        'FieldValueInvalid',
        'port must be between 1 and 65535',
      );
      assert.deepEqual(causesOf('mappings', { 'spec.service': 'http://caisson-exec-42' }), []);
    });

    it('rejects fields of the wrong type', () => {
      assertCause(
        causesOf('mappings', { 'spec.timeout_ms': '3000' }),
        'spec.timeout_ms',
        'FieldValueInvalid',
        'spec.timeout_ms in body must be of type integer: "string"',
      );
      assertCause(
        causesOf('mappings', { 'spec.idle_timeout_ms': -1 }),
        'spec.idle_timeout_ms',
        'FieldValueInvalid',
        'should be greater than or equal to 0',
      );
      assertCause(causesOf('mappings', { 'spec.bypass_auth': 'yes' }), 'spec.bypass_auth', 'FieldValueInvalid');
      assertCause(causesOf('mappings', { 'spec.ambassador_id': [1] }), 'spec.ambassador_id[0]', 'FieldValueInvalid');
      assertCause(causesOf('mappings', { 'spec.headers': { 'x-exec': 42 } }), 'spec.headers[x-exec]', 'FieldValueInvalid');
      assert.deepEqual(
        causesOf('mappings', {
          'spec.ambassador_id': 'caisson',
          'spec.add_request_headers': { 'x-a': 'b', 'x-c': { value: 'd', append: false } },
        }),
        [],
      );
    });

    it('rejects unknown spec, top-level and metadata fields', () => {
      assertCause(causesOf('mappings', { 'spec.timeout': 3000 }), 'spec.timeout', 'FieldValueInvalid', 'unknown field "spec.timeout"');
      assertCause(causesOf('mappings', { specs: {} }), 'specs', 'FieldValueInvalid', 'unknown field');
      assertCause(causesOf('mappings', { 'metadata.label': {} }), 'metadata.label', 'FieldValueInvalid', 'unknown field');
    });
  });

  describe('assertValidObject', () => {
    it('throws 422 Invalid with the causes, worded as the API server', () => {
      const pod = withChanges(validPod(), { 'spec.containers.0.image': '' });
      assert.throws(
        () => assertValidObject('pods', NS, pod),
        (e: unknown) =>
          e instanceof KubeApiError &&
          e.code === 422 &&
          e.reason === 'Invalid' &&
          e.message === 'Pod "caisson-exec-42" is invalid: spec.containers[0].image: Required value' &&
          e.details?.causes?.length === 1,
      );
    });

    it('throws 400 BadRequest for a namespace mismatch', () => {
      assert.throws(
        () => assertValidObject('pods', 'elsewhere', validPod()),
        (e: unknown) => e instanceof KubeApiError && e.code === 400 && e.reason === 'BadRequest',
      );
    });

    it('returns for a valid object', () => {
      assertValidObject('services', NS, validService());
    });
  });
});
