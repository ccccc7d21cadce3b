/**
 * Authentication: logins with rate limiting, sliding sessions, API tokens, and user administration.
 * Secrets (session ids, tokens) leave this module once and are stored only as SHA-256 hashes.
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Clock } from '../../../common/clock.js';
import { isUniqueViolation } from '../../../common/db/dialect.js';
import { CaissonError } from '../../../common/errors.js';
import { hashPassword, verifyPassword, generatePassword } from './passwords.js';
import { isValidUsername, validateGroupName, validateUsername } from './usernames.js';
import { isAdmin, type Principal, type Role } from './principal.js';
import { PrincipalCache } from './principal-cache.js';
import * as users from './users-store.js';
import * as sessions from './sessions-store.js';
import * as tokens from './api-tokens-store.js';
import * as failures from './login-failures-store.js';

/** Azkaban's text for a failed login; clients match it. Unknown user, wrong password and disabled user all get it. */
export const LOGIN_FAILED_MESSAGE = 'Incorrect Login. Username/Password not found.';
/** A session's last_seen_at (and a token's last_used_at) is written at most this often. */
export const TOUCH_INTERVAL_MS = 60_000;
export const API_TOKEN_PREFIX = 'cst_';
/** Characters of a token kept in clear for listings: `cst_` and the first 8 random characters. */
const LISTED_PREFIX_LENGTH = API_TOKEN_PREFIX.length + 8;
/** Longest session id or token looked up; anything longer cannot be ours. */
const MAX_SECRET_LENGTH = 256;
const MAX_TOKEN_NAME_LENGTH = 128;
/**
 * How long an authenticated session or token is reused without a database read (issue 7: pollers
 * authenticate every request). Changes made through this service take effect at once in this
 * process; another replica sees them within this time.
 */
export const PRINCIPAL_CACHE_MS = 1_000;
/** Most principals cached at once (the oldest is dropped first). */
export const PRINCIPAL_CACHE_ENTRIES = 10_000;
/** Width of the login_failures key columns. */
const FAILURE_KEY_LENGTH = 64;

export interface AuthServiceDeps {
  db: Knex;
  clock: Clock;
  sessionTtlMs: number;
  passwordHashCost: number;
  loginMaxFailures: number;
  loginFailureWindowMs: number;
  /** How long a principal is reused without a database read; 0 disables the cache (default PRINCIPAL_CACHE_MS). */
  principalCacheMs?: number;
}

export interface LoginResult {
  sessionId: string;
  principal: Principal;
  expiresAt: number;
}

export interface NewUserInput {
  username: string;
  password: string;
  role: Role;
  email?: string | null;
  groups?: readonly string[];
}

export interface UserSummary {
  id: number;
  username: string;
  role: Role;
  email: string | null;
  disabled: boolean;
  groups: string[];
  createdAt: number;
}

export interface ApiTokenInfo {
  id: number;
  name: string;
  prefix: string;
  createdAt: number;
  lastUsedAt: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface CreatedApiToken extends ApiTokenInfo {
  /** The secret; shown once, never stored. */
  token: string;
}

export interface SweepResult {
  sessions: number;
  loginFailures: number;
}

export function sha256Hex(s: string): string {
  return crypto.createHash('sha256').update(s, 'utf8').digest('hex');
}

function userNotFound(username: string): CaissonError {
  return new CaissonError('USER_NOT_FOUND', `User "${username}" not found.`);
}

export class AuthService {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly deps: AuthServiceDeps;
  private dummyHash: Promise<string> | undefined;
  private readonly principals: PrincipalCache;

  constructor(deps: AuthServiceDeps) {
    this.deps = deps;
    this.db = deps.db;
    this.clock = deps.clock;
    this.principals = new PrincipalCache(deps.principalCacheMs ?? PRINCIPAL_CACHE_MS, PRINCIPAL_CACHE_ENTRIES);
  }

  // ---- Login, sessions -------------------------------------------------------------------------

