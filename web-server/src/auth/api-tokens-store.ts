/** Data access for API tokens. Only the SHA-256 (hex) of a token is stored, with a short non-secret prefix. */
import type { Knex } from 'knex';
import { toRole } from './users-store.js';
import type { Role } from './principal.js';

type Db = Knex | Knex.Transaction;

export interface NewApiToken {
  userId: number;
  name: string;
  tokenHash: string;
  prefix: string;
  now: number;
  expiresAt: number | null;
}

/** Inserts a token and resolves to its id. */
export async function insertApiToken(db: Db, t: NewApiToken): Promise<number> {
  const [id] = await db('api_tokens').insert({
    user_id: t.userId,
    name: t.name,
    token_hash: t.tokenHash,
    prefix: t.prefix,
    created_at: t.now,
    expires_at: t.expiresAt,
  });
  return Number(id);
}

/** A token as listed to its owner: everything but the hash. */
export interface ApiTokenRecord {
  id: number;
  userId: number;
  name: string;
  prefix: string;
  createdAt: number;
  lastUsedAt: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
}

const LISTED_COLUMNS = ['id', 'user_id', 'name', 'prefix', 'created_at', 'last_used_at', 'expires_at', 'revoked_at'] as const;

interface ApiTokenRow {
  id: number | string;
  user_id: number | string;
  name: string;
  prefix: string;
  created_at: number | string;
  last_used_at: number | string | null;
  expires_at: number | string | null;
  revoked_at: number | string | null;
}

const orNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toApiToken(r: ApiTokenRow): ApiTokenRecord {
  return {
    id: Number(r.id),
    userId: Number(r.user_id),
    name: r.name,
    prefix: r.prefix,
    createdAt: Number(r.created_at),
    lastUsedAt: orNull(r.last_used_at),
    expiresAt: orNull(r.expires_at),
    revokedAt: orNull(r.revoked_at),
  };
}

export async function findApiTokenById(db: Db, id: number): Promise<ApiTokenRecord | undefined> {
  const row = (await db('api_tokens')
    .where({ id })
    .first(...LISTED_COLUMNS)) as ApiTokenRow | undefined;
  return row ? toApiToken(row) : undefined;
}

/** A user's tokens, newest first; uses ix_api_tokens_user. */
export async function listApiTokensOfUser(db: Db, userId: number): Promise<ApiTokenRecord[]> {
  const rows = (await db('api_tokens')
    .where({ user_id: userId })
    .orderBy('id', 'desc')
    .select(...LISTED_COLUMNS)) as ApiTokenRow[];
  return rows.map(toApiToken);
}

/** A token with the fields of its owner needed to build a principal. */
export interface ApiTokenWithUser extends ApiTokenRecord {
  username: string;
  role: Role;
  userDisabled: boolean;
}

/** Looks a token up by its hash (uq_api_tokens_hash), whatever its state; the caller judges expiry and revocation. */
export async function findApiTokenByHash(db: Db, tokenHash: string): Promise<ApiTokenWithUser | undefined> {
  const row = (await db('api_tokens')
    .join('users', 'users.id', 'api_tokens.user_id')
    .where('api_tokens.token_hash', tokenHash)
    .first(...LISTED_COLUMNS.map((c) => `api_tokens.${c}`), 'users.username', 'users.role', 'users.disabled')) as
    (ApiTokenRow & { username: string; role: string; disabled: number | boolean }) | undefined;
  if (!row) return undefined;
  return { ...toApiToken(row), username: row.username, role: toRole(row.role), userDisabled: Boolean(Number(row.disabled)) };
}

export async function updateApiTokenLastUsed(db: Db, id: number, now: number): Promise<number> {
  return db('api_tokens').where({ id }).update({ last_used_at: now });
}

/** Marks a token revoked; a token already revoked keeps its first revocation time (resolves to 0). */
export async function revokeApiTokenById(db: Db, id: number, now: number): Promise<number> {
  return db('api_tokens').where({ id }).whereNull('revoked_at').update({ revoked_at: now });
}
