/**
 * JSON printed the way Azkaban's AJAX servlets print it: Jackson's `DefaultPrettyPrinter`
 * (`ObjectMapper.writerWithDefaultPrettyPrinter()` in azkaban-common's `JSONUtils`). Some clients
 * match literal text such as `{\n  "error" : "session"\n}`, so the layout is reproduced exactly:
 *
 * - objects: one field per line, two spaces per nesting level, `"key" : value`; `{ }` when empty;
 * - arrays: inline, `[ 1, 2 ]`, `[ ]` when empty; arrays do not add a nesting level, so an object
 *   inside an array indents from the level of the array's owner (`[ {\n    "a" : 1\n  } ]`);
 * - strings: `"` and `\` escaped, control characters below U+0020 as `\b \t \n \f \r` or `\u00XX`
 *   (upper-case hex); `/`, DEL and all non-ASCII text (U+2028 included) are written as they are.
 *   Lone surrogates, which UTF-8 cannot carry, are written as `\uXXXX`.
 *
 * Values follow `JSON.stringify`: `toJSON()` is honoured, `undefined`, functions and symbols are
 * omitted from objects and printed `null` in arrays, non-finite numbers print `null`; bigints print
 * as integers (Java longs). The output has no trailing newline.
 */
import type { Response } from 'express';
import { sendJsonText } from '../send-json.js';

const INDENT = '  ';

export function formatAzkabanJson(value: unknown): string {
  return formatValue(value, 0, new Set()) ?? 'null';
}

/** Answers an AJAX request: HTTP 200, `application/json; charset=utf-8`, Azkaban's layout. */
export function sendAjax(res: Response, body: Record<string, unknown>): void {
  sendJsonText(res, formatAzkabanJson(body));
}

/**
 * Answers an AJAX request that failed: HTTP 200 with `{"error" : message}`. Azkaban's AJAX
 * endpoints answer errors with 200 because some clients raise on any non-2xx before reading the body.
 */
export function sendAjaxError(res: Response, message: string): void {
  sendAjax(res, { error: message });
}

/** Returns undefined for values an object omits (undefined, functions, symbols). */
function formatValue(raw: unknown, nesting: number, seen: Set<object>): string | undefined {
  const value = unwrap(raw);
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (typeof value !== 'object' || value === null) return 'null';
  if (seen.has(value)) throw new TypeError('formatAzkabanJson: the value contains a cycle');
  seen.add(value);
  try {
    return Array.isArray(value) ? formatArray(value, nesting, seen) : formatObject(value as Record<string, unknown>, nesting, seen);
  } finally {
    seen.delete(value);
  }
}

function unwrap(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return (toJSON as () => unknown).call(value);
  if (value instanceof Number || value instanceof String || value instanceof Boolean) {
    return value.valueOf();
  }
  return value;
}

function formatArray(items: readonly unknown[], nesting: number, seen: Set<object>): string {
  if (items.length === 0) return '[ ]';
  const parts = items.map((item) => formatValue(item, nesting, seen) ?? 'null');
  return `[ ${parts.join(', ')} ]`;
}

function formatObject(obj: Record<string, unknown>, nesting: number, seen: Set<object>): string {
  const inner = INDENT.repeat(nesting + 1);
  const lines: string[] = [];
  for (const key of Object.keys(obj)) {
    const text = formatValue(obj[key], nesting + 1, seen);
    if (text !== undefined) lines.push(`${inner}${quote(key)} : ${text}`);
  }
  if (lines.length === 0) return '{ }';
  return `{\n${lines.join(',\n')}\n${INDENT.repeat(nesting)}}`;
}

const SHORT_ESCAPES: Record<number, string> = {
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0c: '\\f',
  0x0d: '\\r',
  0x22: '\\"',
  0x5c: '\\\\',
};

function quote(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let escape: string | undefined;
    if (c < 0x20 || c === 0x22 || c === 0x5c) {
      escape = SHORT_ESCAPES[c] ?? unicodeEscape(c);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const isPair = c <= 0xdbff && i + 1 < s.length && isLowSurrogate(s.charCodeAt(i + 1));
      if (isPair) {
        i++;
        continue;
      }
      escape = unicodeEscape(c);
    }
    if (escape !== undefined) {
      out += s.slice(start, i) + escape;
      start = i + 1;
    }
  }
  return `${out}${s.slice(start)}"`;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function unicodeEscape(c: number): string {
  return `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
}
