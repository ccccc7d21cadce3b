/**
 * The audit log (audit_log): who changed what, when, with the value before and after. Shared by
 * the web server (projects) and image management; times are epoch milliseconds.
 */
import type { Knex } from 'knex';

type Db = Knex | Knex.Transaction;

export interface AuditEntry {
  actor: string;
  action: string;
  entityType: string;
  entityId: string;
  before?: unknown;
  after?: unknown;
  at: number;
}

export async function appendAudit(db: Db, e: AuditEntry): Promise<void> {
  await db('audit_log').insert({
    actor: e.actor,
    action: e.action,
    entity_type: e.entityType,
    entity_id: e.entityId,
    before_value: e.before === undefined ? null : JSON.stringify(e.before),
    after_value: e.after === undefined ? null : JSON.stringify(e.after),
    created_at: e.at,
  });
}

/** Entries of some entity types (optionally one entity), newest first; uses ix_audit_log_entity. */
export async function listAudit(
  db: Db,
  filter: { entityTypes: readonly string[]; entityId?: string; limit: number; skip?: number },
): Promise<AuditEntry[]> {
  const q = db('audit_log').whereIn('entity_type', [...filter.entityTypes]);
  if (filter.entityId !== undefined) void q.andWhere('entity_id', filter.entityId);
  const rows = (await q
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(filter.limit)
    .offset(filter.skip ?? 0)) as Record<string, unknown>[];
  return rows.map((r) => ({
    actor: String(r.actor),
    action: String(r.action),
    entityType: String(r.entity_type),
    entityId: String(r.entity_id),
    before: r.before_value ? (JSON.parse(String(r.before_value)) as unknown) : undefined,
    after: r.after_value ? (JSON.parse(String(r.after_value)) as unknown) : undefined,
    at: Number(r.created_at),
  }));
}
