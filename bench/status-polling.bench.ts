/**
 * Benchmark 6 — status polling: `fetchexecflow` and the REST status of a finished 20-job
 * execution under concurrent load (autocannon), plain and conditional (If-None-Match with the
 * current ETag, answered 304 without rebuilding the status). The server runs in its own process
 * so the load generator does not share its event loop.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { createTestDatabase } from '../common/db/test-database.js';
import { migrateToLatest } from '../migrations/index.js';
import { zipOfFiles } from '../test/support/projects.js';
import { insertReadyExecutions, projectIdOf, seedJobs, statusCounts } from './support/bench-store.js';
import { benchLogin, chainFlow, uploadFlow } from './support/bench-server.js';
import { figure, type Benchmark, type Figure } from './support/report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const TSX = pathToFileURL(createRequire(path.join(here, '..', 'package.json')).resolve('tsx')).href;
const JOBS = 20;

/** The server process's CPU time so far (user + system, µs). */
async function serverCpuMicros(child: ChildProcess): Promise<number> {
  const answer = new Promise<number>((resolve) => {
    const onMessage = (m: { type?: string; micros?: number }) => {
      if (m.type !== 'cpu') return;
      child.off('message', onMessage);
      resolve(Number(m.micros));
    };
    child.on('message', onMessage);
  });
  child.send({ type: 'cpu' });
  return answer;
}

export const statusPolling: Benchmark = {
  id: '6',
  title: 'status polling (fetchexecflow, REST status)',
  async run(ctx) {
    const rounds = ctx.quick ? 1 : 3;
    const duration = ctx.quick ? 2 : 10;
    const connections = 16;
    const tdb = await createTestDatabase('mysql', migrateToLatest);
    const child = fork(path.join(here, 'support', 'server-process.ts'), [tdb.url, JSON.stringify({ CAISSON_MIGRATE_ON_START: 'false' })], {
      // CAISSON_BENCH_SERVER_NODE_ARGS adds node flags to the server process (e.g. --cpu-prof to profile it).
      execArgv: ['--import', TSX, ...(process.env.CAISSON_BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    try {
      const [ready] = (await once(child, 'message')) as [{ url: string }];
      const url = ready.url;
      const session = await benchLogin(url);
      await uploadFlow(url, session, 'poll', 'poll', chainFlow(JOBS), zipOfFiles);
      const projectId = await projectIdOf(tdb.db, 'poll');
      await insertReadyExecutions(tdb.db, { projectId, projectVersion: 1, flowId: 'poll', n: 1, submitTime: Date.now() });
      const deadline = Date.now() + 30_000;
      while ((await statusCounts(tdb.db)).PREPARING !== 1) {
        if (Date.now() > deadline) throw new Error('the execution was never launched');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const execId = Number(((await tdb.db('execution_flows').first('exec_id')) as { exec_id: number }).exec_id);
      await seedJobs(
        tdb.db,
        execId,
        Array.from({ length: JOBS }, (_, i) => `job${i + 1}`),
        Date.now(),
      );
      await tdb.db('execution_flows').where({ exec_id: execId }).update({ status: 'SUCCEEDED', end_time: Date.now() });
      const cookie = { cookie: `azkaban.browser.session.id=${session}` };
      const targets = {
        fetchexecflow: `${url}/executor?ajax=fetchexecflow&execid=${execId}&session.id=${session}`,
        'REST status': `${url}/api/v1/executions/${execId}`,
      };
      const figures: Figure[] = [];
      const notes: string[] = [];
      for (const [name, target] of Object.entries(targets)) {
        const first = await fetch(target, { headers: cookie });
        const body = (await first.json()) as Record<string, unknown>;
        const etag = first.headers.get('etag');
        if (!etag || body.status !== 'SUCCEEDED') throw new Error(`${name} answered ${first.status} ${JSON.stringify(body).slice(0, 200)}`);
        for (const conditional of [false, true]) {
          const rps: number[] = [];
          const p99: number[] = [];
          const cpuPerRequest: number[] = [];
          const headers = conditional ? { ...cookie, 'if-none-match': etag } : cookie;
          const expected = conditional ? '304' : '200';
          for (let r = 0; r < rounds; r++) {
            const cpuBefore = await serverCpuMicros(child);
            const res = await autocannon({ url: target, connections, duration, headers });
            const cpu = (await serverCpuMicros(child)) - cpuBefore;
            const wrong = Object.entries(res.statusCodeStats).filter(([code]) => code !== expected);
            if (wrong.length > 0 || res.errors > 0)
              throw new Error(`${name}: unexpected answers ${JSON.stringify(res.statusCodeStats)}, ${res.errors} errors`);
            rps.push(res.requests.average);
            p99.push(res.latency.p99);
            cpuPerRequest.push(cpu / Math.max(1, res.requests.total));
            ctx.log(
              `  ${name}${conditional ? ' (304)' : ''}: ${res.requests.average.toFixed(0)} req/s, p99 ${res.latency.p99} ms, ${(cpu / Math.max(1, res.requests.total)).toFixed(0)} µs server CPU per request`,
            );
          }
          const label = `${name}${conditional ? ' conditional → 304' : ' → 200'}`;
          figures.push(figure(`${label}: requests per second`, 'req/s', rps, { op: '>=', value: 3000 }));
          figures.push(figure(`${label}: p99 latency`, 'ms', p99, { op: '<=', value: 20 }));
          // Less sensitive to the machine's other load than req/s: what one request costs the server.
          figures.push(figure(`${label}: server CPU per request`, 'µs', cpuPerRequest));
        }
      }
      notes.push(
        `${connections} connections, ${duration} s per round; autocannon runs in the benchmark's process, the server in its own; both share the machine's cores with MariaDB.`,
      );
      return { figures, notes };
    } finally {
      const exited = once(child, 'exit');
      child.send({ type: 'stop' });
      await exited;
      await tdb.dispose();
    }
  },
};
