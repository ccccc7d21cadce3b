/**
 * A real Caisson web server on 127.0.0.1:<free port> over a fresh test database, plus small HTTP
 * helpers that speak the AJAX and REST APIs the way clients do (real fetch, real multipart).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../common/db/test-database.js';
import type { Dialect } from '../../common/db/knex.js';
import { loadConfig } from '../../common/config/parse.js';
import { SERVER_OPTIONS, type ServerConfig } from '../../web-server/src/config.js';
import { silentLogger } from '../../web-server/src/log.js';
import { CaissonServer } from '../../web-server/src/server.js';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './projects.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { migrateToLatest } from '../../migrations/index.js';

/** Flow containers in tests run from the sources (a stale dist/ must never be tested). */
export const SOURCE_CONTAINER_COMMAND = {
  executable: process.execPath,
  args: [
    '--import',
    pathToFileURL(createRequire(path.join(REPO_ROOT, 'package.json')).resolve('tsx')).href,
    path.join(REPO_ROOT, 'flow-container', 'src', 'main.ts'),
  ],
};

export const ADMIN_PASSWORD = 'admin-password-for-tests';

export interface TestServer {
  server: CaissonServer;
  url: string;
  tdb: TestDatabase;
  dataDir: string;
  stop(): Promise<void>;
  /** Stops the web server but keeps its database and data directory (for restart tests). */
  stopServerOnly(): Promise<void>;
}

export async function startTestServer(
  dialect: Dialect,
  env: Record<string, string> = {},
  reuse?: { tdb: TestDatabase; dataDir: string },
  extra: { kubeConfig?: KubeConfig; beforeStart?: (tdb: TestDatabase) => Promise<void> } = {},
): Promise<TestServer> {
  const tdb = reuse?.tdb ?? (await createTestDatabase(dialect));
  const dataDir = reuse?.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-server-'));
  const config: ServerConfig = loadConfig(
    SERVER_OPTIONS,
    {
      CAISSON_PORT: '0',
      CAISSON_DATA_DIR: dataDir,
      CAISSON_DATABASE_URL: tdb.url,
      CAISSON_ADMIN_PASSWORD: ADMIN_PASSWORD,
      CAISSON_PASSWORD_HASH_COST: '4',
      CAISSON_LOG_LEVEL: 'silent',
      CAISSON_HEARTBEAT_INTERVAL: '1s',
      CAISSON_LOG_SHIP_INTERVAL: '200ms',
      CAISSON_KILL_GRACE: '2s',
      CAISSON_EXECUTION_DIR_RETENTION: '0',
      ...env,
    },
    undefined,
  );
  const server = new CaissonServer({
    config,
    log: silentLogger,
    announce: () => undefined,
    flowContainerCommand: SOURCE_CONTAINER_COMMAND,
    ...(extra.kubeConfig ? { kubeConfig: extra.kubeConfig } : {}),
  });
  if (extra.beforeStart) {
    await migrateToLatest(tdb.db);
    await extra.beforeStart(tdb);
  }
  try {
    await server.start();
  } catch (e) {
    await server.stop().catch(() => undefined);
    if (!reuse) {
      await tdb.dispose();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    throw e;
  }
  return {
    server,
    url: server.url,
    tdb,
    dataDir,
    async stop() {
      // A server that goes away for good takes its flow containers with it (in production they are
      // left running on purpose, so a restarted server re-attaches; here nothing would).
      const live = (await tdb
        .db('execution_flows')
        .whereIn('status', ['DISPATCHING', 'PREPARING', 'RUNNING', 'FAILED_FINISHING', 'KILLING'])
        .select('exec_id')) as { exec_id: number }[];
      await server.stop();
      for (const { exec_id } of live) await server.runtime.stopContainer(Number(exec_id), 1000).catch(() => undefined);
      await tdb.dispose();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    async stopServerOnly() {
      await server.stop();
    },
  };
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

async function answer(res: Response): Promise<HttpAnswer> {
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: callers look at text
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** POST an urlencoded form (what `curl --data` sends). */
export async function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return answer(await fetch(url, { method: 'POST', body: new URLSearchParams(fields), headers }));
}

/** GET with query parameters (what `curl --get --data` sends). */
export async function getQuery(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return answer(await fetch(`${url}?${new URLSearchParams(fields).toString()}`, { headers }));
}

/** POST multipart/form-data with files (what `curl --form 'file=@x.zip;type=application/zip'` sends). */
export async function postMultipart(
  url: string,
  fields: Record<string, string>,
  files: Record<string, { name: string; type: string; content: Buffer }>,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const [k, f] of Object.entries(files)) form.append(k, new Blob([f.content], { type: f.type }), f.name);
  return answer(await fetch(url, { method: 'POST', body: form, headers }));
}

export async function restCall(
  url: string,
  method: string,
  options: { token?: string; cookie?: string; json?: unknown; body?: Buffer; contentType?: string } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  let body: string | Buffer | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.body) {
    headers['content-type'] = options.contentType ?? 'application/zip';
    body = options.body;
  }
  return answer(await fetch(url, { method, headers, body }));
}

/** Logs in through the AJAX API and returns the session id. */
export async function ajaxLogin(base: string, username: string, password: string): Promise<string> {
  const r = await postForm(`${base}/`, { action: 'login', username, password });
  const sid = r.json['session.id'];
  if (typeof sid !== 'string') throw new Error(`login of ${username} failed: ${r.text}`);
  return sid;
}

/** Creates a project and uploads an archive to it through the AJAX API, as a client would. */
export async function uploadProject(url: string, session: string, project: string, zip: Buffer): Promise<void> {
  await postForm(`${url}/manager?action=create`, { 'session.id': session, name: project, description: project });
  const up = await postMultipart(
    `${url}/manager`,
    { 'session.id': session, ajax: 'upload', project },
    { file: { name: `${project}.zip`, type: 'application/zip', content: zip } },
  );
  if (up.json.error !== undefined) throw new Error(`uploading ${project} failed: ${up.text}`);
}

/** Submits a flow through the AJAX API; resolves to its execution id. */
export async function submitFlow(
  url: string,
  session: string,
  project: string,
  flow: string,
  extra: Record<string, string> = {},
): Promise<number> {
  const r = await postForm(`${url}/executor`, { 'session.id': session, ajax: 'executeFlow', project, flow, ...extra });
  if (r.json.error !== undefined) throw new Error(`submitting ${project}/${flow} failed: ${r.text}`);
  return Number(r.json.execid);
}
