/**
 * The pod template (CAISSON_POD_TEMPLATE_FILE) merged under every generated flow pod. Pure.
 *
 * The rule:
 * - The template is a Pod (`apiVersion`, `kind: Pod`, `metadata`, `spec`) or a bare pod spec.
 * - Pod level: every field the template's spec sets is kept (serviceAccountName, nodeSelector,
 *   tolerations, affinity, imagePullSecrets, priorityClassName, securityContext, schedulerName,
 *   runtimeClassName, dnsPolicy, hostAliases, terminationGracePeriodSeconds, …), except the fields
 *   Caisson controls, which are always the generated ones: restartPolicy (Never),
 *   automountServiceAccountToken (false), enableServiceLinks (false) and activeDeadlineSeconds (the
 *   flow's maximum running time plus slack; none when the flow has none, whatever the template says).
 * - Volumes merge by name: Caisson's (`jobtypes`, `work`) replace a template volume of the same name;
 *   the template's other volumes follow them.
 * - Metadata: only labels and annotations are taken from the template; Caisson's win on their keys.
 *   Name, namespace and the rest are Caisson's.
 * - Containers merge by name. A template container named `flow-container` (or an init container
 *   named `jobtype-init-<type>`) adds its fields to Caisson's: securityContext, probes, lifecycle,
 *   workingDir, envFrom, extra env vars, extra volume mounts, extra ports, and resources Caisson does
 *   not set (e.g. `nvidia.com/gpu`). Caisson's win for name, image, imagePullPolicy, command and
 *   args (a template's are dropped: the image's entrypoint must run), the ports it declares (a template
 *   port with the same name or number is dropped), every env var it sets (system variables and the
 *   flow's `pod.env.var.*`), mounts at its mount paths, and cpu, memory and ephemeral-storage.
 * - Other template containers are kept: app containers as sidecars after `flow-container`, init
 *   containers before Caisson's (they run first). A template init container named
 *   `jobtype-init-<type>` for a jobtype this run does not use is dropped.
 */