  /**
   * Checks the credentials and opens a session. Refused with TOO_MANY_REQUESTS, before the password is
   * looked at, while the user name or the client address has `loginMaxFailures` failures in the window.
   * The attempt is recorded as a failure up front (and removed if it is refused or succeeds), so
   * concurrent attempts cannot slip past the limit together.
   */
  async login(username: string, password: string, clientIp: string): Promise<LoginResult> {
    const now = this.clock.now();
    const userKey = username.slice(0, FAILURE_KEY_LENGTH);
    const ipKey = clientIp.slice(0, FAILURE_KEY_LENGTH);
    const attemptId = await failures.insertLoginFailure(this.db, { username: userKey, clientIp: ipKey, now });
    try {
      await this.refuseWhenRateLimited(userKey, ipKey, now, attemptId);
    } catch (e) {
      await failures.deleteLoginFailure(this.db, attemptId);
      throw e;
    }

    const user = isValidUsername(username) ? await users.findUserByName(this.db, username) : undefined;
    // Unknown users cost a hash comparison too, so timing does not tell which names exist.
    let passwordOk = false;
    if (user) passwordOk = await verifyPassword(password, user.passwordHash);
    else await verifyPassword(password, await this.getDummyHash());
    if (!user || !passwordOk || user.disabled) {
      throw new CaissonError('LOGIN_FAILED', LOGIN_FAILED_MESSAGE);
    }

    await failures.deleteLoginFailuresOfUserFromIp(this.db, userKey, ipKey);
    const sessionId = crypto.randomBytes(32).toString('base64url');
    const expiresAt = now + this.deps.sessionTtlMs;
    await sessions.insertSession(this.db, { idHash: sha256Hex(sessionId), userId: user.id, clientIp: clientIp || null, now, expiresAt });
    const groups = await users.findGroupNamesOfUser(this.db, user.id);
    return { sessionId, expiresAt, principal: { userId: user.id, username: user.username, role: user.role, groups, via: 'session' } };
  }

  private async refuseWhenRateLimited(userKey: string, ipKey: string, now: number, attemptId: number): Promise<void> {
    const max = this.deps.loginMaxFailures;
    const since = now - this.deps.loginFailureWindowMs;
    const byUser = await failures.findRecentFailuresOfUser(this.db, userKey, since, max, attemptId);
    if (byUser.length >= max) throw this.tooManyFailures(`for user "${userKey}"`, byUser, now);
    const byIp = await failures.findRecentFailuresFromIp(this.db, ipKey, since, max, attemptId);
    if (byIp.length >= max) throw this.tooManyFailures(`from address ${ipKey}`, byIp, now);
  }

  /** `recent` holds the newest `max` failure times, newest first: logins resume when the oldest of them leaves the window. */
  private tooManyFailures(what: string, recent: number[], now: number): CaissonError {
    const oldest = recent[this.deps.loginMaxFailures - 1] ?? now;
    const retryAt = oldest + this.deps.loginFailureWindowMs;
    const seconds = Math.max(1, Math.ceil((retryAt - now) / 1000));
    return new CaissonError(
      'TOO_MANY_REQUESTS',
      `Too many failed logins ${what}. Try again in ${seconds} seconds, at ${new Date(retryAt).toISOString()}.`,
      {
        retryable: true,
        details: { retryAt, retryAfterSeconds: seconds },
      },
    );
  }

  private getDummyHash(): Promise<string> {
    this.dummyHash ??= hashPassword(generatePassword(), this.deps.passwordHashCost);
    return this.dummyHash;
  }

  /**
   * The principal of a live session, or null (unknown, expired, or its user disabled). Each use slides
   * the expiry to now + ttl, written at most once per TOUCH_INTERVAL_MS.
   */
  async authenticateSession(sessionId: string): Promise<Principal | null> {
    if (!sessionId || sessionId.length > MAX_SECRET_LENGTH) return null;
    const now = this.clock.now();
    const idHash = sha256Hex(sessionId);
    const key = `session:${idHash}`;
    const cached = this.principals.get(key, now);
    if (cached) return cached;
    const generation = this.principals.generation;
    const s = await sessions.findLiveSession(this.db, idHash, now);
    if (!s || s.userDisabled) return null;
    let expiresAt = s.expiresAt;
    if (now - s.lastSeenAt >= TOUCH_INTERVAL_MS) {
      await sessions.touchSession(this.db, idHash, now, now + this.deps.sessionTtlMs);
      expiresAt = now + this.deps.sessionTtlMs;
    }
    const groups = await users.findGroupNamesOfUser(this.db, s.userId);
    const principal: Principal = { userId: s.userId, username: s.username, role: s.role, groups, via: 'session' };
    this.principals.set(key, principal, now, expiresAt, generation);
    return principal;
  }

