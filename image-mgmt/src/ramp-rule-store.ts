/** Data access for ramp rules and the flows they list (ramp_rules, ramp_rule_flows). */
import type { Knex } from 'knex';

type Db = Knex | Knex.Transaction;

export interface RampRule {
  id: number;
  name: string;
  typeId: number | null;
  versionId: number | null;
  highPriority: boolean;
  owners: string[];
}

function toRule(r: Record<string, unknown>): RampRule {
  const owners = String(r.owners ?? '');
  return {
    id: Number(r.id),
    name: String(r.name),
    typeId: r.type_id == null ? null : Number(r.type_id),
    versionId: r.version_id == null ? null : Number(r.version_id),
    highPriority: Boolean(Number(r.high_priority)),
    owners: owners ? owners.split(',') : [],
  };
}

export async function insertRampRule(
  db: Db,
  r: {
    name: string;
    typeId: number | null;
    versionId: number | null;
    highPriority: boolean;
    owners: readonly string[];
    actor: string;
    now: number;
  },
): Promise<number> {
  const [id] = await db('ramp_rules').insert({
    name: r.name,
    type_id: r.typeId,
    version_id: r.versionId,
    high_priority: r.highPriority,
    owners: r.owners.join(','),
    created_by: r.actor,
    created_at: r.now,
    modified_by: r.actor,
    modified_at: r.now,
  });
  return Number(id);
}

export async function findRampRule(db: Db, name: string): Promise<RampRule | undefined> {
  const r = (await db('ramp_rules').where({ name }).first()) as Record<string, unknown> | undefined;
  return r ? toRule(r) : undefined;
}

export async function updateRampRule(
  db: Db,
  id: number,
  fields: { versionId?: number; owners?: readonly string[]; actor: string; now: number },
): Promise<void> {
  const patch: Record<string, unknown> = { modified_by: fields.actor, modified_at: fields.now };
  if (fields.versionId !== undefined) patch.version_id = fields.versionId;
  if (fields.owners !== undefined) patch.owners = fields.owners.join(',');
  await db('ramp_rules').where({ id }).update(patch);
}

export async function deleteRampRule(db: Db, id: number): Promise<void> {
  await db('ramp_rule_flows').where({ rule_id: id }).del();
  await db('ramp_rules').where({ id }).del();
}

export async function addFlowsToRule(db: Db, ruleId: number, flows: readonly { projectId: number; flowId: string }[]): Promise<void> {
  for (const f of flows) {
    await db('ramp_rule_flows').insert({ rule_id: ruleId, project_id: f.projectId, flow_id: f.flowId }).onConflict().ignore();
  }
}

export async function listRuleFlows(db: Db, ruleId: number): Promise<{ projectId: number; flowId: string }[]> {
  const rows = (await db('ramp_rule_flows').where({ rule_id: ruleId }).orderBy(['project_id', 'flow_id'])) as Record<string, unknown>[];
  return rows.map((r) => ({ projectId: Number(r.project_id), flowId: String(r.flow_id) }));
}

/** Rules listing one flow (ix_ramp_rule_flows_flow). */
export async function rulesOfFlow(db: Db, projectId: number, flowId: string): Promise<RampRule[]> {
  const rows = (await db('ramp_rules as r')
    .join('ramp_rule_flows as f', 'f.rule_id', 'r.id')
    .where({ 'f.project_id': projectId, 'f.flow_id': flowId })
    .select('r.*')) as Record<string, unknown>[];
  return rows.map(toRule);
}

/** The live project of that name and whether its current version has the flow. */
export async function findProjectFlow(
  db: Db,
  projectName: string,
  flowId: string,
): Promise<{ projectId: number; exists: boolean } | undefined> {
  const p = (await db('projects').where({ live_name: projectName }).first('id', 'current_version')) as Record<string, unknown> | undefined;
  if (!p) return undefined;
  const f = (await db('project_flows')
    .where({ project_id: Number(p.id), version: Number(p.current_version ?? -1), flow_id: flowId })
    .first('flow_id')) as unknown;
  return { projectId: Number(p.id), exists: f !== undefined };
}
