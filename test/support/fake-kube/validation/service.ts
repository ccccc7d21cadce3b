/**
 * The API server's rules for a Service's spec that no schema carries: type, ports (numbers,
 * names, target ports, protocols) and the selector's labels.
 */
import { arrayOf, child, duplicate, index, invalid, isRecord, notSupported, recordOf, required } from './causes.js';
import { checkLabels } from './metadata.js';
import { checkDns1123Label, checkPortName, checkPortNumber } from './names.js';
import type { ValidationCause } from '../validate.js';

const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];

function checkServicePort(port: Record<string, unknown>, path: string, named: boolean, names: Set<string>, out: ValidationCause[]): void {
  const name = port['name'];
  if (named && (name === undefined || name === '')) out.push(required(child(path, 'name')));
  if (typeof name === 'string' && name !== '') {
    for (const m of checkDns1123Label(name)) out.push(invalid(child(path, 'name'), name, m));
    if (names.has(name)) out.push(duplicate(child(path, 'name'), name));
    names.add(name);
  }
  const portNumber = port['port'];
  if (typeof portNumber === 'number') for (const m of checkPortNumber(portNumber)) out.push(invalid(child(path, 'port'), portNumber, m));
  const protocol = port['protocol'];
  if (protocol !== undefined && !PROTOCOLS.includes(String(protocol))) out.push(notSupported(child(path, 'protocol'), protocol, PROTOCOLS));
  const targetPort = port['targetPort'];
  if (typeof targetPort === 'number' && targetPort !== 0) {
    for (const m of checkPortNumber(targetPort)) out.push(invalid(child(path, 'targetPort'), targetPort, m));
  } else if (typeof targetPort === 'string') {
    if (targetPort === '') out.push(required(child(path, 'targetPort')));
    else for (const m of checkPortName(targetPort)) out.push(invalid(child(path, 'targetPort'), targetPort, m));
  }
  const nodePort = port['nodePort'];
  if (typeof nodePort === 'number' && nodePort !== 0) {
    for (const m of checkPortNumber(nodePort)) out.push(invalid(child(path, 'nodePort'), nodePort, m));
  }
}

/** Appends the causes for a Service's `spec`. */
export function checkServiceSpec(spec: unknown, out: ValidationCause[]): void {
  const serviceSpec = recordOf(spec);
  const type = serviceSpec['type'] ?? 'ClusterIP';
  if (!SERVICE_TYPES.includes(String(type))) out.push(notSupported('spec.type', type, SERVICE_TYPES));
  const headless = serviceSpec['clusterIP'] === 'None';
  const ports = arrayOf(serviceSpec['ports']);
  if (ports.length === 0 && Array.isArray(serviceSpec['ports'] ?? []) && type !== 'ExternalName' && !headless)
    out.push(required('spec.ports'));
  const names = new Set<string>();
  ports.forEach((port, i) => {
    if (isRecord(port)) checkServicePort(port, index('spec.ports', i), ports.length > 1, names, out);
  });
  if (type !== 'ExternalName') checkLabels(serviceSpec['selector'], 'spec.selector', out);
}
