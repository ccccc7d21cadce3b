/**
 * Claims and leases of the dispatch queue (DESIGN §3 steps 2 and 4; STYLE §5). A claim is one short
 * skip-locked transaction that moves READY rows to DISPATCHING with a claimer, a lease and a fresh
 * token; an expired lease is taken over in place (never back to READY); every later write is a
 * compare-and-set fenced by the claimer. No network call happens inside these transactions.
 */
import type { Knex } from 'knex';
import { dialectOf } from '../../../common/db/knex.js';
import { forUpdateSkipLocked, nextUpdateTime } from '../../../common/db/dialect.js';
import { FLOW_ACTIVE_STATUSES, predecessorsOf } from '../../../common/status.js';
import { appendServerEvent } from '../executions/events-store.js';
import { toExecution, transitionExecution, type ExecutionRow } from '../executions/executions-store.js';
import { submitFlowRetryIfDue } from '../executions/flow-retries.js';
import { finalizeJobsOf } from '../executions/jobs-finalize.js';
import type { RuntimeInfo } from '../runtime/container-runtime.js';

/** A fresh execution token for one claimed row: the nonce stored with it and the token's hash. */
export interface MintedToken {
  nonce: string;
  hash: string;
}

export interface ClaimReadyOptions {
  claimer: string;
  now: number;
  leaseMs: number;
  /** Most rows this claim takes. */
  limit: number;
  /** Solo mode: most executions active at once (DISPATCHING … KILLING), this claim included. */
  maxActive?: number;
  /** Creates the token of one claimed row (the store stays free of crypto). */
  mintToken: () => MintedToken;
}

export interface TakeOverOptions {
  claimer: string;
  now: number;
  leaseMs: number;
  limit: number;
}

/** MySQL/MariaDB: READ COMMITTED locks only the rows a claim returns (no gap locks that would stall submits). */
function claimTransactionConfig(db: Knex): Knex.TransactionConfig {
  return dialectOf(db) === 'mysql' ? { isolationLevel: 'read committed' } : {};
}

async function countActive(trx: Knex.Transaction): Promise<number> {
  // Uses ix_execution_flows_status_update (status prefix).
  const [row] = (await trx('execution_flows')
    .whereIn('status', [...FLOW_ACTIVE_STATUSES])
    .count({ n: '*' })) as { n: number | string }[];
  return Number(row?.n ?? 0);
}

/**
 * Claims up to `limit` READY executions, best first, and returns them re-read (DISPATCHING, claimed
 * by `claimer`, lease_until = now + leaseMs, attempt + 1, a fresh token nonce and hash).
 */
export async function claimReady(db: Knex, o: ClaimReadyOptions): Promise<ExecutionRow[]> {
  if (o.limit <= 0) return [];
  return db.transaction(async (trx) => {
    let limit = o.limit;
    if (o.maxActive !== undefined) {
      // On SQLite (solo mode) the single writer makes count-then-claim exact; on MySQL it is a soft cap.
      limit = Math.min(limit, o.maxActive - (await countActive(trx)));
      if (limit <= 0) return [];
    }
    // Invariant: a READY row is claimed by at most one transaction (locked rows are skipped, the UPDATE
    // re-checks status); ix_execution_flows_dispatch (status, priority DESC, submit_time, exec_id) serves the order.
    const picked = (await forUpdateSkipLocked(
      db,
      trx('execution_flows')
        .select('exec_id')
        .where({ status: 'READY' })
        .orderBy([
          { column: 'priority', order: 'desc' },
          { column: 'submit_time', order: 'asc' },
          { column: 'exec_id', order: 'asc' },
        ])
        .limit(limit),
    )) as { exec_id: number | string }[];
    const ids = picked.map((r) => Number(r.exec_id));
    if (ids.length === 0) return [];
    const tokens = new Map(ids.map((id) => [id, o.mintToken()] as const));
    const caseOf = (pick: (t: MintedToken) => string): Knex.Raw =>
      trx.raw(
        `CASE exec_id ${ids.map(() => 'WHEN ? THEN ?').join(' ')} END`,
        ids.flatMap((id) => [id, pick(tokens.get(id)!)]),
      );
    await trx('execution_flows')
      .whereIn('exec_id', ids)
      .where({ status: 'READY' })
      .update({
        status: 'DISPATCHING',
        claimed_by: o.claimer,
        lease_until: o.now + o.leaseMs,
        attempt: trx.raw('attempt + 1'),
        token_nonce: caseOf((t) => t.nonce),
        token_hash: caseOf((t) => t.hash),
        update_time: nextUpdateTime(trx, o.now),
      });
    const rows = await reread(trx, ids);
    // Only the rows this UPDATE moved carry the nonce it wrote.
    return rows.filter((r) => r.status === 'DISPATCHING' && r.tokenNonce === tokens.get(r.execId)?.nonce);
  }, claimTransactionConfig(db));
}

/**
 * Takes over, in place, DISPATCHING executions whose lease expired before `now`: they stay
 * DISPATCHING with a new claimer, attempt + 1 and a new lease, and keep their token nonce and hash
 * (a retried or adopted launch reuses the same token). Returns them re-read, oldest lease first.
 */
