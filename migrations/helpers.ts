/** Column helpers shared by migrations so both dialects get fitting types. */
import type { Knex } from 'knex';

export function isMysql(knex: Knex): boolean {
  return String(knex.client.config.client) !== 'better-sqlite3';
}

/** Epoch-millisecond timestamp column. */
export function millis(t: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return t.bigInteger(name);
}

/** Large text (JSON documents, messages): LONGTEXT on MySQL, TEXT on SQLite. */
export function bigText(t: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return t.text(name, 'longtext');
}

/** Large binary (file contents, compressed log chunks): LONGBLOB on MySQL, BLOB on SQLite. */
export function bigBinary(knex: Knex, t: Knex.CreateTableBuilder, name: string): Knex.ColumnBuilder {
  return t.specificType(name, isMysql(knex) ? 'LONGBLOB' : 'BLOB');
}

/** Table options: InnoDB and utf8mb4 with binary collation on MySQL (names compare exactly). */
export function tableOptions(knex: Knex, t: Knex.CreateTableBuilder): void {
  if (isMysql(knex)) {
    t.engine('InnoDB');
    t.charset('utf8mb4');
    t.collate('utf8mb4_bin');
  }
}
