#!/usr/bin/env node
// `npm test`: runs the whole suite on SQLite and MariaDB/MySQL and ends with "N passed, N failed".
// Database: TEST_DATABASE_URL if set; else the server on 127.0.0.1:3306 if it answers; else a
// throwaway MariaDB started from the installed mariadbd in a temporary directory.
// Extra arguments go to mocha (e.g. `npm test -- test/web-server/auth`).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cleanups = [];

function canConnect(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function findBinary(names) {
  for (const n of names) {
    for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
      const p = path.join(dir, n);
      if (fs.existsSync(p)) return p;
    }
  }
  return undefined;
}

async function startThrowawayMariaDb() {
  const server = findBinary(['mariadbd', 'mysqld']);
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db']);
  if (!server || !installDb) {
    throw new Error(
      'no MariaDB/MySQL answers on 127.0.0.1:3306 and mariadbd is not installed: install mariadb-server (Debian) or set TEST_DATABASE_URL',
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-mariadb-'));
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  const init = spawnSync(
    installDb,
    ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...asRoot],
    {
      encoding: 'utf8',
    },
  );
  if (init.status !== 0) throw new Error(`mariadb-install-db failed: ${init.stderr || init.stdout}`);
  const child = spawn(
    server,
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${path.join(dir, 'mysql.sock')}`,
      '--skip-log-bin',
      '--innodb-flush-log-at-trx-commit=2',
      ...asRoot,
    ],
    { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'server.log'), 'w')] },
  );
  cleanups.push(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  });
  const deadline = Date.now() + 30_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) throw new Error(`mariadbd exited: ${fs.readFileSync(path.join(dir, 'server.log'), 'utf8').slice(-2000)}`);
    if (Date.now() > deadline) throw new Error('throwaway mariadbd did not start within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`Started a throwaway MariaDB on 127.0.0.1:${port} in ${dir}`);
  return `mysql://root@127.0.0.1:${port}/`;
}

async function runCleanups() {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch (e) {
      console.error(`cleanup after the tests failed: ${e instanceof Error ? e.message : e}`);
    }
  }
}

async function main() {
  const env = { ...process.env };
  const dialects = (env.TEST_DIALECTS ?? 'sqlite,mysql').split(',');
  if (dialects.includes('mysql') && !env.TEST_DATABASE_URL) {
    // CAISSON_TEST_THROWAWAY_DB=1 forces the throwaway server (to exercise the path CI takes on a bare machine).
    const useLocal = env.CAISSON_TEST_THROWAWAY_DB !== '1' && (await canConnect(3306));
    env.TEST_DATABASE_URL = useLocal ? 'mysql://root@127.0.0.1:3306/' : await startThrowawayMariaDb();
  }
  const summaryFile = path.join(os.tmpdir(), `caisson-test-summary-${process.pid}.json`);
  env.CAISSON_TEST_SUMMARY = summaryFile;
  const mochaBin = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
  const extra = process.argv.slice(2);
  const specs = extra.some((a) => !a.startsWith('-')) ? [] : ['test/**/*.test.ts'];
  const args = [mochaBin, '--reporter', path.join(root, 'scripts', 'summary-reporter.cjs'), ...extra, ...specs];
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'inherit' });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
  });
  let summary;
  try {
    summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8'));
    fs.rmSync(summaryFile, { force: true });
  } catch {
    summary = undefined;
  }
  await runCleanups();
  if (!summary) {
    console.log('mocha ended without a report (a test file failed to load?)');
    console.log('0 passed, 1 failed');
    return 1;
  }
  const failed = summary.failures + (code !== 0 && summary.failures === 0 ? 1 : 0);
  console.log(`${summary.passes} passed, ${failed} failed${summary.pending ? `, ${summary.pending} skipped` : ''}`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (e) => {
    await runCleanups();
    console.error(e instanceof Error ? e.message : e);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
