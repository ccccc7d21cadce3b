/**
 * The API server's rules for a Pod's spec that no schema carries: containers and their names,
 * images, ports, env, volume mounts naming volumes, resources within limits, restart policy,
 * deadline.
 */
import {
  arrayOf,
  child,
  duplicate,
  forbidden,
  index,
  invalid,
  isRecord,
  key,
  notFound,
  notSupported,
  recordOf,
  required,
} from './causes.js';
import { checkConfigKey, checkDns1123Label, checkDns1123Subdomain, checkEnvVarName, checkPortName, checkPortNumber } from './names.js';
import { parseQuantity } from './quantity.js';
import type { JsonRecord } from './causes.js';
import type { ValidationCause } from '../validate.js';

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];
const ENV_SOURCES = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef', 'fileKeyRef'];
const MAX_INT32 = 2147483647;

/** Volume names, checked for format and uniqueness. */
function checkVolumes(volumes: unknown[], out: ValidationCause[]): Set<string> {
  const names = new Set<string>();
  volumes.forEach((volume, i) => {
    if (!isRecord(volume)) return;
    const path = index('spec.volumes', i);
    const name = volume['name'];
    if (typeof name === 'string' && name !== '') {
      for (const message of checkDns1123Label(name)) out.push(invalid(child(path, 'name'), name, message));
      if (names.has(name)) out.push(duplicate(child(path, 'name'), name));
      names.add(name);
    } else if (name === '') {
      out.push(required(child(path, 'name')));
    }
    const sources = Object.keys(volume).filter((k) => k !== 'name' && volume[k] !== undefined && volume[k] !== null);
    if (sources.length === 0) out.push(required(path, 'must specify a volume type'));
    else if (sources.length > 1) out.push(forbidden(child(path, sources[1] ?? ''), 'may not specify more than 1 volume type'));
  });
  return names;
}

function checkKeySelector(selector: unknown, path: string, out: ValidationCause[]): void {
  if (!isRecord(selector)) return;
  const name = selector['name'];
  if (name === undefined || name === '') out.push(required(child(path, 'name')));
  else if (typeof name === 'string') for (const m of checkDns1123Subdomain(name)) out.push(invalid(child(path, 'name'), name, m));
  const k = selector['key'];
  if (k === undefined || k === '') out.push(required(child(path, 'key')));
  else if (typeof k === 'string') for (const m of checkConfigKey(k)) out.push(invalid(child(path, 'key'), k, m));
}