import type {
  V1Container,
  V1ContainerPort,
  V1EnvVar,
  V1Pod,
  V1PodSpec,
  V1ResourceRequirements,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { JOBTYPE_INIT_PREFIX } from './names.js';

/** Pod spec fields Caisson always controls: the template's are dropped. */
const CONTROLLED_SPEC_FIELDS = ['restartPolicy', 'automountServiceAccountToken', 'enableServiceLinks', 'activeDeadlineSeconds'] as const;

/** Merges `template` (a Pod or a bare pod spec) under `generated`; neither input is modified. */
export function mergePodTemplate(generated: V1Pod, template: Record<string, unknown> | undefined): V1Pod {
  const pod = structuredClone(generated);
  if (template === undefined) return pod;
  const { metadata: tplMeta, spec: tplSpec } = splitTemplate(structuredClone(template));
  const spec = pod.spec;
  if (!spec) throw new Error('the generated pod has no spec');

  const meta = (pod.metadata ??= {});
  const labels = { ...(tplMeta.labels ?? {}), ...(meta.labels ?? {}) };
  const annotations = { ...(tplMeta.annotations ?? {}), ...(meta.annotations ?? {}) };
  if (Object.keys(labels).length > 0) meta.labels = labels;
  if (Object.keys(annotations).length > 0) meta.annotations = annotations;

  const merged: V1PodSpec = { ...tplSpec, ...spec };
  for (const field of CONTROLLED_SPEC_FIELDS) {
    if (spec[field] === undefined) delete merged[field];
  }
  merged.volumes = mergeByName<V1Volume>(spec.volumes ?? [], tplSpec.volumes ?? [], (ours) => ours);
  if (merged.volumes.length === 0) delete merged.volumes;

  const ourInit = spec.initContainers ?? [];
  const ourInitNames = new Set(ourInit.map((c) => c.name));
  const tplInit = (tplSpec.initContainers ?? []).filter(
    (c) => !String(c.name ?? '').startsWith(JOBTYPE_INIT_PREFIX) || ourInitNames.has(c.name),
  );
  const initContainers = [
    ...tplInit.filter((c) => !ourInitNames.has(c.name)),
    ...ourInit.map((c) => mergeContainer(c, find(tplInit, c.name))),
  ];
  if (initContainers.length > 0) merged.initContainers = initContainers;
  else delete merged.initContainers;

  const ourNames = new Set(spec.containers.map((c) => c.name));
  const tplContainers = tplSpec.containers ?? [];
  merged.containers = [
    ...spec.containers.map((c) => mergeContainer(c, find(tplContainers, c.name))),
    ...tplContainers.filter((c) => !ourNames.has(c.name)),
  ];
  pod.spec = merged;
  return pod;
}

interface SplitTemplate {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Partial<V1PodSpec>;
}

/** A Pod has `spec` (or `kind`, `apiVersion`, `metadata`); anything else is a bare pod spec. */
function splitTemplate(template: Record<string, unknown>): SplitTemplate {
  const isPod = 'spec' in template || 'kind' in template || 'apiVersion' in template || 'metadata' in template;
  if (!isPod) return { metadata: {}, spec: template as Partial<V1PodSpec> };
  if (template.kind !== undefined && template.kind !== 'Pod') {
    throw new Error(`the pod template must be a Pod or a pod spec, got kind ${JSON.stringify(template.kind)}`);
  }
  const meta = (template.metadata ?? {}) as SplitTemplate['metadata'];
  return {
    metadata: { ...(meta.labels ? { labels: meta.labels } : {}), ...(meta.annotations ? { annotations: meta.annotations } : {}) },
    spec: (template.spec ?? {}) as Partial<V1PodSpec>,
  };
}

function find(containers: V1Container[], name: string): V1Container | undefined {
  return containers.find((c) => c.name === name);
}

/** Ours in their order (each merged with the template item of the same name), then the template's others. */
function mergeByName<T extends { name: string }>(ours: T[], theirs: T[], merge: (ours: T, theirs: T) => T): T[] {
  const ourNames = new Set(ours.map((x) => x.name));
  return [...ours.map((x) => merge(x, theirs.find((t) => t.name === x.name) ?? x)), ...theirs.filter((t) => !ourNames.has(t.name))];
}

function mergeContainer(ours: V1Container, theirs: V1Container | undefined): V1Container {
  if (!theirs) return ours;
  const out: V1Container = { ...theirs, ...ours };
  if (ours.command === undefined) delete out.command;
  if (ours.args === undefined) delete out.args;
  const ports = mergePorts(ours.ports ?? [], theirs.ports ?? []);
  if (ports.length > 0) out.ports = ports;
  const env = mergeEnv(ours.env ?? [], theirs.env ?? []);
  if (env.length > 0) out.env = env;
  const mounts = mergeMounts(ours.volumeMounts ?? [], theirs.volumeMounts ?? []);
  if (mounts.length > 0) out.volumeMounts = mounts;
  const resources = mergeResources(ours.resources, theirs.resources);
  if (resources) out.resources = resources;
  return out;
}

function mergePorts(ours: V1ContainerPort[], theirs: V1ContainerPort[]): V1ContainerPort[] {
  const clash = (p: V1ContainerPort): boolean =>
    ours.some((o) => o.containerPort === p.containerPort || (p.name !== undefined && o.name === p.name));
  return [...ours, ...theirs.filter((p) => !clash(p))];
}

/** Ours, then the template's other variables in their order (so their `$(VAR)` references may name any before them). */
function mergeEnv(ours: V1EnvVar[], theirs: V1EnvVar[]): V1EnvVar[] {
  const ourNames = new Set(ours.map((e) => e.name));
  return [...ours, ...theirs.filter((e) => !ourNames.has(e.name))];
}

function mergeMounts(ours: V1VolumeMount[], theirs: V1VolumeMount[]): V1VolumeMount[] {
  const ourPaths = new Set(ours.map((m) => m.mountPath));
  return [...ours, ...theirs.filter((m) => !ourPaths.has(m.mountPath))];
}

function mergeResources(
  ours: V1ResourceRequirements | undefined,
  theirs: V1ResourceRequirements | undefined,
): V1ResourceRequirements | undefined {
  if (!theirs) return ours;
  if (!ours) return theirs;
  const out: V1ResourceRequirements = { ...theirs, ...ours };
  const requests = { ...(theirs.requests ?? {}), ...(ours.requests ?? {}) };
  const limits = { ...(theirs.limits ?? {}), ...(ours.limits ?? {}) };
  if (Object.keys(requests).length > 0) out.requests = requests;
  if (Object.keys(limits).length > 0) out.limits = limits;
  return out;
}
