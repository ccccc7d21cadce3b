/**
 * Field paths and causes worded the way the API server words them (`Required value`,
 * `Invalid value: "x": detail`, …), plus small guards for walking untyped JSON.
 */
import type { ValidationCause } from '../validate.js';

/** `spec` + `containers` → `spec.containers`. */
export function child(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

/** `spec.containers` + 0 → `spec.containers[0]`. */
export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

/** `metadata.labels` + `app` → `metadata.labels[app]` (map keys, as the API server writes them). */
export function key(path: string, k: string): string {
  return `${path}[${k}]`;
}

/** A value as Go's `%q`/`%v` would print it in a field error. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === undefined || value === null) return 'null';
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export function required(field: string, detail?: string): ValidationCause {
  return { field, reason: 'FieldValueRequired', message: detail ? `Required value: ${detail}` : 'Required value' };
}

export function invalid(field: string, value: unknown, detail: string): ValidationCause {
  return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${formatValue(value)}: ${detail}` };
}

export function duplicate(field: string, value: unknown): ValidationCause {
  return { field, reason: 'FieldValueDuplicate', message: `Duplicate value: ${formatValue(value)}` };
}

export function notSupported(field: string, value: unknown, supported: readonly string[]): ValidationCause {
  const list = [...supported]
    .sort()
    .map((s) => JSON.stringify(s))
    .join(', ');
  return { field, reason: 'FieldValueNotSupported', message: `Unsupported value: ${formatValue(value)}: supported values: ${list}` };
}

export function notFound(field: string, value: unknown): ValidationCause {
  return { field, reason: 'FieldValueNotFound', message: `Not found: ${formatValue(value)}` };
}

export function tooLong(field: string, maxBytes: number): ValidationCause {
  return { field, reason: 'FieldValueTooLong', message: `Too long: may not be more than ${maxBytes} bytes` };
}

export function forbidden(field: string, detail: string): ValidationCause {
  return { field, reason: 'FieldValueForbidden', message: `Forbidden: ${detail}` };
}

/** A problem the real API server answers with 400 before validation runs (not a 422 field error). */
export function badRequest(field: string, message: string): ValidationCause {
  return { field, reason: 'BadRequest', message };
}

/** `unknown field "spec.foo"`, as strict field validation reports it. */
export function unknownField(field: string): ValidationCause {
  return { field, reason: 'FieldValueInvalid', message: `unknown field ${JSON.stringify(field)}` };
}

export type JsonRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value when it is an array, else an empty list (type errors are the schema's to report). */
export function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The value when it is an object, else an empty record. */
export function recordOf(value: unknown): JsonRecord {
  return isRecord(value) ? value : {};
}
