/** Data access for users, groups and group membership. */
import type { Knex } from 'knex';
import { insertOrIgnore } from '../../../common/db/dialect.js';
import type { Role } from './principal.js';

type Db = Knex | Knex.Transaction;

export interface UserRecord {
  id: number;
  username: string;
  passwordHash: string;
  role: Role;
  email: string | null;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

interface UserRow {
  id: number | string;
  username: string;
  password_hash: string;
  role: string;
  email: string | null;
  disabled: number | boolean;
  created_at: number | string;
  updated_at: number | string;
}

export function toRole(raw: string): Role {
  return raw === 'ADMIN' ? 'ADMIN' : 'USER';
}

function toUser(r: UserRow): UserRecord {
  return {
    id: Number(r.id),
    username: r.username,
    passwordHash: r.password_hash,
    role: toRole(r.role),
    email: r.email,
    disabled: Boolean(Number(r.disabled)),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/** Exact, case-sensitive match (utf8mb4_bin on MySQL); uses uq_users_username. */
export async function findUserByName(db: Db, username: string): Promise<UserRecord | undefined> {
  const row = (await db('users').where({ username }).first()) as UserRow | undefined;
  return row ? toUser(row) : undefined;
}

export async function listAllUsers(db: Db): Promise<UserRecord[]> {
  const rows = (await db('users').orderBy('username')) as UserRow[];
  return rows.map(toUser);
}

export interface NewUser {
  username: string;
  passwordHash: string;
  role: Role;
  email: string | null;
  now: number;
}

/** Inserts a user and resolves to its id; a taken name raises the driver's unique violation (uq_users_username). */
export async function insertUser(db: Db, u: NewUser): Promise<number> {
  const [id] = await db('users').insert({
    username: u.username,
    password_hash: u.passwordHash,
    role: u.role,
    email: u.email,
    disabled: 0,
    created_at: u.now,
    updated_at: u.now,
  });
  return Number(id);
}

/** Resolves to the number of users changed (0 when the user does not exist). */
export async function updateUserPasswordHash(db: Db, userId: number, passwordHash: string, now: number): Promise<number> {
  return db('users').where({ id: userId }).update({ password_hash: passwordHash, updated_at: now });
}

export async function updateUserDisabled(db: Db, userId: number, disabled: boolean, now: number): Promise<number> {
  return db('users')
    .where({ id: userId })
    .update({ disabled: disabled ? 1 : 0, updated_at: now });
}

/** Creates the group if missing (race-safe through uq_groups_name) and resolves to its id. */
export async function ensureGroup(db: Db, name: string, now: number): Promise<number> {
  await insertOrIgnore(db, 'groups', { name, created_at: now });
  const row = (await db('groups').where({ name }).first('id')) as { id: number | string } | undefined;
  if (!row) throw new Error(`group "${name}" vanished right after it was ensured`);
  return Number(row.id);
}

/** Adds a membership; an existing one is kept as is. */
export async function insertUserGroup(db: Db, userId: number, groupId: number): Promise<void> {
  await insertOrIgnore(db, 'user_groups', { user_id: userId, group_id: groupId });
}

/** The names of a user's groups, sorted. */
export async function findGroupNamesOfUser(db: Db, userId: number): Promise<string[]> {
  const rows = (await db('user_groups')
    .join('groups', 'groups.id', 'user_groups.group_id')
    .where('user_groups.user_id', userId)
    .orderBy('groups.name')
    .select('groups.name')) as { name: string }[];
  return rows.map((r) => r.name);
}

/** Every membership as user id → sorted group names (for listings). */
export async function findGroupNamesByUser(db: Db): Promise<Map<number, string[]>> {
  const rows = (await db('user_groups')
    .join('groups', 'groups.id', 'user_groups.group_id')
    .orderBy('groups.name')
    .select('user_groups.user_id', 'groups.name')) as { user_id: number | string; name: string }[];
  const byUser = new Map<number, string[]>();
  for (const r of rows) {
    const id = Number(r.user_id);
    const list = byUser.get(id);
    if (list) list.push(r.name);
    else byUser.set(id, [r.name]);
  }
  return byUser;
}
