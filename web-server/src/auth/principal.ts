/** The authenticated caller of a request, as every layer below HTTP sees it. */
export type Role = 'ADMIN' | 'USER';

export interface Principal {
  userId: number;
  username: string;
  role: Role;
  groups: string[];
  /** How the caller authenticated. */
  via: 'session' | 'token';
}

export function isAdmin(p: Principal): boolean {
  return p.role === 'ADMIN';
}
