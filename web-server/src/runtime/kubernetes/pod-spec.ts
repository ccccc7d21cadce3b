/**
 * Everything the Kubernetes runtime creates per execution, built from the launch plan: the Secret
 * holding the token, the pod (jobtype init containers + the flow container, merged over the pod
 * template), the Service, and the Ambassador route (a Mapping, or an annotation on the Service).
 * Pure: typed literals, so a misspelt field fails to compile instead of vanishing in the client.
 */
import type { V1Container, V1EnvVar, V1OwnerReference, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { CONTAINER_ENV } from '../../../../common/control-api.js';
import type { LaunchPlan } from '../container-runtime.js';
import { ANNOTATIONS, APP_CONTAINER, executionLabels, executionObjectNames, JOBTYPE_INIT_PREFIX, LABELS } from './names.js';
import { appContainerResources, effectiveRequests, initContainerResources } from './pod-resources.js';
import { mergePodTemplate } from './pod-template.js';
import { POD_PATHS, type KubernetesSettings } from './settings.js';

export {
  APP_CONTAINER,
  JOBTYPE_INIT_PREFIX,
  executionObjectNames,
  executionLabels,
  executionSelectorFor,
  podSelectorFor,
  isOurs,
  controlUrlFor,
} from './names.js';
export { checkResourceRequests } from './pod-resources.js';
export { mergePodTemplate } from './pod-template.js';

/** Key of the token in the execution's Secret. */
export const TOKEN_KEY = 'token';
/** Name of the control port on the pod and the Service. */
export const CONTROL_PORT_NAME = 'control';
/** Seconds the pod may outlive the flow's maximum running time (final report, log shipping). */
export const DEADLINE_SLACK_SECONDS = 600;
/**
 * Envoy's route timeout. 0 disables it: a log read of a large slice may take long, and the web
 * server's own HTTP client bounds every call it makes.
 */
export const ROUTE_TIMEOUT_MS = 0;

const VOLUMES = { jobtypes: 'jobtypes', work: 'work' } as const;

/** An Ambassador/Emissary Mapping (getambassador.io/v3alpha1): the fields Caisson sets. */
export interface AmbassadorMapping {
  apiVersion: 'getambassador.io/v3alpha1';
  kind: 'Mapping';
  metadata: { name: string; namespace: string; labels: Record<string, string>; ownerReferences?: V1OwnerReference[] };
  spec: AmbassadorMappingSpec;
}

export interface AmbassadorMappingSpec {
  hostname: string;
  prefix: string;
  service: string;
  rewrite: string;
  timeout_ms: number;
  ambassador_id?: string[];
}

export interface ExecutionObjects {
  secret: V1Secret;
  pod: V1Pod;
  service: V1Service;
  /** Only in ingress mode `mapping`. */
  mapping?: AmbassadorMapping;
}

type Settings = KubernetesSettings;

/** The Opaque Secret holding the execution token (immutable: a retried launch reuses the same token). */
export function buildSecret(plan: LaunchPlan, settings: Pick<Settings, 'namespace' | 'clusterName'>): V1Secret {
  const token = plan.env[CONTAINER_ENV.token];
  if (!token) throw new Error(`the launch plan of execution ${plan.execId} has no ${CONTAINER_ENV.token}`);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: executionObjectNames(settings.clusterName, plan.execId).secret,
      namespace: settings.namespace,
      labels: executionLabels(settings.clusterName, plan.execId),
    },
    type: 'Opaque',
    immutable: true,
    data: { [TOKEN_KEY]: Buffer.from(token, 'utf8').toString('base64') },
  };
}

