/**
 * A job's output parameters: the JSON object it wrote to $JOB_OUTPUT_PROP_FILE. Values become
 * strings as Azkaban properties are (numbers and booleans as written, null as "", objects and
 * arrays as JSON). A missing or empty file means no outputs.
 */
import fs from 'node:fs';

export type OutputParamsResult = { ok: true; params: Record<string, string> } | { ok: false; message: string };

export const MAX_OUTPUT_FILE_BYTES = 1024 * 1024;

export function parseOutputParams(text: string): OutputParamsResult {
  if (text.trim() === '') return { ok: true, params: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return {
      ok: false,
      message: `output parameters in JOB_OUTPUT_PROP_FILE are not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, message: 'output parameters in JOB_OUTPUT_PROP_FILE must be a JSON object of names to values' };
  }
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value === 'string') params[key] = value;
    else if (value === null) params[key] = '';
    else if (typeof value === 'object') params[key] = JSON.stringify(value);
    else params[key] = String(value);
  }
  return { ok: true, params };
}

export async function readOutputParams(path: string): Promise<OutputParamsResult> {
  let size: number;
  try {
    size = (await fs.promises.stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, params: {} };
    return { ok: false, message: `cannot read JOB_OUTPUT_PROP_FILE: ${(e as Error).message}` };
  }
  if (size > MAX_OUTPUT_FILE_BYTES) {
    return { ok: false, message: `JOB_OUTPUT_PROP_FILE holds ${size} bytes; at most ${MAX_OUTPUT_FILE_BYTES} are allowed` };
  }
  return parseOutputParams(await fs.promises.readFile(path, 'utf8'));
}
