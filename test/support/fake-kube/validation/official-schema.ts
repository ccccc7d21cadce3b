/**
 * The official OpenAPI schemas of Pod, Service and Secret (through `kubernetes-models`, whose
 * validators are precompiled ajv functions): types, enums, formats such as quantities, required
 * fields. Their ajv errors become causes with API-server field paths.
 */
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { child, formatValue, invalid, isRecord, notSupported, required, unknownField } from './causes.js';
import { pointerToFieldPath } from './type-metadata.js';
import type { ValidationCause } from '../validate.js';

/** The part of an ajv ErrorObject we read. */
interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

type CoreResource = 'pods' | 'services' | 'secrets';

const ROOT_TYPES: Record<CoreResource, string> = { pods: 'V1Pod', services: 'V1Service', secrets: 'V1Secret' };

const QUANTITY_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

function runSchema(resource: CoreResource, obj: Record<string, unknown>): void {
  // The constructors copy the data and fill apiVersion/kind when absent; validate() throws on the first failing object.
  const data = obj as never;
  if (resource === 'pods') new Pod(data).validate();
  else if (resource === 'services') new Service(data).validate();
  else new Secret(data).validate();
}

function schemaErrorsOf(error: unknown): SchemaError[] {
  const errors = isRecord(error) || error instanceof Error ? (error as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(errors)) throw error;
  return errors as SchemaError[];
}

function valueAt(root: unknown, pointer: string): unknown {
  let value = root;
  if (pointer === '') return value;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    value = Array.isArray(value) ? value[Number(segment)] : isRecord(value) ? value[segment] : undefined;
  }
  return value;
}

/** One cause for the errors ajv gives at one path (a oneOf of types and formats gives several). */
function causeOfGroup(field: string, value: unknown, errors: SchemaError[]): ValidationCause {
  const format = errors.find((e) => e.keyword === 'format');
  if (format) {
    const name = String(format.params['format']);
    return invalid(field, value, name === 'quantity' ? QUANTITY_MESSAGE : `must match format ${JSON.stringify(name)}`);
  }
  const allowed = errors.find((e) => e.keyword === 'enum');
  if (allowed) {
    const values = Array.isArray(allowed.params['allowedValues']) ? allowed.params['allowedValues'].map(String) : [];
    return notSupported(field, value, values);
  }
  const types = [...new Set(errors.filter((e) => e.keyword === 'type').map((e) => String(e.params['type'])))];
  if (types.length > 0) return invalid(field, value, `must be of type ${types.join(' or ')}`);
  const other = errors.find((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf') ?? errors[0];
  return invalid(field, value, other?.message ?? `does not match the schema (${formatValue(other?.keyword)})`);
}

/** Causes for everything the official schema of `resource` rejects in `obj`. */
export function checkOfficialSchema(resource: CoreResource, obj: Record<string, unknown>): ValidationCause[] {
  try {
    runSchema(resource, obj);
    return [];
  } catch (error) {
    const rootType = ROOT_TYPES[resource];
    const causes: ValidationCause[] = [];
    const groups = new Map<string, SchemaError[]>();
    for (const e of schemaErrorsOf(error)) {
      const path = pointerToFieldPath(e.instancePath, rootType, obj);
      if (e.keyword === 'required') causes.push(required(child(path, String(e.params['missingProperty']))));
      else if (e.keyword === 'additionalProperties') causes.push(unknownField(child(path, String(e.params['additionalProperty']))));
      else {
        const group = groups.get(e.instancePath);
        if (group) group.push(e);
        else groups.set(e.instancePath, [e]);
      }
    }
    for (const [pointer, errors] of groups) {
      causes.push(causeOfGroup(pointerToFieldPath(pointer, rootType, obj), valueAt(obj, pointer), errors));
    }
    return causes;
  }
}