/** The generated pod, before the pod template is merged in (see {@link buildExecutionObjects}). */
export function buildPod(plan: LaunchPlan, settings: Settings): V1Pod {
  if (!plan.baseImage) {
    throw new Error(
      `the launch plan of execution ${plan.execId} has no base image: the Kubernetes runtime needs image management to pick the flow container's image`,
    );
  }
  const names = executionObjectNames(settings.clusterName, plan.execId);
  const annotations: Record<string, string> = { [ANNOTATIONS.project]: plan.projectName, [ANNOTATIONS.flow]: plan.flowId };
  if (plan.versionSetId !== null) annotations[ANNOTATIONS.versionSetId] = String(plan.versionSetId);
  const disk = effectiveRequests(plan, settings).disk;
  const app: V1Container = {
    name: APP_CONTAINER,
    image: `${plan.baseImage.path}:${plan.baseImage.version}`,
    imagePullPolicy: settings.imagePullPolicy,
    ports: [{ name: CONTROL_PORT_NAME, containerPort: settings.controlPort, protocol: 'TCP' }],
    env: appContainerEnv(plan, settings, names.secret),
    volumeMounts: [
      { name: VOLUMES.jobtypes, mountPath: POD_PATHS.jobtypes },
      { name: VOLUMES.work, mountPath: POD_PATHS.work },
    ],
    resources: appContainerResources(plan, settings),
  };
  const maxRunningMs = plan.maxRunningMs;
  const initContainers = jobtypeInitContainers(plan, settings);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: names.pod,
      namespace: settings.namespace,
      labels: executionLabels(settings.clusterName, plan.execId),
      annotations,
    },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(maxRunningMs !== undefined && maxRunningMs > 0
        ? { activeDeadlineSeconds: Math.ceil(maxRunningMs / 1000) + DEADLINE_SLACK_SECONDS }
        : {}),
      volumes: [
        { name: VOLUMES.jobtypes, emptyDir: { sizeLimit: disk } },
        { name: VOLUMES.work, emptyDir: { sizeLimit: disk } },
      ],
      ...(initContainers.length > 0 ? { initContainers } : {}),
      containers: [app],
    },
  };
}

/** One init container per jobtype image, copying its payload into `<jobtypes>/<type>/`, in image type order. */
function jobtypeInitContainers(plan: LaunchPlan, settings: Pick<Settings, 'imagePullPolicy'>): V1Container[] {
  const images = [...(plan.jobtypeImages ?? [])].sort((a, b) => (a.imageType < b.imageType ? -1 : a.imageType > b.imageType ? 1 : 0));
  const used = new Set<string>();
  return images.map((image) => {
    const name = uniqueName(jobtypeInitContainerName(image.imageType), used);
    const target = `${POD_PATHS.jobtypes}/${image.imageType}`;
    return {
      name,
      image: `${image.path}:${image.version}`,
      imagePullPolicy: settings.imagePullPolicy,
      command: [
        'sh',
        '-c',
        `mkdir -p ${shellQuote(target)} && cp -R ${shellQuote(`${POD_PATHS.jobtypePayload}/.`)} ${shellQuote(`${target}/`)}`,
      ],
      volumeMounts: [{ name: VOLUMES.jobtypes, mountPath: POD_PATHS.jobtypes }],
      resources: initContainerResources(),
    };
  });
}

/**
 * `jobtype-init-<type>` with the type sanitized to a DNS-1123 label (lower case; anything but
 * a-z, 0-9 becomes '-'; at most 63 characters in all).
 */
export function jobtypeInitContainerName(imageType: string): string {
  const max = 63 - JOBTYPE_INIT_PREFIX.length;
  const part =
    imageType
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+/, '')
      .slice(0, max)
      .replace(/-+$/, '') || 'x';
  return JOBTYPE_INIT_PREFIX + part;
}

function uniqueName(name: string, used: Set<string>): string {
  let candidate = name;
  for (let n = 2; used.has(candidate); n++) {
    const suffix = `-${n}`;
    candidate = name.slice(0, 63 - suffix.length).replace(/-+$/, '') + suffix;
  }
  used.add(candidate);
  return candidate;
}

/** Quotes a word for `sh` unless it is plainly safe. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The app container's environment, sorted by name: the plan's variables (users' `pod.env.var.*`
 * included) except the token, which comes from the Secret; the pod's system variables are set last,
 * so they win. Every `$` is doubled so Kubernetes passes values literally (no `$(VAR)` expansion).
 */
