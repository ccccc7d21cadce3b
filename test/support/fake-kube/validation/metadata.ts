/**
 * The API server's rules for `metadata`: the name and its format per resource, the namespace
 * matching the request, labels, annotations and owner references.
 */
import { arrayOf, badRequest, child, index, invalid, isRecord, required, tooLong } from './causes.js';
import { checkDns1035Label, checkDns1123Subdomain, checkLabelValue, checkQualifiedName } from './names.js';
import type { ResourceName } from '../types.js';
import type { ValidationCause } from '../validate.js';

/** Total bytes of all annotation keys and values. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

const NAME_CHECKS: Record<ResourceName, (name: string) => string[]> = {
  pods: checkDns1123Subdomain,
  services: checkDns1035Label,
  secrets: checkDns1123Subdomain,
  mappings: checkDns1123Subdomain,
};

/** Label maps (`metadata.labels`, `spec.selector`): errors name the map itself, with the bad key or value. */
export function checkLabels(labels: unknown, path: string, out: ValidationCause[]): void {
  if (!isRecord(labels)) return;
  for (const [k, v] of Object.entries(labels)) {
    for (const message of checkQualifiedName(k)) out.push(invalid(path, k, message));
    if (typeof v === 'string') for (const message of checkLabelValue(v)) out.push(invalid(path, v, message));
  }
}

function checkAnnotations(annotations: unknown, path: string, out: ValidationCause[]): void {
  if (!isRecord(annotations)) return;
  let size = 0;
  for (const [k, v] of Object.entries(annotations)) {
    for (const message of checkQualifiedName(k.toLowerCase())) out.push(invalid(path, k, message));
    size += Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 0);
  }
  if (size > MAX_ANNOTATIONS_BYTES) out.push(tooLong(path, MAX_ANNOTATIONS_BYTES));
}

function checkOwnerReferences(refs: unknown, path: string, out: ValidationCause[]): void {
  const controllers: string[] = [];
  arrayOf(refs).forEach((ref, i) => {
    if (!isRecord(ref)) return;
    const refPath = index(path, i);
    for (const [field, what] of [
      ['apiVersion', 'version'],
      ['kind', 'kind'],
      ['name', 'name'],
      ['uid', 'uid'],
    ] as const) {
      // A missing field is the schema's Required value; an empty one is the API server's own check.
      if (ref[field] === '') out.push(invalid(child(refPath, field), '', `${what} must not be empty`));
    }
    if (ref['controller'] === true) controllers.push(`${String(ref['kind'])}/${String(ref['name'])}`);
  });
  if (controllers.length > 1) {
    out.push(
      invalid(
        path,
        refs,
        `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(' and ')}`,
      ),
    );
  }
}

/** Appends the causes for `metadata` of an object of `resource` created in `namespace`. */
export function checkMetadata(resource: ResourceName, namespace: string, metadata: unknown, out: ValidationCause[]): void {
  const meta = isRecord(metadata) ? metadata : {};
  const name = meta['name'];
  if (name === undefined || name === '') {
    out.push(required('metadata.name', 'name or generateName is required'));
  } else if (typeof name === 'string') {
    for (const message of NAME_CHECKS[resource](name)) out.push(invalid('metadata.name', name, message));
  }
  const ns = meta['namespace'];
  if (ns !== undefined && ns !== '' && ns !== namespace) {
    out.push(badRequest('metadata.namespace', 'the namespace of the provided object does not match the namespace sent on the request'));
  }
  checkLabels(meta['labels'], 'metadata.labels', out);
  checkAnnotations(meta['annotations'], 'metadata.annotations', out);
  checkOwnerReferences(meta['ownerReferences'], 'metadata.ownerReferences', out);
}
