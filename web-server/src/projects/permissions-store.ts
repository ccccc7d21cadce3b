/** Data access for project permissions (one row per project and user or group). */
import type { Knex } from 'knex';
import { normalizePermissions, parsePermissionList, type PermissionGrant, type PermissionType } from './permissions.js';

type Db = Knex | Knex.Transaction;

const toGrant = (r: { principal_type: string; principal: string; permissions: string }): PermissionGrant => ({
  principalType: r.principal_type === 'group' ? 'group' : 'user',
  principal: r.principal,
  permissions: parsePermissionList(r.permissions),
});

export async function listProjectPermissions(db: Db, projectId: number): Promise<PermissionGrant[]> {
  const rows = (await db('project_permissions').where({ project_id: projectId }).orderBy(['principal_type', 'principal'])) as {
    principal_type: string;
    principal: string;
    permissions: string;
  }[];
  return rows.map(toGrant);
}

/** Grants that apply to a user directly or through any of the groups (uses the primary key). */
export async function findGrantsFor(db: Db, projectId: number, username: string, groups: readonly string[]): Promise<PermissionGrant[]> {
  const rows = (await db('project_permissions')
    .where({ project_id: projectId })
    .andWhere((w) => {
      void w.where({ principal_type: 'user', principal: username });
      if (groups.length > 0) void w.orWhere((g) => void g.where({ principal_type: 'group' }).whereIn('principal', [...groups]));
    })) as { principal_type: string; principal: string; permissions: string }[];
  return rows.map(toGrant);
}

export async function findPermission(
  db: Db,
  projectId: number,
  principalType: 'user' | 'group',
  principal: string,
): Promise<PermissionGrant | undefined> {
  const r = (await db('project_permissions').where({ project_id: projectId, principal_type: principalType, principal }).first()) as
    { principal_type: string; principal: string; permissions: string } | undefined;
  return r ? toGrant(r) : undefined;
}

export async function insertPermission(db: Db, projectId: number, grant: PermissionGrant, user: string, now: number): Promise<void> {
  await db('project_permissions').insert({
    project_id: projectId,
    principal_type: grant.principalType,
    principal: grant.principal,
    permissions: normalizePermissions(grant.permissions).join(','),
    updated_at: now,
    updated_by: user,
  });
}

export async function updatePermission(
  db: Db,
  projectId: number,
  principalType: 'user' | 'group',
  principal: string,
  perms: PermissionType[],
  user: string,
  now: number,
): Promise<number> {
  return db('project_permissions')
    .where({ project_id: projectId, principal_type: principalType, principal })
    .update({ permissions: normalizePermissions(perms).join(','), updated_at: now, updated_by: user });
}

export async function deletePermission(db: Db, projectId: number, principalType: 'user' | 'group', principal: string): Promise<number> {
  return db('project_permissions').where({ project_id: projectId, principal_type: principalType, principal }).delete();
}

export async function userExists(db: Db, username: string): Promise<boolean> {
  return (await db('users').where({ username }).first('id')) !== undefined;
}

export async function groupExists(db: Db, name: string): Promise<boolean> {
  return (await db('groups').where({ name }).first('id')) !== undefined;
}
