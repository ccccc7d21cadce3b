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
