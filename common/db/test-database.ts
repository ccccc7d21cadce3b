/**
 * Test databases: each call creates a uniquely named database (MariaDB/MySQL) or a temporary file
 * (SQLite), migrates it, and drops it on dispose. The server comes from TEST_DATABASE_URL
 * (default mysql://root@127.0.0.1:3306/).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { openDatabase, type Dialect } from './knex.js';

export interface TestDatabase {
  dialect: Dialect;
  url: string;
  db: Knex;
  dispose(): Promise<void>;
}

export type Migrator = (db: Knex) => Promise<unknown>;

export function mysqlServerUrl(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.TEST_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/';
}

function adminConnection(serverUrl: string): Knex {
  const u = new URL(serverUrl.replace(/^(mysql2|mariadb):/, 'mysql:'));
  return knexFactory({
    client: 'mysql2',
    connection: {
      host: u.hostname,
      port: u.port ? Number(u.port) : 3306,
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
    },
    pool: { min: 0, max: 1 },
  });
}

export async function createTestDatabase(dialect: Dialect, migrate?: Migrator): Promise<TestDatabase> {
  const name = `caisson_test_${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;
  if (dialect === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-test-'));
    const url = `sqlite:${path.join(dir, `${name}.sqlite`)}`;
    const db = openDatabase(url);
    if (migrate) await migrate(db);
    return {
      dialect,
      url,
      db,
      async dispose() {
        await db.destroy();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const server = mysqlServerUrl();
  const admin = adminConnection(server);
  try {
    await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await admin.destroy();
  }
  const u = new URL(server.replace(/^(mysql2|mariadb):/, 'mysql:'));
  u.pathname = `/${name}`;
  const url = u.toString();
  const db = openDatabase(url);
  if (migrate) await migrate(db);
  return {
    dialect,
    url,
    db,
    async dispose() {
      await db.destroy();
      const a = adminConnection(server);
      try {
        await a.raw(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await a.destroy();
      }
    },
  };
}

/** The dialects a test run covers: TEST_DIALECTS=sqlite,mysql (default both). */
export function testDialects(env: Readonly<Record<string, string | undefined>> = process.env): Dialect[] {
  const list = (env.TEST_DIALECTS ?? 'sqlite,mysql').split(',').map((s) => s.trim());
  return list.filter((d): d is Dialect => d === 'sqlite' || d === 'mysql');
}
