/**
 * A real Caisson web server for benchmarks: the production composition (queue processor,
 * dispatcher, HTTP, metrics) over a given database, with a runtime that launches nothing
 * (test/support/recording-runtime.ts), so the figures measure Caisson and not containers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../common/config/parse.js';
import { SERVER_OPTIONS, type ServerConfig } from '../../web-server/src/config.js';
import { silentLogger } from '../../web-server/src/log.js';
import { CaissonServer } from '../../web-server/src/server.js';
import { RecordingRuntime } from '../../test/support/recording-runtime.js';

export const BENCH_ADMIN_PASSWORD = 'bench-admin-password';

export interface BenchServer {
  server: CaissonServer;
  runtime: RecordingRuntime;
  url: string;
  stop(): Promise<void>;
}

export async function startBenchServer(databaseUrl: string, env: Record<string, string> = {}): Promise<BenchServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-bench-'));
  const config: ServerConfig = loadConfig(
    SERVER_OPTIONS,
    {
      CAISSON_PORT: '0',
      CAISSON_DATA_DIR: dataDir,
      CAISSON_DATABASE_URL: databaseUrl,
      CAISSON_ADMIN_PASSWORD: BENCH_ADMIN_PASSWORD,
      CAISSON_PASSWORD_HASH_COST: '4',
      CAISSON_LOG_LEVEL: 'silent',
      ...env,
    },
    undefined,
  );
  const runtime = new RecordingRuntime();
  const server = new CaissonServer({ config, log: silentLogger, announce: () => undefined, runtime });
  await server.start();
  return {
    server,
    runtime,
    url: server.url,
    async stop() {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Logs in through the AJAX API; returns the session id. */
export async function benchLogin(url: string): Promise<string> {
  const r = await fetch(`${url}/`, {
    method: 'POST',
    body: new URLSearchParams({ action: 'login', username: 'azkaban', password: BENCH_ADMIN_PASSWORD }),
  });
  const body = (await r.json()) as Record<string, unknown>;
  if (typeof body['session.id'] !== 'string') throw new Error(`login failed: ${JSON.stringify(body)}`);
  return body['session.id'];
}

/** Creates a project and uploads one flow file to it through the AJAX API. */
export async function uploadFlow(
  url: string,
  session: string,
  project: string,
  flowName: string,
  flowYaml: string,
  zip: (files: Record<string, string>) => Buffer,
): Promise<void> {
  await fetch(`${url}/manager?action=create`, {
    method: 'POST',
    body: new URLSearchParams({ 'session.id': session, name: project, description: project }),
  });
  const form = new FormData();
  form.append('session.id', session);
  form.append('ajax', 'upload');
  form.append('project', project);
  form.append(
    'file',
    new Blob([zip({ 'p.project': 'azkaban-flow-version: 2.0\n', [`${flowName}.flow`]: flowYaml })], { type: 'application/zip' }),
    'p.zip',
  );
  const r = await fetch(`${url}/manager`, { method: 'POST', body: form });
  const body = (await r.json()) as Record<string, unknown>;
  if (body.error) throw new Error(`upload failed: ${String(body.error)}`);
}

/** A flow of `n` noop jobs in a chain (what a status poll reads). */
export function chainFlow(n: number, type = 'noop'): string {
  const lines = ['nodes:'];
  for (let i = 1; i <= n; i++) {
    lines.push(`  - name: job${i}`, `    type: ${type}`);
    if (i > 1) lines.push(`    dependsOn: [job${i - 1}]`);
  }
  return `${lines.join('\n')}\n`;
}
