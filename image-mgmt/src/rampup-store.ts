/** Data access for ramp-up plans and their rows (image_rampup_plans, image_rampups). */
import type { Knex } from 'knex';
import type { RampupRow, StabilityTag } from './model.js';
import type { RampDownGuard } from './ramp-down.js';

type Db = Knex | Knex.Transaction;

export interface RampupPlan {
  id: number;
  typeId: number;
  name: string;
  description: string;
  active: boolean;
  createdBy: string;
  createdAt: number;
  modifiedBy: string;
  modifiedAt: number;
  /** The automatic ramp-down guard, or null when it is off (the default). */
  rampDownGuard: RampDownGuard | null;
  rows: RampupRow[];
}

function guardOf(p: Record<string, unknown>): RampDownGuard | null {
  if (p.guard_min_executions == null || p.guard_max_excess_failure_pct == null || p.guard_window_ms == null) return null;
  return {
    minExecutions: Number(p.guard_min_executions),
    maxExcessFailurePercent: Number(p.guard_max_excess_failure_pct),
    windowMs: Number(p.guard_window_ms),
  };
}

function guardColumns(g: RampDownGuard | null): Record<string, number | null> {
  return {
    guard_min_executions: g?.minExecutions ?? null,
    guard_max_excess_failure_pct: g?.maxExcessFailurePercent ?? null,
    guard_window_ms: g?.windowMs ?? null,
  };
}

/** The type's active plan with its rows (uq_image_rampup_plans_active: at most one). */
export async function findActivePlan(db: Db, typeId: number): Promise<RampupPlan | undefined> {
  const p = (await db('image_rampup_plans').where({ active_type_id: typeId }).first()) as Record<string, unknown> | undefined;
  if (!p) return undefined;
  const rows = await listPlanRows(db, [Number(p.id)]);
  return {
    id: Number(p.id),
    typeId: Number(p.type_id),
    name: String(p.name),
    description: String(p.description ?? ''),
    active: true,
    createdBy: String(p.created_by),
    createdAt: Number(p.created_at),
    modifiedBy: String(p.modified_by),
    modifiedAt: Number(p.modified_at),
    rampDownGuard: guardOf(p),
    rows: rows.get(Number(p.id)) ?? [],
  };
}

/** Rows of the given plans, by plan id. */
export async function listPlanRows(db: Db, planIds: readonly number[]): Promise<Map<number, RampupRow[]>> {
  const out = new Map<number, RampupRow[]>();
  if (planIds.length === 0) return out;
  const rows = (await db('image_rampups as r')
    .join('image_versions as v', 'v.id', 'r.version_id')
    .whereIn('r.plan_id', [...planIds])
    .select('r.plan_id', 'r.version_id', 'r.rampup_percentage', 'r.stability_tag', 'v.version')
    .orderBy('v.version_key')) as Record<string, unknown>[];
  for (const r of rows) {
    const list = out.get(Number(r.plan_id)) ?? [];
    list.push({
      version: String(r.version),
      versionId: Number(r.version_id),
      percentage: Number(r.rampup_percentage),
      stabilityTag: String(r.stability_tag) as StabilityTag,
    });
    out.set(Number(r.plan_id), list);
  }
  return out;
}

/** Active plans of several types (the dispatch resolver), by type id. */
export async function findActivePlansOfTypes(db: Db, typeIds: readonly number[]): Promise<Map<number, RampupRow[]>> {
  const out = new Map<number, RampupRow[]>();
  if (typeIds.length === 0) return out;
  const plans = (await db('image_rampup_plans')
    .whereIn('active_type_id', [...typeIds])
    .select('id', 'type_id')) as Record<string, unknown>[];
  const rows = await listPlanRows(
    db,
    plans.map((p) => Number(p.id)),
  );
  for (const p of plans) out.set(Number(p.type_id), rows.get(Number(p.id)) ?? []);
  return out;
}

/** Deactivates the type's active plan; resolves to the number of plans changed (0 or 1). */
export async function deactivatePlan(db: Db, typeId: number, actor: string, now: number): Promise<number> {
  return Number(
    await db('image_rampup_plans')
      .where({ active_type_id: typeId })
      .update({ active: false, active_type_id: null, modified_by: actor, modified_at: now }),
  );
}

export async function insertPlan(
  db: Db,
  p: { typeId: number; name: string; description: string; active: boolean; guard: RampDownGuard | null; actor: string; now: number },
): Promise<number> {
  const [id] = await db('image_rampup_plans').insert({
    type_id: p.typeId,
    name: p.name,
    description: p.description,
    active: p.active,
    active_type_id: p.active ? p.typeId : null,
    ...guardColumns(p.guard),
    created_by: p.actor,
    created_at: p.now,
    modified_by: p.actor,
    modified_at: p.now,
  });
  return Number(id);
}

/** Replaces every row of a plan. */
export async function replacePlanRows(
  db: Db,
  planId: number,
  rows: readonly { versionId: number; percentage: number; stabilityTag: StabilityTag }[],
  actor: string,
  now: number,
): Promise<void> {
  await db('image_rampups').where({ plan_id: planId }).del();
  if (rows.length === 0) return;
  await db('image_rampups').insert(
    rows.map((r) => ({
      plan_id: planId,
      version_id: r.versionId,
      rampup_percentage: r.percentage,
      stability_tag: r.stabilityTag,
      created_by: actor,
      created_at: now,
      modified_by: actor,
      modified_at: now,
    })),
  );
  await db('image_rampup_plans').where({ id: planId }).update({ modified_by: actor, modified_at: now });
}

/** Whether any plan still has a row on the version (a version in a plan is not deleted without force). */
export async function countRowsOnVersion(db: Db, versionId: number): Promise<number> {
  const r = (await db('image_rampups').where({ version_id: versionId }).count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(r?.n ?? 0);
}

export async function deleteRowsOnVersion(db: Db, versionId: number): Promise<void> {
  await db('image_rampups').where({ version_id: versionId }).del();
}

/** Sets or clears (null) the guard of a plan. */
export async function updatePlanGuard(db: Db, planId: number, guard: RampDownGuard | null, actor: string, now: number): Promise<void> {
  await db('image_rampup_plans')
    .where({ id: planId })
    .update({ ...guardColumns(guard), modified_by: actor, modified_at: now });
}

/** Active plans with a ramp-down guard: type id and guard (a scan of the few active plans). */
export async function listGuardedActivePlans(db: Db): Promise<{ planId: number; typeId: number; guard: RampDownGuard }[]> {
  const rows = (await db('image_rampup_plans')
    .whereNotNull('active_type_id')
    .whereNotNull('guard_min_executions')
    .whereNotNull('guard_max_excess_failure_pct')
    .whereNotNull('guard_window_ms')) as Record<string, unknown>[];
  return rows.map((p) => ({ planId: Number(p.id), typeId: Number(p.type_id), guard: guardOf(p)! }));
}
