/**
 * Data access for failed-login records, the shared state of login rate limiting: every replica
 * counts the same rows, so the limit holds across replicas.
 */
import type { Knex } from 'knex';

type Db = Knex | Knex.Transaction;

export interface LoginAttempt {
  username: string;
  clientIp: string;
  now: number;
}

/** Records an attempt as failed and resolves to its id (the attempt removes it again when it turns out fine). */
export async function insertLoginFailure(db: Db, a: LoginAttempt): Promise<number> {
  const [id] = await db('login_failures').insert({ username: a.username, client_ip: a.clientIp, failed_at: a.now });
  return Number(id);
}

export async function deleteLoginFailure(db: Db, id: number): Promise<void> {
  await db('login_failures').where({ id }).delete();
}

/** Times of the most recent failures keyed by `column` after `since`, newest first, leaving out row `exceptId`. */
async function recentFailures(
  db: Db,
  column: 'username' | 'client_ip',
  value: string,
  since: number,
  limit: number,
  exceptId: number,
): Promise<number[]> {
  const rows = (await db('login_failures')
    .where(column, value)
    .andWhere('failed_at', '>', since)
    .andWhereNot('id', exceptId)
    .orderBy('failed_at', 'desc')
    .limit(limit)
    .select('failed_at')) as { failed_at: number | string }[];
  return rows.map((r) => Number(r.failed_at));
}

/**
 * Times of the most recent failures for a user name after `since`, newest first, at most `limit`,
 * leaving out the row `exceptId` (the current attempt); uses ix_login_failures_user.
 */
export function findRecentFailuresOfUser(db: Db, username: string, since: number, limit: number, exceptId: number): Promise<number[]> {
  return recentFailures(db, 'username', username, since, limit, exceptId);
}

/** As findRecentFailuresOfUser, for a client address; uses ix_login_failures_ip. */
export function findRecentFailuresFromIp(db: Db, clientIp: string, since: number, limit: number, exceptId: number): Promise<number[]> {
  return recentFailures(db, 'client_ip', clientIp, since, limit, exceptId);
}

/** After a successful login: forget this user's failures from this address only (other addresses keep theirs). */
export async function deleteLoginFailuresOfUserFromIp(db: Db, username: string, clientIp: string): Promise<number> {
  return db('login_failures').where({ username, client_ip: clientIp }).delete();
}

/** Removes records that no longer count (failed at or before `before`); uses neither index fully, runs from the sweeper. */
export async function deleteLoginFailuresBefore(db: Db, before: number): Promise<number> {
  return db('login_failures').where('failed_at', '<=', before).delete();
}
