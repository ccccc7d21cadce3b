/**
 * Leader leases in the `leases` table: one holder per name, taken over only once it has expired.
 * Every change is one compare-and-set statement, so two replicas can never both hold a lease.
 */
import type { Knex } from 'knex';

/**
 * Takes or renews `name` for `holder` until `now + durationMs`. True when `holder` holds it now:
 * it held it already, nobody did, or the previous holder's lease has expired.
 */
export async function acquireLease(db: Knex, name: string, holder: string, now: number, durationMs: number): Promise<boolean> {
  const expiresAt = now + durationMs;
  const updated = await db('leases')
    .where({ name })
    .andWhere((q) => q.where({ holder }).orWhere('expires_at', '<', now))
    .update({ holder, expires_at: expiresAt });
  if (updated > 0) return true;
  try {
    await db('leases').insert({ name, holder, expires_at: expiresAt });
    return true;
  } catch (e) {
    // Someone else holds it (the row exists and is live), or inserted it first.
    if (isDuplicateKey(e)) return false;
    throw e;
  }
}

/** Gives the lease up at once (a clean shutdown), so another replica need not wait for expiry. */
export async function releaseLease(db: Knex, name: string, holder: string): Promise<void> {
  await db('leases').where({ name, holder }).delete();
}

export async function leaseHolder(db: Knex, name: string, now: number): Promise<string | undefined> {
  const row = (await db('leases').where({ name }).andWhere('expires_at', '>=', now).first('holder')) as { holder: string } | undefined;
  return row?.holder;
}

function isDuplicateKey(e: unknown): boolean {
  const err = e as { code?: string; errno?: number; message?: string };
  return err.code === 'ER_DUP_ENTRY' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || /UNIQUE constraint failed/.test(err.message ?? '');
}
