import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaissonError } from '../../common/errors.js';
import { readServerConfig, SERVER_OPTIONS } from '../../web-server/src/config.js';
import { REPO_ROOT } from '../support/projects.js';

/** Asserts that `fn` throws INVALID_CONFIG with exactly `message`. */
function assertInvalidConfig(fn: () => unknown, message: string): CaissonError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CaissonError, `expected a CaissonError, got ${String(caught)}`);
  assert.equal(caught.code, 'INVALID_CONFIG');
  assert.equal(caught.message, message);
  return caught;
}

describe('readServerConfig', () => {
  let dir: string;
  let n = 0;
  const writeFile = (text: string): string => {
    const file = path.join(dir, `caisson-${++n}.yaml`);
    fs.writeFileSync(file, text);
    return file;
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-config-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers every default without a file or environment, with a SQLite file in ./data', () => {
    const c = readServerConfig([], {});
    const dataDir = path.resolve('data');
    assert.deepEqual(
      [c.host, c.port, c.dataDir, c.databaseUrl],
      ['127.0.0.1', 8081, dataDir, `sqlite:${path.join(dataDir, 'caisson.sqlite')}`],
    );
    assert.deepEqual(Object.keys(c).sort(), Object.keys(SERVER_OPTIONS).sort());
    for (const [name, spec] of Object.entries(SERVER_OPTIONS)) {
      if (typeof spec.default !== 'function') assert.deepEqual(c[name as keyof typeof c], spec.default, name);
    }
  });

  it('gives the documented defaults of the login and upload limits', () => {
    const c = readServerConfig([], {});
    assert.deepEqual(
      [c.sessionTtl, c.loginMaxFailures, c.loginFailureWindow, c.uploadMaxBytes, c.uploadMaxExpandedBytes, c.migrateOnStart, c.logLevel],
      [24 * 3_600_000, 5, 15 * 60_000, 200 * 1024 ** 2, 1024 ** 3, true, 'info'],
    );
  });

  it('reads CAISSON_* variables, resolving the data dir and putting the default database in it', () => {
    const c = readServerConfig([], {
      CAISSON_HOST: '0.0.0.0',
      CAISSON_PORT: '9090',
      CAISSON_DATA_DIR: 'var/caisson',
      CAISSON_MIGRATE_ON_START: 'no',
      CAISSON_PUBLIC_URL: 'https://caisson.example.com/',
      CAISSON_LOG_LEVEL: 'debug',
    });
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.port, 9090);
    assert.equal(c.dataDir, path.resolve('var/caisson'));
    assert.equal(c.databaseUrl, `sqlite:${path.join(path.resolve('var/caisson'), 'caisson.sqlite')}`);
    assert.equal(c.migrateOnStart, false);
    assert.equal(c.publicUrl, 'https://caisson.example.com');
    assert.equal(c.logLevel, 'debug');
  });

  it('keeps an explicit database URL whatever the data dir', () => {
    const c = readServerConfig([], { CAISSON_DATA_DIR: '/srv/caisson', CAISSON_DATABASE_URL: 'mysql://u:p@db:3306/caisson' });
    assert.equal(c.databaseUrl, 'mysql://u:p@db:3306/caisson');
  });

  it('treats an empty variable as unset', () => {
    assert.equal(readServerConfig([], { CAISSON_PORT: '' }).port, 8081);
  });

  it('ignores variables that are not settings', () => {
    assert.equal(readServerConfig([], { CAISSON_FROBNICATE: 'yes', HOME: '/root' }).port, 8081);
  });

  it('reads a YAML file named by --config', () => {
    const file = writeFile('host: 0.0.0.0\nport: 9191\nmigrateOnStart: false\nsessionTtl: 12h\nuploadMaxBytes: 500MiB\n');
    const c = readServerConfig(['--config', file], {});
    assert.deepEqual(
      [c.host, c.port, c.migrateOnStart, c.sessionTtl, c.uploadMaxBytes],
      ['0.0.0.0', 9191, false, 12 * 3_600_000, 500 * 1024 ** 2],
    );
  });

  it('reads a YAML file named by CAISSON_CONFIG', () => {
    const file = writeFile('port: 9292\n');
    assert.equal(readServerConfig([], { CAISSON_CONFIG: file }).port, 9292);
  });

  it('prefers --config over CAISSON_CONFIG', () => {
    const fromArgv = writeFile('port: 9393\n');
    const fromEnv = writeFile('port: 9494\n');
    assert.equal(readServerConfig(['--config', fromArgv], { CAISSON_CONFIG: fromEnv }).port, 9393);
  });

  it('lets the environment win over the file, setting by setting', () => {
    const file = writeFile('host: 0.0.0.0\nport: 9090\n');
    const c = readServerConfig(['--config', file], { CAISSON_PORT: '7070' });
    assert.equal(c.port, 7070);
    assert.equal(c.host, '0.0.0.0');
  });

  it('falls back to the default for an empty file and for a key without a value', () => {
    assert.equal(readServerConfig(['--config', writeFile('')], {}).port, 8081);
    assert.equal(readServerConfig(['--config', writeFile('port:\n')], {}).port, 8081);
  });

  it('reports every problem at once in one INVALID_CONFIG error: bad port, bad boolean and unknown file key', () => {
    const file = writeFile('migrateOnStart: maybe\ncolour: blue\n');
    const e = assertInvalidConfig(
      () => readServerConfig(['--config', file], { CAISSON_PORT: '99999' }),
      [
        'invalid configuration:',
        `  - unknown setting "colour" in ${file}`,
        '  - CAISSON_PORT: expected a number from 0 to 65535, got 99999',
        `  - ${file}: migrateOnStart: expected true or false, got "maybe"`,
      ].join('\n'),
    );
    assert.equal(e.problems.length, 3);
    assert.equal(e.httpStatus, 500);
  });

  it('names the value and what was expected for each kind of setting', () => {
    assertInvalidConfig(
      () =>
        readServerConfig([], {
          CAISSON_PORT: 'eighty',
          CAISSON_DATABASE_URL: 'postgres://db/caisson',
          CAISSON_PUBLIC_URL: 'ftp://caisson',
          CAISSON_LOG_LEVEL: 'loud',
          CAISSON_SESSION_TTL: 'soon',
          CAISSON_PASSWORD_HASH_COST: '3',
          CAISSON_UPLOAD_MAX_BYTES: '200 parsecs',
        }),
      [
        'invalid configuration:',
        '  - CAISSON_PORT: expected a whole number, got "eighty"',
        '  - CAISSON_DATABASE_URL: expected mysql://user:password@host:port/database or sqlite:<path>, got "postgres://db/caisson"',
        '  - CAISSON_PUBLIC_URL: expected an http(s) URL, got "ftp://caisson"',
        '  - CAISSON_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
        '  - CAISSON_SESSION_TTL: expected a duration like 500ms, 30s, 15m, 24h or 7d, got "soon"',
        '  - CAISSON_PASSWORD_HASH_COST: expected a number from 4 to 15, got 3',
        '  - CAISSON_UPLOAD_MAX_BYTES: expected a size like 512KiB, 200MiB or 1GiB, got "200 parsecs"',
      ].join('\n'),
    );
  });

  it('refuses a list or mapping as the value of a file setting', () => {
    const file = writeFile('host: [a, b]\nport: {x: 1}\n');
    assertInvalidConfig(
      () => readServerConfig(['--config', file], {}),
      [
        'invalid configuration:',
        `  - ${file}: "host" must be a single value, not a list or mapping`,
        `  - ${file}: "port" must be a single value, not a list or mapping`,
      ].join('\n'),
    );
  });

  it('parses durations with ms, s, m, h and d, a plain number being milliseconds', () => {
    const ttl = (raw: string) => readServerConfig([], { CAISSON_SESSION_TTL: raw }).sessionTtl;
    assert.deepEqual(['250', '500ms', '30s', '15m', '1.5h', '7d'].map(ttl), [250, 500, 30_000, 900_000, 5_400_000, 7 * 86_400_000]);
    assert.equal(readServerConfig([], { CAISSON_LOGIN_FAILURE_WINDOW: '15m' }).loginFailureWindow, 900_000);
  });

  it('parses sizes with KiB, MiB, GiB and their short forms, a plain number being bytes', () => {
    const size = (raw: string) => readServerConfig([], { CAISSON_UPLOAD_MAX_BYTES: raw }).uploadMaxBytes;
    assert.deepEqual(['4096', '512KiB', '200MiB', '1GiB', '2G', '10 mb'].map(size), [
      4096,
      512 * 1024,
      200 * 1024 ** 2,
      1024 ** 3,
      2 * 1024 ** 3,
      10 * 1024 ** 2,
    ]);
  });

  it('answers a frozen object: assigning a setting throws', () => {
    const c = readServerConfig([], {});
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { port: number }).port = 1;
    }, TypeError);
    assert.equal(c.port, 8081);
  });

  it('refuses a file that is a YAML list or scalar rather than a mapping', () => {
    const list = writeFile('- port\n- 9090\n');
    assertInvalidConfig(() => readServerConfig(['--config', list], {}), `config file ${list} must be a YAML mapping of setting: value`);
    const scalar = writeFile('port 9090\n');
    assertInvalidConfig(() => readServerConfig(['--config', scalar], {}), `config file ${scalar} must be a YAML mapping of setting: value`);
  });

  it('refuses a file that is not valid YAML, including one with a duplicate key', () => {
    const broken = writeFile('port: [9090\n');
    assert.throws(
      () => readServerConfig(['--config', broken], {}),
      (e: unknown) =>
        e instanceof CaissonError && e.code === 'INVALID_CONFIG' && e.message.startsWith(`config file ${broken} is not valid YAML: `),
    );
    const duplicate = writeFile('port: 9090\nport: 9191\n');
    assert.throws(
      () => readServerConfig(['--config', duplicate], {}),
      (e: unknown) =>
        e instanceof CaissonError && e.code === 'INVALID_CONFIG' && /^config file .* is not valid YAML: .*unique/i.test(e.message),
    );
  });

  it('refuses a config file that cannot be read', () => {
    const missing = path.join(dir, 'missing.yaml');
    assert.throws(
      () => readServerConfig([], { CAISSON_CONFIG: missing }),
      (e: unknown) =>
        e instanceof CaissonError && e.code === 'INVALID_CONFIG' && e.message.startsWith(`cannot read config file ${missing}: ENOENT`),
    );
  });

  it('refuses --config without a path instead of silently ignoring it', () => {
    assertInvalidConfig(() => readServerConfig(['--config'], {}), '--config needs a path: --config <file>');
  });

  describe('docs/configuration.md', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
    const rows = doc.split('\n').filter((line) => line.startsWith('| `CAISSON_'));

    for (const spec of Object.values(SERVER_OPTIONS)) {
      it(`documents ${spec.env} with its YAML key ${spec.key} and a default`, () => {
        assert.ok(doc.includes(spec.env), `${spec.env} is missing from docs/configuration.md`);
        const row = rows.find((line) => line.startsWith(`| \`${spec.env}\` |`));
        assert.ok(row, `no settings-table row for ${spec.env}`);
        const cells = row.split(' | ').map((c) => c.trim());
        assert.equal(cells[1], `\`${spec.key}\``);
        assert.ok(cells[2] && cells[2] !== '|', `${spec.env} has no documented default`);
      });
    }

    it('documents no setting the server does not read', () => {
      const documented = rows.map((line) => /^\| `(CAISSON_[A-Z0-9_]+)`/.exec(line)?.[1]).sort();
      assert.deepEqual(
        documented,
        Object.values(SERVER_OPTIONS)
          .map((s) => s.env)
          .sort(),
      );
    });
  });
});
