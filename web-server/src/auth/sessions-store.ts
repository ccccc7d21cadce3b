/** Data access for login sessions. Rows are keyed by the SHA-256 (hex) of the session id, never the id. */
import type { Knex } from 'knex';
import { toRole } from './users-store.js';
import type { Role } from './principal.js';

type Db = Knex | Knex.Transaction;

export interface NewSession {
  idHash: string;
  userId: number;
  clientIp: string | null;
  now: number;
  expiresAt: number;
}

export async function insertSession(db: Db, s: NewSession): Promise<void> {
  await db('sessions').insert({
    id_hash: s.idHash,
    user_id: s.userId,
    created_at: s.now,
    last_seen_at: s.now,
    expires_at: s.expiresAt,
    client_ip: s.clientIp,
  });
}

/** A live session with the fields of its user needed to build a principal. */
export interface LiveSession {
  userId: number;
  username: string;
  role: Role;
  userDisabled: boolean;
  lastSeenAt: number;
  expiresAt: number;
}

/** The session if it has not expired at `now`; primary key lookup joined to its user. */
export async function findLiveSession(db: Db, idHash: string, now: number): Promise<LiveSession | undefined> {
  const row = (await db('sessions')
    .join('users', 'users.id', 'sessions.user_id')
    .where('sessions.id_hash', idHash)
    .andWhere('sessions.expires_at', '>', now)
    .first('sessions.user_id', 'users.username', 'users.role', 'users.disabled', 'sessions.last_seen_at', 'sessions.expires_at')) as
    | {
        user_id: number | string;
        username: string;
        role: string;
        disabled: number | boolean;
        last_seen_at: number | string;
        expires_at: number | string;
      }
    | undefined;
  if (!row) return undefined;
  return {
    userId: Number(row.user_id),
    username: row.username,
    role: toRole(row.role),
    userDisabled: Boolean(Number(row.disabled)),
    lastSeenAt: Number(row.last_seen_at),
    expiresAt: Number(row.expires_at),
  };
}

/** Records a use and slides the expiry; only a still-live session is touched (a deleted or expired one stays gone). */
export async function touchSession(db: Db, idHash: string, now: number, expiresAt: number): Promise<number> {
  return db('sessions').where('id_hash', idHash).andWhere('expires_at', '>', now).update({ last_seen_at: now, expires_at: expiresAt });
}

export async function deleteSession(db: Db, idHash: string): Promise<number> {
  return db('sessions').where('id_hash', idHash).delete();
}

/** Ends every session of a user (password change, disabling); uses ix_sessions_user. */
export async function deleteSessionsOfUser(db: Db, userId: number): Promise<number> {
  return db('sessions').where('user_id', userId).delete();
}

/** Removes sessions whose expiry has passed; uses ix_sessions_expires. */
export async function deleteExpiredSessions(db: Db, now: number): Promise<number> {
  return db('sessions').where('expires_at', '<=', now).delete();
}
