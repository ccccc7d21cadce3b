/**
 * The field lists of the Kubernetes types, read from the generated models of
 * `@kubernetes/client-node` (`attributeTypeMap`), cached per type, and the walk that reports
 * fields no type declares (what strict field validation rejects).
 */
import * as k8s from '@kubernetes/client-node';
import { child, index, isRecord, key, unknownField } from './causes.js';
import type { ValidationCause } from '../validate.js';

interface Attribute {
  baseName: string;
  type: string;
}

const ARRAY_TYPE = /^Array<(.+)>$/;
const MAP_TYPE = /^\{ \[key: string\]: (.+); \}$/;
const models = k8s as unknown as Record<string, unknown>;
const fieldCache = new Map<string, ReadonlyMap<string, string> | null>();

/** JSON field name → type name of a model type (`V1PodSpec`), or undefined for scalars, `any`, `object`, `IntOrString`… */
export function fieldsOf(typeName: string): ReadonlyMap<string, string> | undefined {
  let fields = fieldCache.get(typeName);
  if (fields === undefined) {
    fields = null;
    const model = models[typeName];
    if (typeof model === 'function' && 'getAttributeTypeMap' in model && typeof model.getAttributeTypeMap === 'function') {
      const attributes = (model.getAttributeTypeMap as () => Attribute[])();
      fields = new Map(attributes.map((a) => [a.baseName, a.type]));
    }
    fieldCache.set(typeName, fields);
  }
  return fields ?? undefined;
}

/** `Array<V1Container>` → `V1Container`. */
export function elementType(typeName: string): string | undefined {
  return ARRAY_TYPE.exec(typeName)?.[1];
}

/** `{ [key: string]: string; }` → `string`. */
export function mapValueType(typeName: string): string | undefined {
  return MAP_TYPE.exec(typeName)?.[1];
}

/** Appends a cause for every field of `value` that its type (and the types below it) does not declare. */
export function findUnknownFields(value: unknown, typeName: string, path: string, out: ValidationCause[]): void {
  const element = elementType(typeName);
  if (element !== undefined) {
    if (Array.isArray(value)) value.forEach((item, i) => findUnknownFields(item, element, index(path, i), out));
    return;
  }
  const mapValue = mapValueType(typeName);
  if (mapValue !== undefined) {
    if (isRecord(value)) for (const [k, v] of Object.entries(value)) findUnknownFields(v, mapValue, key(path, k), out);
    return;
  }
  const fields = fieldsOf(typeName);
  if (fields === undefined || !isRecord(value)) return;
  for (const [name, fieldValue] of Object.entries(value)) {
    const fieldType = fields.get(name);
    const fieldPath = child(path, name);
    if (fieldType === undefined) out.push(unknownField(fieldPath));
    else findUnknownFields(fieldValue, fieldType, fieldPath, out);
  }
}

/** An ajv instance path (`/spec/containers/0/resources/requests/cpu`) as an API-server field path (`spec.containers[0].resources.requests[cpu]`). */
export function pointerToFieldPath(pointer: string, rootType: string, root: unknown): string {
  if (pointer === '') return '';
  let path = '';
  let typeName: string | undefined = rootType;
  let value: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const element: string | undefined = typeName === undefined ? undefined : elementType(typeName);
    const mapValue: string | undefined = typeName === undefined ? undefined : mapValueType(typeName);
    if (element !== undefined || Array.isArray(value)) {
      path = index(path, Number(segment));
      typeName = element;
    } else if (mapValue !== undefined) {
      path = key(path, segment);
      typeName = mapValue;
    } else {
      path = child(path, segment);
      typeName = typeName === undefined ? undefined : fieldsOf(typeName)?.get(segment);
    }
    value = Array.isArray(value) ? value[Number(segment)] : isRecord(value) ? value[segment] : undefined;
  }
  return path;
}