function checkEnv(env: unknown[], path: string, out: ValidationCause[]): void {
  env.forEach((entry, i) => {
    if (!isRecord(entry)) return;
    const envPath = index(path, i);
    const name = entry['name'];
    if (name === undefined || name === '') out.push(required(child(envPath, 'name')));
    else if (typeof name === 'string') for (const m of checkEnvVarName(name)) out.push(invalid(child(envPath, 'name'), name, m));
    const valueFrom = entry['valueFrom'];
    if (!isRecord(valueFrom)) return;
    const fromPath = child(envPath, 'valueFrom');
    if (typeof entry['value'] === 'string' && entry['value'] !== '') {
      out.push(invalid(fromPath, '', 'may not be specified when `value` is not empty'));
    }
    const sources = ENV_SOURCES.filter((s) => valueFrom[s] !== undefined && valueFrom[s] !== null);
    if (sources.length === 0) {
      out.push(invalid(fromPath, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    } else if (sources.length > 1) {
      out.push(invalid(fromPath, '', 'may not have more than one field specified at a time'));
    }
    checkKeySelector(valueFrom['secretKeyRef'], child(fromPath, 'secretKeyRef'), out);
    checkKeySelector(valueFrom['configMapKeyRef'], child(fromPath, 'configMapKeyRef'), out);
  });
}

function checkPorts(ports: unknown[], path: string, out: ValidationCause[]): void {
  const names = new Set<string>();
  ports.forEach((port, i) => {
    if (!isRecord(port)) return;
    const portPath = index(path, i);
    const name = port['name'];
    if (typeof name === 'string' && name !== '') {
      for (const m of checkPortName(name)) out.push(invalid(child(portPath, 'name'), name, m));
      if (names.has(name)) out.push(duplicate(child(portPath, 'name'), name));
      names.add(name);
    }
    const containerPort = port['containerPort'];
    if (containerPort === undefined || containerPort === 0) out.push(required(child(portPath, 'containerPort')));
    else if (typeof containerPort === 'number') {
      for (const m of checkPortNumber(containerPort)) out.push(invalid(child(portPath, 'containerPort'), containerPort, m));
    }
    const hostPort = port['hostPort'];
    if (typeof hostPort === 'number' && hostPort !== 0) {
      for (const m of checkPortNumber(hostPort)) out.push(invalid(child(portPath, 'hostPort'), hostPort, m));
    }
    const protocol = port['protocol'];
    if (protocol !== undefined && !PROTOCOLS.includes(String(protocol)))
      out.push(notSupported(child(portPath, 'protocol'), protocol, PROTOCOLS));
  });
}

function checkVolumeMounts(mounts: unknown[], path: string, volumes: Set<string>, out: ValidationCause[]): void {
  const mountPaths = new Set<string>();
  mounts.forEach((mount, i) => {
    if (!isRecord(mount)) return;
    const mountPath = index(path, i);
    const name = mount['name'];
    if (name === undefined || name === '') out.push(required(child(mountPath, 'name')));
    else if (typeof name === 'string' && !volumes.has(name)) out.push(notFound(child(mountPath, 'name'), name));
    const target = mount['mountPath'];
    if (target === undefined || target === '') out.push(required(child(mountPath, 'mountPath')));
    else if (typeof target === 'string') {
      if (mountPaths.has(target)) out.push(invalid(child(mountPath, 'mountPath'), target, 'must be unique'));
      mountPaths.add(target);
    }
  });
}

function checkResources(resources: unknown, path: string, out: ValidationCause[]): void {
  if (!isRecord(resources)) return;
  const limits = recordOf(resources['limits']);
  const requests = recordOf(resources['requests']);
  for (const [group, values] of [
    ['limits', limits],
    ['requests', requests],
  ] as const) {
    for (const [name, value] of Object.entries(values)) {
      const amount = parseQuantity(value);
      if (amount !== undefined && amount < 0) out.push(invalid(key(child(path, group), name), value, 'must be greater than or equal to 0'));
    }
  }
  for (const [name, request] of Object.entries(requests)) {
    if (!(name in limits)) continue;
    const limit = limits[name];
    const requested = parseQuantity(request);
    const limited = parseQuantity(limit);
    if (requested !== undefined && limited !== undefined && requested > limited) {
      out.push(invalid(key(child(path, 'requests'), name), request, `must be less than or equal to ${name} limit of ${String(limit)}`));
    }
  }
}

function checkContainer(container: JsonRecord, path: string, names: Set<string>, volumes: Set<string>, out: ValidationCause[]): void {
  const name = container['name'];
  if (name === undefined || name === '') out.push(required(child(path, 'name')));
  else if (typeof name === 'string') {
    for (const m of checkDns1123Label(name)) out.push(invalid(child(path, 'name'), name, m));
    if (names.has(name)) out.push(duplicate(child(path, 'name'), name));
    names.add(name);
  }
  const image = container['image'];
  if (image === undefined || (typeof image === 'string' && image.trim() === '')) out.push(required(child(path, 'image')));
  checkPorts(arrayOf(container['ports']), child(path, 'ports'), out);
  checkEnv(arrayOf(container['env']), child(path, 'env'), out);
  checkVolumeMounts(arrayOf(container['volumeMounts']), child(path, 'volumeMounts'), volumes, out);
  checkResources(container['resources'], child(path, 'resources'), out);
}

/** Appends the causes for a Pod's `spec`. */
export function checkPodSpec(spec: unknown, out: ValidationCause[]): void {
  const podSpec = recordOf(spec);
  const volumes = checkVolumes(arrayOf(podSpec['volumes']), out);
  const containerNames = new Set<string>();
  arrayOf(podSpec['initContainers']).forEach((c, i) => {
    if (isRecord(c)) checkContainer(c, index('spec.initContainers', i), containerNames, volumes, out);
  });
  const containers = arrayOf(podSpec['containers']);
  if (containers.length === 0 && Array.isArray(podSpec['containers'] ?? [])) out.push(required('spec.containers'));
  containers.forEach((c, i) => {
    if (isRecord(c)) checkContainer(c, index('spec.containers', i), containerNames, volumes, out);
  });
  const restartPolicy = podSpec['restartPolicy'];
  if (restartPolicy !== undefined && !RESTART_POLICIES.includes(String(restartPolicy))) {
    out.push(notSupported('spec.restartPolicy', restartPolicy, RESTART_POLICIES));
  }
  const deadline = podSpec['activeDeadlineSeconds'];
  if (typeof deadline === 'number' && (deadline < 1 || deadline > MAX_INT32)) {
    out.push(invalid('spec.activeDeadlineSeconds', deadline, `must be between 1 and ${MAX_INT32}, inclusive`));
  }
}
