/**
 * A hand-written schema of Emissary's `getambassador.io/v3alpha1` `Mapping` (no npm package
 * carries one), for the fields Caisson may use: `prefix` and `service` required, the usual
 * routing, timeout and header options, and no unknown fields, as a structural CRD schema would.
 */
import { child, index, invalid, isRecord, key, required, unknownField } from './causes.js';
import { checkPortNumber } from './names.js';
import { findUnknownFields } from './type-metadata.js';
import type { ValidationCause } from '../validate.js';

type FieldKind =
  | 'string'
  | 'boolean'
  | 'integer'
  | 'nonNegativeInteger'
  | 'stringOrStringArray'
  | 'stringArray'
  | 'stringMap'
  | 'headerMap'
  | 'object'
  | 'array';

const SPEC_FIELDS: Readonly<Record<string, FieldKind>> = {
  prefix: 'string',
  prefix_regex: 'boolean',
  prefix_exact: 'boolean',
  service: 'string',
  rewrite: 'string',
  regex_rewrite: 'object',
  hostname: 'string',
  host: 'string',
  host_regex: 'boolean',
  host_rewrite: 'string',
  method: 'string',
  method_regex: 'boolean',
  case_sensitive: 'boolean',
  headers: 'stringMap',
  regex_headers: 'stringMap',
  query_parameters: 'stringMap',
  regex_query_parameters: 'stringMap',
  add_request_headers: 'headerMap',
  add_response_headers: 'headerMap',
  remove_request_headers: 'stringOrStringArray',
  remove_response_headers: 'stringOrStringArray',
  timeout_ms: 'nonNegativeInteger',
  connect_timeout_ms: 'nonNegativeInteger',
  idle_timeout_ms: 'nonNegativeInteger',
  cluster_idle_timeout_ms: 'nonNegativeInteger',
  weight: 'nonNegativeInteger',
  precedence: 'integer',
  ambassador_id: 'stringOrStringArray',
  bypass_auth: 'boolean',
  allow_upgrade: 'stringArray',
  use_websocket: 'boolean',
  grpc: 'boolean',
  labels: 'object',
  load_balancer: 'object',
  cors: 'object',
  retry_policy: 'object',
  circuit_breakers: 'array',
  docs: 'object',
  enable_ipv4: 'boolean',
  enable_ipv6: 'boolean',
};

const TOP_LEVEL_FIELDS = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

/** `[scheme://]name[.namespace][:port]`. */
const SERVICE = /^(?:[a-z][a-z0-9+.-]*:\/\/)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(?::([0-9]{1,5}))?$/;

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** The message a structural CRD schema gives for a value of the wrong type. */
function wrongType(path: string, value: unknown, expected: string): ValidationCause {
  return invalid(path, jsonType(value), `${path} in body must be of type ${expected}: ${JSON.stringify(jsonType(value))}`);
}

function checkField(path: string, value: unknown, kind: FieldKind, out: ValidationCause[]): void {
  switch (kind) {
    case 'string':
    case 'boolean':
      if (typeof value !== kind) out.push(wrongType(path, value, kind));
      return;
    case 'integer':
    case 'nonNegativeInteger':
      if (typeof value !== 'number' || !Number.isInteger(value)) out.push(wrongType(path, value, 'integer'));
      else if (kind === 'nonNegativeInteger' && value < 0)
        out.push(invalid(path, value, `${path} in body should be greater than or equal to 0`));
      return;
    case 'stringOrStringArray':
      if (typeof value === 'string') return;
      if (!Array.isArray(value)) out.push(wrongType(path, value, 'string or array'));
      else checkField(path, value, 'stringArray', out);
      return;
    case 'stringArray':
      if (!Array.isArray(value)) out.push(wrongType(path, value, 'array'));
      else value.forEach((item, i) => typeof item !== 'string' && out.push(wrongType(index(path, i), item, 'string')));
      return;
    case 'stringMap':
    case 'headerMap':
      if (!isRecord(value)) out.push(wrongType(path, value, 'object'));
      else {
        for (const [k, v] of Object.entries(value)) {
          // Added headers are a string or `{ value, append }`; matched headers are strings.
          if (typeof v === 'string' || (kind === 'headerMap' && isRecord(v))) continue;
          out.push(wrongType(key(path, k), v, 'string'));
        }
      }
      return;
    case 'object':
      if (!isRecord(value)) out.push(wrongType(path, value, 'object'));
      return;
    case 'array':
      if (!Array.isArray(value)) out.push(wrongType(path, value, 'array'));
      return;
  }
}

function checkService(service: string, out: ValidationCause[]): void {
  const match = SERVICE.exec(service);
  if (!match) {
    out.push(invalid('spec.service', service, 'must be [scheme://]name[.namespace][:port]'));
    return;
  }
  if (match[3] !== undefined) for (const m of checkPortNumber(Number(match[3]))) out.push(invalid('spec.service', service, `port ${m}`));
}

/** The types of the metadata fields the generic rules read (Pods, Services and Secrets get these from the official schema). */
function checkMetadataTypes(metadata: unknown, out: ValidationCause[]): void {
  if (metadata === undefined) return;
  if (!isRecord(metadata)) {
    out.push(wrongType('metadata', metadata, 'object'));
    return;
  }
  findUnknownFields(metadata, 'V1ObjectMeta', 'metadata', out);
  for (const field of ['name', 'namespace', 'generateName'] as const) {
    if (metadata[field] !== undefined && typeof metadata[field] !== 'string')
      out.push(wrongType(`metadata.${field}`, metadata[field], 'string'));
  }
  for (const field of ['labels', 'annotations'] as const) {
    if (metadata[field] !== undefined) checkField(`metadata.${field}`, metadata[field], 'stringMap', out);
  }
}

/** Appends the causes for a Mapping's fields other than the generic metadata rules. */
export function checkMapping(mapping: Record<string, unknown>, out: ValidationCause[]): void {
  for (const field of Object.keys(mapping)) if (!TOP_LEVEL_FIELDS.has(field)) out.push(unknownField(field));
  for (const field of ['apiVersion', 'kind'] as const) {
    if (mapping[field] !== undefined && typeof mapping[field] !== 'string') out.push(wrongType(field, mapping[field], 'string'));
  }
  checkMetadataTypes(mapping['metadata'], out);
  const spec = mapping['spec'];
  if (spec === undefined) {
    out.push(required('spec'));
    return;
  }
  if (!isRecord(spec)) {
    out.push(wrongType('spec', spec, 'object'));
    return;
  }
  for (const [field, value] of Object.entries(spec)) {
    const kind = SPEC_FIELDS[field];
    if (kind === undefined) out.push(unknownField(child('spec', field)));
    else if (value !== null) checkField(child('spec', field), value, kind, out);
  }
  const prefix = spec['prefix'];
  if (prefix === undefined || prefix === '') out.push(required('spec.prefix'));
  else if (typeof prefix === 'string' && spec['prefix_regex'] !== true && !prefix.startsWith('/')) {
    out.push(invalid('spec.prefix', prefix, "must start with '/'"));
  }
  const service = spec['service'];
  if (service === undefined || service === '') out.push(required('spec.service'));
  else if (typeof service === 'string') checkService(service, out);
}
