/** Reading the caller and the body of a REST request. */
import type express from 'express';
import { CaissonError } from '../../../../common/errors.js';
import type { Principal } from '../../auth/principal.js';
import { callerOf } from '../middleware/authenticate.js';
import { getParams } from '../request-params.js';

export function requireCaller(req: express.Request): Principal {
  const p = callerOf(req);
  if (!p)
    throw new CaissonError(
      'UNAUTHENTICATED',
      'Authentication required: log in (POST /api/v1/login) or send Authorization: Bearer <token>.',
    );
  return p;
}

export function jsonBody(req: express.Request): Record<string, unknown> {
  const b: unknown = req.body;
  if (b && typeof b === 'object' && !Array.isArray(b)) return b as Record<string, unknown>;
  // Form or query parameters are accepted too, for curl users.
  return Object.fromEntries(getParams(req).entries());
}

/** A string field of a JSON body, or undefined when absent. */
export function optionalString(raw: unknown, name: string): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') throw new CaissonError('BAD_REQUEST', `"${name}" must be a string.`);
  return raw;
}

/** An object of scalar values (flow parameters) as strings. */
export function stringMap(raw: unknown, name: string): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new CaissonError('BAD_REQUEST', `"${name}" must be an object of name: value.`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v === 'object' && v !== null) throw new CaissonError('BAD_REQUEST', `"${name}.${k}" must be a string, number or boolean.`);
    out[k] = String(v);
  }
  return out;
}

/** The execution options of a JSON body, shared by submits and schedules. */
export function executionOptionsFromBody(body: Record<string, unknown>): {
  disabled: string[] | undefined;
  failureAction: string | undefined;
  concurrentOption: string | undefined;
  flowOverrides: Record<string, string>;
} {
  let disabled: string[] | undefined;
  if (body.disabled !== undefined) {
    if (!Array.isArray(body.disabled) || body.disabled.some((d) => typeof d !== 'string')) {
      throw new CaissonError('BAD_REQUEST', '"disabled" must be a list of job names.');
    }
    disabled = body.disabled as string[];
  }
  return {
    disabled,
    failureAction: optionalString(body.failureAction, 'failureAction'),
    concurrentOption: optionalString(body.concurrentOption, 'concurrentOption'),
    flowOverrides: stringMap(body.flowParams, 'flowParams'),
  };
}
