/** Project permission types (Azkaban's names) and how a set of grants answers a check. */
export const PERMISSION_TYPES = ['READ', 'WRITE', 'EXECUTE', 'SCHEDULE', 'ADMIN'] as const;
export type PermissionType = (typeof PERMISSION_TYPES)[number];

export interface PermissionGrant {
  principalType: 'user' | 'group';
  principal: string;
  permissions: PermissionType[];
}

/** ADMIN implies every other permission on the project. */
export function grantsAllow(grants: readonly PermissionGrant[], needed: PermissionType): boolean {
  return grants.some((g) => g.permissions.includes('ADMIN') || g.permissions.includes(needed));
}

export function parsePermissionList(stored: string): PermissionType[] {
  return stored
    .split(',')
    .map((s) => s.trim())
    .filter((s): s is PermissionType => (PERMISSION_TYPES as readonly string[]).includes(s));
}

/** Canonical form: ADMIN alone, or the others in a fixed order. */
export function normalizePermissions(perms: Iterable<PermissionType>): PermissionType[] {
  const set = new Set(perms);
  if (set.has('ADMIN')) return ['ADMIN'];
  return PERMISSION_TYPES.filter((p) => set.has(p));
}
