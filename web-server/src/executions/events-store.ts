/** Data access for execution_events: the ordered event log of each execution, per source. */
import type { Knex } from 'knex';
import { isUniqueViolation } from '../../../common/db/dialect.js';

type Db = Knex | Knex.Transaction;

export type EventSource = 'container' | 'server';

export interface StoredEvent {
  execId: number;
  source: EventSource;
  seq: number;
  type: string;
  payload: Record<string, unknown>;
  eventTime: number;
  receivedAt: number;
}

/** Highest stored sequence number of a source (0 when none); uses uq_execution_events_seq. */
export async function lastEventSeq(db: Db, execId: number, source: EventSource): Promise<number> {
  const r = (await db('execution_events').where({ exec_id: execId, source }).max({ s: 'seq' }).first()) as { s: number | null } | undefined;
  return Number(r?.s ?? 0);
}

export async function insertEvent(db: Db, e: StoredEvent): Promise<void> {
  await db('execution_events').insert({
    exec_id: e.execId,
    source: e.source,
    seq: e.seq,
    type: e.type,
    payload: JSON.stringify(e.payload),
    event_time: e.eventTime,
    received_at: e.receivedAt,
  });
}

/** Appends a server-generated event with the next number of the server's own sequence. */
export async function appendServerEvent(
  db: Db,
  execId: number,
  type: string,
  payload: Record<string, unknown>,
  now: number,
): Promise<void> {
  // Two server-side writers (a cancel and the pod watch, say) may pick the same next number: the
  // unique key refuses the second, which takes the next one.
  for (let attempt = 1; ; attempt++) {
    const seq = (await lastEventSeq(db, execId, 'server')) + 1;
    try {
      await insertEvent(db, { execId, source: 'server', seq, type, payload, eventTime: now, receivedAt: now });
      return;
    } catch (e) {
      if (!isUniqueViolation(e) || attempt >= 5 || db.isTransaction) throw e;
    }
  }
}

export async function listEvents(db: Db, execId: number, afterId = 0, limit = 1000): Promise<(StoredEvent & { id: number })[]> {
  const rows = (await db('execution_events').where({ exec_id: execId }).andWhere('id', '>', afterId).orderBy('id').limit(limit)) as Record<
    string,
    unknown
  >[];
  return rows.map((r) => ({
    id: Number(r.id),
    execId: Number(r.exec_id),
    source: String(r.source) as EventSource,
    seq: Number(r.seq),
    type: String(r.type),
    payload: JSON.parse(String(r.payload)) as Record<string, unknown>,
    eventTime: Number(r.event_time),
    receivedAt: Number(r.received_at),
  }));
}
