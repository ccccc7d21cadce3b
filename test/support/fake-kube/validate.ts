/**
 * Validation of the objects the fake stores, the way the API server rejects them with 422: the
 * official schemas (kubernetes-models), unknown fields (strict field validation, from the type
 * metadata of @kubernetes/client-node), a hand-written schema for Emissary Mappings, and the
 * API server's own rules (names, labels, containers, ports, volumes, resources, secrets).
 */
import { badRequest, isRecord } from './validation/causes.js';
import { checkMapping } from './validation/mapping.js';
import { checkMetadata } from './validation/metadata.js';
import { checkOfficialSchema } from './validation/official-schema.js';
import { checkPodSpec } from './validation/pod.js';
import { checkSecret } from './validation/secret.js';
import { checkServiceSpec } from './validation/service.js';
import { findUnknownFields } from './validation/type-metadata.js';
import { KubeApiError } from './types.js';
import type { ResourceName } from './types.js';

export interface ValidationCause {
  /** JSON path of the field, as the API server writes it: `spec.containers[0].image`, `metadata.labels`, `data[key]`. */
  field: string;
  message: string;
  /**
   * FieldValueRequired, FieldValueInvalid, FieldValueDuplicate, FieldValueNotSupported, FieldValueNotFound,
   * FieldValueTooLong, FieldValueForbidden; or BadRequest for what the real server answers with 400 before
   * validating (namespace or kind mismatch, object not a JSON object).
   */
  reason: string;
}

const KINDS: Record<ResourceName, { apiVersion: string; kind: string; rootType?: string }> = {
  pods: { apiVersion: 'v1', kind: 'Pod', rootType: 'V1Pod' },
  services: { apiVersion: 'v1', kind: 'Service', rootType: 'V1Service' },
  secrets: { apiVersion: 'v1', kind: 'Secret', rootType: 'V1Secret' },
  mappings: { apiVersion: 'getambassador.io/v3alpha1', kind: 'Mapping' },
};

function checkTypeMeta(resource: ResourceName, obj: Record<string, unknown>, out: ValidationCause[]): void {
  const expected = KINDS[resource];
  const { apiVersion, kind } = obj;
  if (typeof apiVersion === 'string' && apiVersion !== expected.apiVersion) {
    out.push(
      badRequest(
        'apiVersion',
        `the API version in the data (${apiVersion}) does not match the expected API version (${expected.apiVersion})`,
      ),
    );
  }
  if (typeof kind === 'string' && kind !== expected.kind) {
    out.push(badRequest('kind', `the kind in the data (${kind}) does not match the expected kind (${expected.kind})`));
  }
}

/**
 * The API server's own rules come first; a schema cause is kept only for a field no rule already
 * reported (the rules word the same problem closer to the real server).
 */
function mergeCauses(rules: ValidationCause[], schema: ValidationCause[]): ValidationCause[] {
  const seen = new Set<string>();
  const fields = new Set(rules.map((c) => c.field));
  const merged: ValidationCause[] = [];
  for (const cause of [...rules, ...schema.filter((c) => !fields.has(c.field))]) {
    const id = `${cause.field}\u0000${cause.reason}\u0000${cause.message}`;
    if (!seen.has(id)) merged.push(cause);
    seen.add(id);
  }
  return merged;
}

/** Every problem of `obj` as a `resource` in `namespace`; empty when it is valid. */
export function validateObject(resource: ResourceName, namespace: string, obj: unknown): ValidationCause[] {
  if (!isRecord(obj)) return [badRequest('', 'the body of the request must be a JSON object')];
  const rules: ValidationCause[] = [];
  const schema: ValidationCause[] = [];
  checkTypeMeta(resource, obj, rules);
  checkMetadata(resource, namespace, obj['metadata'], rules);
  const rootType = KINDS[resource].rootType;
  if (resource === 'mappings') {
    checkMapping(obj, rules);
  } else {
    schema.push(...checkOfficialSchema(resource, obj));
    if (rootType !== undefined) findUnknownFields(obj, rootType, '', rules);
    if (resource === 'pods') checkPodSpec(obj['spec'], rules);
    else if (resource === 'services') checkServiceSpec(obj['spec'], rules);
    else checkSecret(obj, rules);
  }
  return mergeCauses(rules, schema);
}

/** `field: message`, as the API server joins a cause into its Status message. */
function describeCause(cause: ValidationCause): string {
  return cause.field === '' ? cause.message : `${cause.field}: ${cause.message}`;
}

/**
 * Throws the KubeApiError the real API server would answer for `obj`: 400 BadRequest for a
 * mismatched namespace or kind, else 422 Invalid (`Pod "x" is invalid: …`) with every cause.
 */
export function assertValidObject(resource: ResourceName, namespace: string, obj: unknown): void {
  const causes = validateObject(resource, namespace, obj);
  if (causes.length === 0) return;
  const { kind } = KINDS[resource];
  const badRequests = causes.filter((c) => c.reason === 'BadRequest');
  const first = badRequests[0];
  if (first) throw new KubeApiError(400, 'BadRequest', first.message);
  const metadata = isRecord(obj) && isRecord(obj['metadata']) ? obj['metadata'] : {};
  const name = typeof metadata['name'] === 'string' ? metadata['name'] : '';
  const only = causes.length === 1 ? causes[0] : undefined;
  const summary = only ? describeCause(only) : `[${causes.map(describeCause).join(', ')}]`;
  throw new KubeApiError(422, 'Invalid', `${kind} ${JSON.stringify(name)} is invalid: ${summary}`, { name, kind, causes });
}
