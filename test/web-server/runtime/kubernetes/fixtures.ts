/** A launch plan and Kubernetes settings for the pod-spec tests. */
import type { LaunchPlan } from '../../../../web-server/src/runtime/container-runtime.js';
import type { KubernetesSettings } from '../../../../web-server/src/runtime/kubernetes/settings.js';

export const TOKEN = 'tok-abc123';

export function testPlan(overrides: Partial<LaunchPlan> = {}): LaunchPlan {
  return {
    execId: 42,
    projectName: 'etl',
    flowId: 'daily',
    jobTypes: ['hive_cli', 'spark'],
    env: {
      CAISSON_EXEC_ID: '42',
      CAISSON_API_URL: 'http://caisson.caisson.svc:8081',
      CAISSON_EXEC_TOKEN: TOKEN,
      CAISSON_CLUSTER: 'prod',
      CAISSON_VERSION_SET_ID: '7',
      TZ: 'Europe/Paris',
    },
    resources: {},
    versionSetId: 7,
    jobtypeImages: [
      { imageType: 'spark', path: 'registry.example.com/jobtypes/spark', version: '3.1.0' },
      { imageType: 'hive_cli', path: 'registry.example.com/jobtypes/hive', version: '1.2' },
    ],
    baseImage: { imageType: 'caisson-base', path: 'registry.example.com/caisson/flow-container', version: '2.0.1' },
    keepAfterFinish: false,
    ...overrides,
  };
}

export function testSettings(overrides: Partial<KubernetesSettings> = {}): KubernetesSettings {
  return {
    namespace: 'flows',
    clusterName: 'prod',
    ingressMode: 'mapping',
    ingressUrl: 'https://ingress.example.com',
    ambassadorId: '',
    controlPort: 8090,
    imagePullPolicy: 'IfNotPresent',
    podTemplate: undefined,
    defaultRequests: { cpu: '500m', memory: '1Gi', disk: '2Gi' },
    limitMultiple: 1,
    userMax: { cpu: '4', memory: '16Gi', disk: '50Gi' },
    adminMax: { cpu: '32', memory: '128Gi', disk: '500Gi' },
    imagePullGraceMs: 120_000,
    pendingTimeoutMs: 600_000,
    finalReportGraceMs: 30_000,
    podRetentionMs: 3_600_000,
    sweepIntervalMs: 60_000,
    leaseDurationMs: 30_000,
    apiQps: 20,
    apiBurst: 40,
    ...overrides,
  };
}
