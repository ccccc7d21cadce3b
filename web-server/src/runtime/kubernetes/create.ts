/**
 * Builds the Kubernetes runtime from the server's configuration: the client configuration
 * (KUBECONFIG, ~/.kube/config or in-cluster), the pod template file, the settings and the API.
 */
import fs from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Knex } from 'knex';
import YAML from 'yaml';
import type { Clock } from '../../../../common/clock.js';
import { CaissonError } from '../../../../common/errors.js';
import type { ServerConfig } from '../../config.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics/metrics.js';
import { KubeApi, loadKubeConfig } from './kube-api.js';
import { KubernetesRuntime } from './kubernetes-runtime.js';
import { kubernetesSettingsFrom } from './settings.js';

export interface CreateKubernetesRuntimeOptions {
  config: ServerConfig;
  db: Knex;
  clock: Clock;
  log: Logger;
  holder: string;
  kubeConfig?: KubeConfig;
  metrics?: Metrics;
}

/** Reads and checks the pod template file: a YAML Pod or pod spec. */
export function readPodTemplate(file: string): Record<string, unknown> | undefined {
  if (!file) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CaissonError('INVALID_CONFIG', `cannot read the pod template ${file}: ${(e as Error).message}`, { cause: e });
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text, { uniqueKeys: true });
  } catch (e) {
    throw new CaissonError('INVALID_CONFIG', `the pod template ${file} is not valid YAML: ${(e as Error).message}`, { cause: e });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new CaissonError('INVALID_CONFIG', `the pod template ${file} must be a YAML mapping: a Pod (kind: Pod, spec: …) or a pod spec`);
  }
  const obj = doc as Record<string, unknown>;
  if (obj.kind !== undefined && obj.kind !== 'Pod' && obj.kind !== 'PodTemplate') {
    throw new CaissonError('INVALID_CONFIG', `the pod template ${file} has kind ${String(obj.kind)}; expected Pod (or a bare pod spec)`);
  }
  return obj;
}

export function createKubernetesRuntime(o: CreateKubernetesRuntimeOptions): KubernetesRuntime {
  const { config } = o;
  if (config.ingressMode !== 'none' && !config.ingressUrl) {
    throw new CaissonError(
      'INVALID_CONFIG',
      `CAISSON_INGRESS_URL is required with CAISSON_INGRESS_MODE=${config.ingressMode}: the web server reaches flow containers through it (or set the mode to none when it runs inside the cluster).`,
    );
  }
  if (!config.publicUrl) {
    o.log.warn(
      'CAISSON_PUBLIC_URL is not set: flow pods will be told to call the web server at its local address, which they usually cannot reach.',
    );
  }
  const settings = kubernetesSettingsFrom(config, readPodTemplate(config.podTemplateFile));
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = o.kubeConfig ?? loadKubeConfig();
  } catch (e) {
    throw new CaissonError('INVALID_CONFIG', `cannot load the Kubernetes client configuration: ${(e as Error).message}`, { cause: e });
  }
  const api = new KubeApi({
    kubeConfig,
    namespace: settings.namespace,
    qps: settings.apiQps,
    burst: settings.apiBurst,
    log: o.log,
    ...(o.metrics ? { onCall: (verb, resource, code) => o.metrics!.kubeApiCalls.inc({ verb, resource, code: String(code) }) } : {}),
  });
  o.metrics?.setKubeLimiterWaitingSource(() => api.waiting);
  return new KubernetesRuntime({ api, settings, db: o.db, clock: o.clock, log: o.log, holder: o.holder });
}