function appContainerEnv(plan: LaunchPlan, settings: Pick<Settings, 'controlPort'>, secretName: string): V1EnvVar[] {
  const values = new Map<string, string>();
  for (const [name, value] of Object.entries(plan.env)) if (name !== CONTAINER_ENV.token) values.set(name, value);
  values.set(CONTAINER_ENV.controlHost, '0.0.0.0');
  values.set(CONTAINER_ENV.controlPort, String(settings.controlPort));
  values.set(CONTAINER_ENV.jobtypesDir, POD_PATHS.jobtypes);
  values.set(CONTAINER_ENV.workDir, POD_PATHS.work);
  const env: V1EnvVar[] = [...values].map(([name, value]) => ({ name, value: value.replace(/\$/g, '$$$$') }));
  env.push({ name: CONTAINER_ENV.token, valueFrom: { secretKeyRef: { name: secretName, key: TOKEN_KEY } } });
  return env.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The ClusterIP Service in front of the pod's control port; in ingress mode `annotation`, it carries the route. */
export function buildService(plan: LaunchPlan, settings: Settings): V1Service {
  const names = executionObjectNames(settings.clusterName, plan.execId);
  const labels = executionLabels(settings.clusterName, plan.execId);
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: names.service, namespace: settings.namespace, labels },
    spec: {
      type: 'ClusterIP',
      selector: { [LABELS.cluster]: settings.clusterName, [LABELS.executionId]: String(plan.execId) },
      ports: [{ name: CONTROL_PORT_NAME, port: settings.controlPort, targetPort: CONTROL_PORT_NAME, protocol: 'TCP' }],
    },
  };
  if (settings.ingressMode === 'annotation') {
    const document = { apiVersion: 'getambassador.io/v3alpha1', kind: 'Mapping', name: names.mapping, ...mappingSpec(plan, settings) };
    service.metadata!.annotations = { [ANNOTATIONS.ambassadorConfig]: stringify(document) };
  }
  return service;
}

/** The Ambassador Mapping routing `<ingress>/<cluster>-<execId>/…` to the Service (ingress mode `mapping`). */
export function buildMapping(plan: LaunchPlan, settings: Settings): AmbassadorMapping {
  const names = executionObjectNames(settings.clusterName, plan.execId);
  return {
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name: names.mapping, namespace: settings.namespace, labels: executionLabels(settings.clusterName, plan.execId) },
    spec: mappingSpec(plan, settings),
  };
}

function mappingSpec(plan: LaunchPlan, settings: Settings): AmbassadorMappingSpec {
  const names = executionObjectNames(settings.clusterName, plan.execId);
  return {
    hostname: '*',
    prefix: names.routePrefix,
    service: `${names.service}.${settings.namespace}:${settings.controlPort}`,
    rewrite: '/',
    timeout_ms: ROUTE_TIMEOUT_MS,
    ...(settings.ambassadorId ? { ambassador_id: [settings.ambassadorId] } : {}),
  };
}

/** Everything one execution needs, the pod template merged into the pod; the Mapping only in ingress mode `mapping`. */
export function buildExecutionObjects(plan: LaunchPlan, settings: Settings): ExecutionObjects {
  return {
    secret: buildSecret(plan, settings),
    pod: mergePodTemplate(buildPod(plan, settings), settings.podTemplate),
    service: buildService(plan, settings),
    ...(settings.ingressMode === 'mapping' ? { mapping: buildMapping(plan, settings) } : {}),
  };
}

/**
 * The owner reference that makes the Secret, Service and Mapping go with the pod (garbage
 * collection). `controller: false`: the pod does not manage them, Caisson does. `blockOwnerDeletion:
 * false`: deleting the pod never waits for them, and it needs no extra RBAC (`pods/finalizers`).
 */
export function ownerReferenceTo(pod: V1Pod): V1OwnerReference {
  const name = pod.metadata?.name;
  const uid = pod.metadata?.uid;
  if (!name || !uid) throw new Error('an owner reference needs the created pod (with its name and uid)');
  return { apiVersion: 'v1', kind: 'Pod', name, uid, controller: false, blockOwnerDeletion: false };
}
