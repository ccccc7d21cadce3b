/** Who may do what on an image type (issue 4), pure. Global ADMIN may do anything. */
import type { ImageCaller, OwnerRole } from './model.js';
import type { OwnershipRow } from './catalog-store.js';

export type ImageAction = 'read' | 'write' | 'manage-owners';

const RANK: Record<OwnerRole, number> = { GUEST: 1, MEMBER: 2, ADMIN: 3 };
const NEEDED: Record<ImageAction, number> = { read: 1, write: 2, 'manage-owners': 3 };

/** The caller's highest role among the type's owners (as a user or through a group). */
export function roleOf(owners: readonly OwnershipRow[], caller: ImageCaller): OwnerRole | undefined {
  let best: OwnerRole | undefined;
  for (const o of owners) {
    const matches = o.ownerKind === 'user' ? o.owner === caller.username : caller.groups.includes(o.owner);
    if (matches && (best === undefined || RANK[o.role] > RANK[best])) best = o.role;
  }
  return best;
}

export function mayOnType(owners: readonly OwnershipRow[], caller: ImageCaller, action: ImageAction): boolean {
  if (caller.isAdmin) return true;
  const role = roleOf(owners, caller);
  return role !== undefined && RANK[role] >= NEEDED[action];
}
