/**
 * Names, labels and URLs of what the Kubernetes runtime creates per execution. Every name derives
 * from the cluster name and the execution id, so a retried launch finds (adopts) what exists. Pure.
 */
import type { KubernetesSettings } from './settings.js';

export interface ExecutionObjectNames {
  /** Pod `fc-<cluster>-<execId>`. */
  pod: string;
  /** Secret holding the execution token: `fc-<cluster>-<execId>-token`. */
  secret: string;
  /** Service `fc-<cluster>-<execId>` (a DNS-1035 label). */
  service: string;
  /** Ambassador Mapping `fc-<cluster>-<execId>` (ingress mode `mapping`; in mode `annotation`, the route's name). */
  mapping: string;
  /** Path prefix of the execution's route on the ingress: `/<cluster>-<execId>/`. */
  routePrefix: string;
}

const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Whether `name` is a DNS-1123 label (lower-case alphanumerics and '-', at most 63 characters). */
export function isDns1123Label(name: string): boolean {
  return DNS_1123_LABEL.test(name);
}

function checkExecution(clusterName: string, execId: number): void {
  if (!/^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/.test(clusterName)) {
    throw new Error(`cluster name "${clusterName}" is not a lower-case DNS label of at most 40 characters`);
  }
  if (!Number.isSafeInteger(execId) || execId < 1) throw new Error(`execution id ${execId} is not a positive integer`);
}

export function executionObjectNames(clusterName: string, execId: number): ExecutionObjectNames {
  checkExecution(clusterName, execId);
  const base = `fc-${clusterName}-${execId}`;
  const names = { pod: base, secret: `${base}-token`, service: base, mapping: base, routePrefix: `/${clusterName}-${execId}/` };
  // At most 3 + 40 + 1 + 16 = 60 characters; the secret name (+6) is a subdomain, which may be longer.
  if (
    !DNS_1123_LABEL.test(names.pod) ||
    !DNS_1035_LABEL.test(names.service) ||
    names.secret.length > 253 ||
    !DNS_1123_SUBDOMAIN.test(names.secret)
  ) {
    throw new Error(`object names of execution ${execId} in cluster "${clusterName}" are not valid DNS names: ${base}`);
  }
  return names;
}

/** Name of the app container (the flow container). */
export const APP_CONTAINER = 'flow-container';
/** Prefix of the init container that copies one jobtype payload (`jobtype-init-<type>`). */
export const JOBTYPE_INIT_PREFIX = 'jobtype-init-';

export const LABELS = {
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  instance: 'app.kubernetes.io/instance',
  cluster: 'caisson.io/cluster',
  executionId: 'caisson.io/execution-id',
} as const;

export const ANNOTATIONS = {
  versionSetId: 'caisson.io/version-set-id',
  project: 'caisson.io/project',
  flow: 'caisson.io/flow',
  ambassadorConfig: 'getambassador.io/config',
} as const;

/** The labels of every object of one execution (DESIGN §9). */
export function executionLabels(clusterName: string, execId: number): Record<string, string> {
  checkExecution(clusterName, execId);
  return {
    [LABELS.name]: 'caisson',
    [LABELS.component]: 'flow-container',
    [LABELS.managedBy]: 'caisson',
    [LABELS.instance]: clusterName,
    [LABELS.cluster]: clusterName,
    [LABELS.executionId]: String(execId),
  };
}

/** Label selector of every flow pod (and Secret, Service, Mapping) of this cluster. */
export function podSelectorFor(clusterName: string): string {
  return `${LABELS.managedBy}=caisson,${LABELS.component}=flow-container,${LABELS.cluster}=${clusterName}`;
}

/** Label selector of the objects of one execution. */
export function executionSelectorFor(clusterName: string, execId: number): string {
  return `${podSelectorFor(clusterName)},${LABELS.executionId}=${execId}`;
}

/** Whether an object with these labels is one Caisson created for this execution of this cluster. */
export function isOurs(labels: Readonly<Record<string, string>> | undefined, clusterName: string, execId: number): boolean {
  return (
    labels !== undefined &&
    labels[LABELS.managedBy] === 'caisson' &&
    labels[LABELS.cluster] === clusterName &&
    labels[LABELS.executionId] === String(execId)
  );
}

/** Where the web server calls the execution's control API: through the ingress, or the Service directly (mode none). */
export function controlUrlFor(
  settings: Pick<KubernetesSettings, 'ingressMode' | 'ingressUrl' | 'namespace' | 'controlPort'>,
  clusterName: string,
  execId: number,
): string {
  const names = executionObjectNames(clusterName, execId);
  if (settings.ingressMode === 'none') return `http://${names.service}.${settings.namespace}.svc:${settings.controlPort}`;
  if (!settings.ingressUrl) throw new Error(`ingress mode ${settings.ingressMode} needs the ingress URL (CAISSON_INGRESS_URL)`);
  return `${settings.ingressUrl.replace(/\/+$/, '')}${names.routePrefix.replace(/\/$/, '')}`;
}
