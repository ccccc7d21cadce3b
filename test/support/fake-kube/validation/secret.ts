/**
 * The API server's rules for a Secret: keys of `data`/`stringData` are config keys, `data` values
 * are base64, the whole payload stays within 1 MiB. `stringData` is merged into `data` before
 * validation on a real server, so its keys are reported under `data`.
 */
import { invalid, isRecord, key, tooLong } from './causes.js';
import { checkConfigKey } from './names.js';
import type { ValidationCause } from '../validate.js';

export const MAX_SECRET_BYTES = 1024 * 1024;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodedLength(value: string): number {
  const padding = value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0;
  return (value.length / 4) * 3 - padding;
}

/** Appends the causes for a Secret's `data` and `stringData` (`type` is a free string, checked by the schema). */
export function checkSecret(secret: Record<string, unknown>, out: ValidationCause[]): void {
  const sizes = new Map<string, number>();
  const data = secret['data'];
  if (isRecord(data)) {
    for (const [k, v] of Object.entries(data)) {
      for (const m of checkConfigKey(k)) out.push(invalid(key('data', k), k, m));
      if (typeof v !== 'string') continue;
      const clean = v.replace(/[\r\n]/g, '');
      if (BASE64.test(clean)) sizes.set(k, decodedLength(clean));
      else out.push(invalid(key('data', k), '<value omitted>', 'illegal base64 data'));
    }
  }
  const stringData = secret['stringData'];
  if (isRecord(stringData)) {
    for (const [k, v] of Object.entries(stringData)) {
      if (!sizes.has(k)) for (const m of checkConfigKey(k)) out.push(invalid(key('data', k), k, m));
      if (typeof v === 'string') sizes.set(k, Buffer.byteLength(v));
    }
  }
  let total = 0;
  for (const size of sizes.values()) total += size;
  if (total > MAX_SECRET_BYTES) out.push(tooLong('data', MAX_SECRET_BYTES));
}
