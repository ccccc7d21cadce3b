/**
 * Resolves the caller from the `session.id` parameter, the `azkaban.browser.session.id` cookie or
 * an `Authorization: Bearer` token, and stores it for the handlers. Never rejects by itself: each
 * router decides how an anonymous caller is answered (AJAX error body, 401, or the login page).
 */
import type express from 'express';
import type { AuthService } from '../../auth/auth-service.js';
import type { Principal } from '../../auth/principal.js';
import { bearerTokenFrom, getParams, sessionIdFrom } from '../request-params.js';

const principals = new WeakMap<express.Request, Principal>();
const sessionIds = new WeakMap<express.Request, string>();

export function authenticate(auth: AuthService): express.RequestHandler {
  return async (req, _res, next) => {
    const token = bearerTokenFrom(req);
    if (token) {
      const p = await auth.authenticateToken(token);
      if (p) principals.set(req, p);
      return next();
    }
    const sid = sessionIdFrom(req, getParams(req));
    if (sid) {
      const p = await auth.authenticateSession(sid);
      if (p) {
        principals.set(req, p);
        sessionIds.set(req, sid);
      }
    }
    next();
  };
}

export function callerOf(req: express.Request): Principal | undefined {
  return principals.get(req);
}

export function sessionIdOf(req: express.Request): string | undefined {
  return sessionIds.get(req);
}

export function clientIp(req: express.Request): string {
  return req.socket.remoteAddress ?? 'unknown';
}

export const SESSION_COOKIE = 'azkaban.browser.session.id';

export function setSessionCookie(res: express.Response, sessionId: string, maxAgeMs: number): void {
  res.cookie(SESSION_COOKIE, sessionId, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: maxAgeMs });
}

export function clearSessionCookie(res: express.Response): void {
  res.clearCookie(SESSION_COOKIE, { path: '/' });
}
