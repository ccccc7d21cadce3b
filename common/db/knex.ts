/**
 * The knex factory: the one place that turns a database URL into a connection pool.
 * `mysql://` (MySQL 8.0+, MariaDB 10.6+) through mysql2; `sqlite:<path>` through better-sqlite3.
 */
import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { CaissonError } from '../errors.js';

export type Db = Knex;
export type Dialect = 'mysql' | 'sqlite';

export function dialectOf(db: Knex): Dialect {
  const client = String(db.client.config.client);
  return client === 'better-sqlite3' || client === 'sqlite3' ? 'sqlite' : 'mysql';
}

export interface OpenDatabaseOptions {
  poolMax?: number;
}

export function openDatabase(url: string, options: OpenDatabaseOptions = {}): Knex {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    return knexFactory({
      client: 'better-sqlite3',
      connection: { filename: file },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
          // WAL lets readers proceed while the single writer commits; foreign keys are off by default in SQLite.
          conn.pragma('journal_mode = WAL');
          conn.pragma('foreign_keys = ON');
          conn.pragma('busy_timeout = 5000');
          conn.pragma('synchronous = NORMAL');
          done(null, conn);
        },
      },
    });
  }
  let u: URL;
  try {
    u = new URL(url.replace(/^(mysql2|mariadb):/, 'mysql:'));
  } catch (e) {
    throw new CaissonError('INVALID_CONFIG', `database URL is not a valid URL: ${url}`, { cause: e });
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw new CaissonError('INVALID_CONFIG', `database URL must name a database: mysql://user:password@host:port/<database>`);
  return knexFactory({
    client: 'mysql2',
    connection: {
      host: u.hostname,
      port: u.port ? Number(u.port) : 3306,
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database,
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: false,
      dateStrings: true,
      timezone: 'Z',
    },
    pool: { min: 0, max: options.poolMax ?? 10 },
  });
}