export async function takeOverExpired(db: Knex, o: TakeOverOptions): Promise<ExecutionRow[]> {
  if (o.limit <= 0) return [];
  return db.transaction(async (trx) => {
    // Invariant: an expired claim is taken over by one replica at a time (skip-locked, and the UPDATE
    // re-checks the expiry); the DISPATCHING set is small, reached through the status prefix of
    // ix_execution_flows_status_update.
    const picked = (await forUpdateSkipLocked(
      db,
      trx('execution_flows')
        .select('exec_id')
        .where({ status: 'DISPATCHING' })
        .where('lease_until', '<', o.now)
        .orderBy([
          { column: 'lease_until', order: 'asc' },
          { column: 'exec_id', order: 'asc' },
        ])
        .limit(o.limit),
    )) as { exec_id: number | string }[];
    const ids = picked.map((r) => Number(r.exec_id));
    if (ids.length === 0) return [];
    const leaseUntil = o.now + o.leaseMs;
    await trx('execution_flows')
      .whereIn('exec_id', ids)
      .where({ status: 'DISPATCHING' })
      .where('lease_until', '<', o.now)
      .update({ claimed_by: o.claimer, lease_until: leaseUntil, attempt: trx.raw('attempt + 1'), update_time: nextUpdateTime(trx, o.now) });
    const rows = await reread(trx, ids);
    return rows
      .filter((r) => r.status === 'DISPATCHING' && r.claimedBy === o.claimer && r.leaseUntil === leaseUntil)
      .sort((a, b) => ids.indexOf(a.execId) - ids.indexOf(b.execId));
  }, claimTransactionConfig(db));
}

async function reread(trx: Knex.Transaction, ids: readonly number[]): Promise<ExecutionRow[]> {
  const rows = (await trx('execution_flows')
    .whereIn('exec_id', [...ids])
    .orderBy([
      { column: 'priority', order: 'desc' },
      { column: 'submit_time', order: 'asc' },
      { column: 'exec_id', order: 'asc' },
    ])) as Record<string, unknown>[];
  return rows.map(toExecution);
}

/** Extends a claim while its launch is retried; false when the claim is no longer ours (taken over, cancelled). */
export async function renewLease(db: Knex, execId: number, claimer: string, now: number, leaseMs: number): Promise<boolean> {
  const n = await db('execution_flows')
    .where({ exec_id: execId, status: 'DISPATCHING', claimed_by: claimer })
    .update({ lease_until: now + leaseMs, update_time: nextUpdateTime(db, now) });
  return n === 1;
}

/** DISPATCHING → PREPARING with the runtime's identifiers, fenced by the claim; false when the claim was lost. */
export async function markPreparing(db: Knex, execId: number, claimer: string, now: number, runtimeInfo: RuntimeInfo): Promise<boolean> {
  return transitionExecution(db, execId, 'PREPARING', now, {
    onlyFrom: ['DISPATCHING'],
    claimedBy: claimer,
    set: { runtime_info: JSON.stringify(runtimeInfo) },
  });
}

/** One launched execution waiting for its DISPATCHING → PREPARING write. */
export interface PreparingItem {
  execId: number;
  runtimeInfo: RuntimeInfo;
}

/**
 * DISPATCHING → PREPARING of many launched executions in one transaction, each fenced by the claim
 * like markPreparing; resolves to the ids that moved (the others were cancelled or taken over).
 * Invariant: the rows locked by the SELECT are exactly the rows the UPDATE moves (PRIMARY key).
 */
export async function markPreparingMany(db: Knex, claimer: string, now: number, items: readonly PreparingItem[]): Promise<Set<number>> {
  const byId = new Map(items.map((i) => [i.execId, i] as const));
  if (byId.size === 0) return new Set();
  const from = predecessorsOf('PREPARING').filter((s) => s === 'DISPATCHING');
  return db.transaction(async (trx) => {
    let lockQuery = trx('execution_flows')
      .select('exec_id')
      .whereIn('exec_id', [...byId.keys()])
      .whereIn('status', from)
      .where({ claimed_by: claimer });
    if (dialectOf(db) === 'mysql') lockQuery = lockQuery.forUpdate();
    const ids = ((await lockQuery) as { exec_id: number | string }[]).map((r) => Number(r.exec_id));
    if (ids.length === 0) return new Set<number>();
    const n = await trx('execution_flows')
      .whereIn('exec_id', ids)
      .whereIn('status', from)
      .where({ claimed_by: claimer })
      .update({
        status: 'PREPARING',
        update_time: nextUpdateTime(trx, now),
        runtime_info: trx.raw(
          `CASE exec_id ${ids.map(() => 'WHEN ? THEN ?').join(' ')} END`,
          ids.flatMap((id) => [id, JSON.stringify(byId.get(id)!.runtimeInfo)]),
        ),
      });
    // The locks make this impossible; should it happen, the caller retries each execution on its own.
    if (n !== ids.length) throw new Error(`DISPATCHING → PREPARING moved ${n} of ${ids.length} locked executions`);
    return new Set(ids);
  });
}

/**
 * DISPATCHING → EXECUTION_STOPPED with a failure reason, fenced by the claim; unfinished jobs get
 * their final statuses and a server event records it, in the same transaction. `retried` says a
 * flow retry was submitted with it.
 */
export async function markStopped(
  db: Knex,
  execId: number,
  claimer: string,
  now: number,
  reason: string,
): Promise<{ moved: boolean; retried: boolean }> {
  return db.transaction(async (trx) => {
    const moved = await transitionExecution(trx, execId, 'EXECUTION_STOPPED', now, {
      onlyFrom: ['DISPATCHING'],
      claimedBy: claimer,
      set: { failure_reason: reason },
    });
    if (moved) {
      await finalizeJobsOf(trx, execId, now);
      await appendServerEvent(trx, execId, 'EXECUTION_STOPPED', { status: 'EXECUTION_STOPPED', reason }, now);
      return { moved, retried: (await submitFlowRetryIfDue(trx, execId, now)) !== null };
    }
    return { moved, retried: false };
  });
}
