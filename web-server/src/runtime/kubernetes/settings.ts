/**
 * What the Kubernetes runtime needs from the server's configuration, in one frozen object, so the
 * pure parts (pod-spec.ts, pod-failures.ts) never read ServerConfig themselves.
 */
import type { ServerConfig } from '../../config.js';

export interface ResourceTriple {
  cpu: string;
  memory: string;
  disk: string;
}

export interface KubernetesSettings {
  namespace: string;
  clusterName: string;
  ingressMode: 'mapping' | 'annotation' | 'none';
  /** Base URL of the ingress ('' when ingressMode is none). */
  ingressUrl: string;
  ambassadorId: string;
  /** Port of the flow container's control API in the pod, and of its Service. */
  controlPort: number;
  imagePullPolicy: 'IfNotPresent' | 'Always' | 'Never';
  /** Parsed pod template (a Pod or a pod spec), merged under every generated pod. */
  podTemplate: Record<string, unknown> | undefined;
  defaultRequests: ResourceTriple;
  /** Limits are requests × this. */
  limitMultiple: number;
  userMax: ResourceTriple;
  adminMax: ResourceTriple;
  imagePullGraceMs: number;
  pendingTimeoutMs: number;
  finalReportGraceMs: number;
  podRetentionMs: number;
  sweepIntervalMs: number;
  leaseDurationMs: number;
  apiQps: number;
  apiBurst: number;
}

/** Where things live inside a flow pod (the images' contract; docs/kubernetes.md and docker/ follow it). */
export const POD_PATHS = {
  /** In a jobtype image: the payload its init container copies. */
  jobtypePayload: '/caisson/jobtype',
  /** In the app container (and the init containers): one folder per jobtype, from the emptyDir volume. */
  jobtypes: '/caisson/jobtypes',
  /** The flow container's working directory (project files, job logs), an emptyDir volume. */
  work: '/caisson/work',
} as const;

export function resourceCaps(config: ServerConfig): Pick<KubernetesSettings, 'defaultRequests' | 'limitMultiple' | 'userMax' | 'adminMax'> {
  return {
    defaultRequests: { cpu: config.podCpuRequest, memory: config.podMemoryRequest, disk: config.podDiskRequest },
    limitMultiple: config.podLimitMultiple,
    userMax: { cpu: config.podUserMaxCpu, memory: config.podUserMaxMemory, disk: config.podUserMaxDisk },
    adminMax: { cpu: config.podAdminMaxCpu, memory: config.podAdminMaxMemory, disk: config.podAdminMaxDisk },
  };
}

export function kubernetesSettingsFrom(config: ServerConfig, podTemplate: Record<string, unknown> | undefined): KubernetesSettings {
  return Object.freeze({
    namespace: config.k8sNamespace,
    clusterName: config.clusterName,
    ingressMode: config.ingressMode as KubernetesSettings['ingressMode'],
    ingressUrl: config.ingressUrl,
    ambassadorId: config.ambassadorId,
    controlPort: config.flowContainerPort,
    imagePullPolicy: config.imagePullPolicy as KubernetesSettings['imagePullPolicy'],
    podTemplate,
    ...resourceCaps(config),
    imagePullGraceMs: config.imagePullGrace,
    pendingTimeoutMs: config.podPendingTimeout,
    finalReportGraceMs: config.finalReportGrace,
    podRetentionMs: config.podRetention,
    sweepIntervalMs: config.podSweepInterval,
    leaseDurationMs: config.watchLeaseDuration,
    apiQps: config.k8sApiQps,
    apiBurst: config.k8sApiBurst,
  });
}
