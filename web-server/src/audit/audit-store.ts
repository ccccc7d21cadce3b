/** The audit log: who changed what, when, with the value before and after. */
import type { Knex } from 'knex';

export interface AuditEntry {
  actor: string;
  action: string;
  entityType: string;
  entityId: string;
  before?: unknown;
  after?: unknown;
  at: number;
}

export async function appendAudit(db: Knex | Knex.Transaction, e: AuditEntry): Promise<void> {
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

/** Newest first; uses ix_audit_log_entity. */
export async function listAudit(
  db: Knex | Knex.Transaction,
  entityType: string,
  entityId: string,
  limit: number,
  skip: number,
): Promise<AuditEntry[]> {
  const rows = (await db('audit_log')
    .where({ entity_type: entityType, entity_id: entityId })
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(limit)
    .offset(skip)) as Record<string, unknown>[];
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