  /** Ends a session; unknown or already ended sessions are fine. */
  async logout(sessionId: string): Promise<void> {
    if (!sessionId || sessionId.length > MAX_SECRET_LENGTH) return;
    this.principals.delete(`session:${sha256Hex(sessionId)}`);
    await sessions.deleteSession(this.db, sha256Hex(sessionId));
  }

  // ---- API tokens ------------------------------------------------------------------------------

  /** Creates a token for the principal's own user; the secret is in the result and nowhere else. */
  async createApiToken(principal: Principal, name: string, ttlMs?: number): Promise<CreatedApiToken> {
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > MAX_TOKEN_NAME_LENGTH) {
      throw new CaissonError('BAD_REQUEST', `API token name must be 1-${MAX_TOKEN_NAME_LENGTH} characters long.`);
    }
    if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)) {
      throw new CaissonError('BAD_REQUEST', `API token lifetime must be a positive number of milliseconds, got ${ttlMs}.`);
    }
    const now = this.clock.now();
    const token = API_TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
    const prefix = token.slice(0, LISTED_PREFIX_LENGTH);
    const expiresAt = ttlMs === undefined ? null : now + ttlMs;
    const id = await tokens.insertApiToken(this.db, {
      userId: principal.userId,
      name: trimmed,
      tokenHash: sha256Hex(token),
      prefix,
      now,
      expiresAt,
    });
    return { token, id, name: trimmed, prefix, createdAt: now, lastUsedAt: null, expiresAt, revokedAt: null };
  }

  /** The principal's own tokens, newest first, without secrets. */
  async listApiTokens(principal: Principal): Promise<ApiTokenInfo[]> {
    const list = await tokens.listApiTokensOfUser(this.db, principal.userId);
    return list.map(({ userId: _userId, ...info }) => info);
  }

  /** Revokes a token: its owner or an admin may; others get FORBIDDEN, an unknown id NOT_FOUND. Idempotent. */
  async revokeApiToken(principal: Principal, id: number): Promise<void> {
    const t = await tokens.findApiTokenById(this.db, id);
    if (!t) throw new CaissonError('NOT_FOUND', `API token ${id} not found.`);
    if (t.userId !== principal.userId && !isAdmin(principal)) {
      throw new CaissonError('FORBIDDEN', `API token ${id} belongs to another user; only its owner or an admin may revoke it.`);
    }
    await tokens.revokeApiTokenById(this.db, id, this.clock.now());
    this.principals.clear();
  }

  /** The principal of a bearer token, or null (unknown, revoked, expired, or its user disabled). */
  async authenticateToken(token: string): Promise<Principal | null> {
    if (!token.startsWith(API_TOKEN_PREFIX) || token.length > MAX_SECRET_LENGTH) return null;
    const now = this.clock.now();
    const tokenHash = sha256Hex(token);
    const key = `token:${tokenHash}`;
    const cached = this.principals.get(key, now);
    if (cached) return cached;
    const generation = this.principals.generation;
    const t = await tokens.findApiTokenByHash(this.db, tokenHash);
    if (!t || t.revokedAt !== null || t.userDisabled) return null;
    if (t.expiresAt !== null && t.expiresAt <= now) return null;
    if (t.lastUsedAt === null || now - t.lastUsedAt >= TOUCH_INTERVAL_MS) {
      await tokens.updateApiTokenLastUsed(this.db, t.id, now);
    }
    const groups = await users.findGroupNamesOfUser(this.db, t.userId);
    const principal: Principal = { userId: t.userId, username: t.username, role: t.role, groups, via: 'token' };
    this.principals.set(key, principal, now, t.expiresAt, generation);
    return principal;
  }

  // ---- Users -----------------------------------------------------------------------------------

  /** Creates a user with its groups (created as needed). A taken name gives USER_EXISTS. */
  async createUser(input: NewUserInput): Promise<UserSummary> {
    validateUsername(input.username);
    if (input.role !== 'ADMIN' && input.role !== 'USER') {
      throw new CaissonError('BAD_REQUEST', `Invalid role "${String(input.role)}": use ADMIN or USER.`);
    }
    const groups = [...new Set(input.groups ?? [])].sort();
    for (const g of groups) validateGroupName(g);
    const email = input.email?.trim() || null;
    if (email !== null && email.length > 255) throw new CaissonError('BAD_REQUEST', 'Email address must be at most 255 characters long.');
    const passwordHash = await hashPassword(input.password, this.deps.passwordHashCost);
    const now = this.clock.now();
    try {
      const id = await this.db.transaction(async (trx) => {
        const userId = await users.insertUser(trx, { username: input.username, passwordHash, role: input.role, email, now });
        for (const g of groups) await users.insertUserGroup(trx, userId, await users.ensureGroup(trx, g, now));
        return userId;
      });
      return { id, username: input.username, role: input.role, email, disabled: false, groups, createdAt: now };
    } catch (e) {
      if (isUniqueViolation(e)) throw new CaissonError('USER_EXISTS', `User "${input.username}" already exists.`, { cause: e });
      throw e;
    }
  }

  /** Replaces a user's password and ends all of that user's sessions (API tokens stay valid). */
  async setPassword(username: string, password: string): Promise<void> {
    const passwordHash = await hashPassword(password, this.deps.passwordHashCost);
    const user = await this.requireUser(username);
    const now = this.clock.now();
    await this.db.transaction(async (trx) => {
      if ((await users.updateUserPasswordHash(trx, user.id, passwordHash, now)) === 0) throw userNotFound(username);
      await sessions.deleteSessionsOfUser(trx, user.id);
    });
    this.principals.clear();
  }

  /**
   * Disables or re-enables a user. A disabled user cannot log in, and neither its sessions nor its
   * tokens authenticate; disabling also ends its sessions, while tokens work again once re-enabled.
   */
  async setDisabled(username: string, disabled: boolean): Promise<void> {
    const user = await this.requireUser(username);
    const now = this.clock.now();
    await this.db.transaction(async (trx) => {
      if ((await users.updateUserDisabled(trx, user.id, disabled, now)) === 0) throw userNotFound(username);
      if (disabled) await sessions.deleteSessionsOfUser(trx, user.id);
    });
    this.principals.clear();
  }

  /** Adds a user to a group, creating the group if needed; a membership that exists is kept. */
  async addUserToGroup(username: string, group: string): Promise<void> {
    validateGroupName(group);
    const user = await this.requireUser(username);
    const now = this.clock.now();
    await this.db.transaction(async (trx) => {
      await users.insertUserGroup(trx, user.id, await users.ensureGroup(trx, group, now));
    });
    this.principals.clear();
  }

  /** Every user, sorted by name, with its groups. */
  async listUsers(): Promise<UserSummary[]> {
    const all = await users.listAllUsers(this.db);
    const groups = await users.findGroupNamesByUser(this.db);
    return all.map((u) => ({
      id: u.id,
      username: u.username,
      role: u.role,
      email: u.email,
      disabled: u.disabled,
      groups: groups.get(u.id) ?? [],
      createdAt: u.createdAt,
    }));
  }

  /** The user's summary, or undefined when no such user exists. */
  async findUser(username: string): Promise<UserSummary | undefined> {
    if (!isValidUsername(username)) return undefined;
    const u = await users.findUserByName(this.db, username);
    if (!u) return undefined;
    const groups = await users.findGroupNamesOfUser(this.db, u.id);
    return { id: u.id, username: u.username, role: u.role, email: u.email, disabled: u.disabled, groups, createdAt: u.createdAt };
  }

  /** Deletes expired sessions and failed-login records older than the window. */
  async sweepExpired(): Promise<SweepResult> {
    const now = this.clock.now();
    const sessionCount = await sessions.deleteExpiredSessions(this.db, now);
    const failureCount = await failures.deleteLoginFailuresBefore(this.db, now - this.deps.loginFailureWindowMs);
    return { sessions: sessionCount, loginFailures: failureCount };
  }

  private async requireUser(username: string): Promise<users.UserRecord> {
    const user = isValidUsername(username) ? await users.findUserByName(this.db, username) : undefined;
    if (!user) throw userNotFound(username);
    return user;
  }
}
