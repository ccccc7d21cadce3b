/**
 * Benchmark 9 — memory: resident set of a web-server process (its own process, the production
 * composition with a runtime that launches nothing) with 100,000 executions stored and 1,000
 * running. The rows are inserted directly: 99,000 finished executions (SUCCEEDED, 5 job rows
 * each in the full run) and 1,000 RUNNING ones whose heartbeat_at the benchmark refreshes every
 * second (one UPDATE: the heartbeat rows without the HTTP path), 20 job rows each. While it holds
 * them the server runs its own loops (heartbeat watchdog over the 1,000, sweeps, queue polling)
 * and answers the REST status of each running execution and pages of the flow's execution list.
 * Reported: VmRSS at the end and VmHWM (peak) from /proc/<pid>/status.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import { defaultExecutionOptions } from '../common/control-api.js';
import { createTestDatabase } from '../common/db/test-database.js';
import { migrateToLatest } from '../migrations/index.js';
import { zipOfFiles } from '../test/support/projects.js';
import { projectIdOf } from './support/bench-store.js';
import { benchLogin, chainFlow, uploadFlow } from './support/bench-server.js';
import { figure, megabytesAsMiB, type Benchmark } from './support/report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const TSX = pathToFileURL(createRequire(path.join(here, '..', 'package.json')).resolve('tsx')).href;
const STORED = 100_000;
const RUNNING = 1_000;

function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
}

/** Benchmark fixture: `STORED` executions of one flow, the last `RUNNING` of them RUNNING with jobs. */
async function storeExecutions(db: Knex, projectId: number, jobsPerFinished: number): Promise<void> {
  const options = JSON.stringify({ ...defaultExecutionOptions(), concurrentOption: 'ignore' });
  const now = Date.now();
  const finished = STORED - RUNNING;
  await db.transaction(async (trx) => {
    for (let i = 0; i < STORED; i += 1000) {
      const rows = [];
      for (let j = i; j < Math.min(STORED, i + 1000); j++) {
        const running = j >= finished;
        rows.push({
          project_id: projectId,
          project_version: 1,
          flow_id: 'mem',
          status: running ? 'RUNNING' : 'SUCCEEDED',
          priority: 5,
          submit_user: 'bench',
          submit_time: now - STORED + j,
          start_time: now - STORED + j,
          end_time: running ? null : now - STORED + j + 1,
          update_time: now - STORED + j + 1,
          heartbeat_at: running ? now : null,
          execution_source: 'adhoc',
          schedule_id: null,
          attempt: 1,
          options,
          flow_params: '{"user.to.proxy":"bench"}',
          runtime_info: running ? JSON.stringify({ runtime: 'recording', container: `rec-${j}` }) : null,
        });
      }
      await trx('execution_flows').insert(rows);
    }
  });
  const ids = ((await db('execution_flows').select('exec_id', 'status').orderBy('exec_id')) as { exec_id: number; status: string }[]).map(
    (r) => ({ execId: Number(r.exec_id), running: r.status === 'RUNNING' }),
  );
  let batch: Record<string, unknown>[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length > 0) await db('execution_jobs').insert(batch);
    batch = [];
  };
  for (const { execId, running } of ids) {
    const jobs = running ? 20 : jobsPerFinished;
    for (let k = 1; k <= jobs; k++) {
      batch.push({
        exec_id: execId,
        job_id: `job${k}`,
        attempt: 0,
        job_type: 'noop',
        status: running && k > 10 ? 'READY' : 'SUCCEEDED',
        start_time: now,
        end_time: running && k > 10 ? null : now,
        update_time: now,
      });
    }
    if (batch.length >= 2000) await flush();
  }
  await flush();
}

export const memory: Benchmark = {
  id: '9',
  title: 'memory: 100,000 executions stored, 1,000 running',
  async run(ctx) {
    const jobsPerFinished = ctx.quick ? 0 : 5;
    const tdb = await createTestDatabase('mysql', migrateToLatest);
    const child = fork(
      path.join(here, 'support', 'server-process.ts'),
      [tdb.url, JSON.stringify({ CAISSON_MIGRATE_ON_START: 'false', CAISSON_HEARTBEAT_TIMEOUT: '10s' })],
      { execArgv: ['--import', TSX], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
    );
    let heartbeats: NodeJS.Timeout | undefined;
    try {
      const [ready] = (await once(child, 'message')) as [{ url: string }];
      const url = ready.url;
      const pid = child.pid!;
      const session = await benchLogin(url);
      await uploadFlow(url, session, 'mem', 'mem', chainFlow(20), zipOfFiles);
      const projectId = await projectIdOf(tdb.db, 'mem');
      const idle = memoryOf(pid);
      const fillStart = Date.now();
      await storeExecutions(tdb.db, projectId, jobsPerFinished);
      ctx.log(
        `  stored ${STORED} executions (${RUNNING} RUNNING) in ${((Date.now() - fillStart) / 1000).toFixed(1)} s; idle server RSS ${idle.rssMiB.toFixed(0)} MiB`,
      );
      heartbeats = setInterval(() => {
        void tdb
          .db('execution_flows')
          .where({ status: 'RUNNING' })
          .update({ heartbeat_at: Date.now() })
          .catch(() => undefined);
      }, 1000);
      const running = ((await tdb.db('execution_flows').where({ status: 'RUNNING' }).select('exec_id')) as { exec_id: number }[]).map((r) =>
        Number(r.exec_id),
      );
      const cookie = `azkaban.browser.session.id=${session}`;
      const rounds = ctx.quick ? 2 : 5;
      const rss: number[] = [];
      const hwm: number[] = [];
      for (let r = 0; r < rounds; r++) {
        // Each running execution's status once (16 at a time), and the first 40 pages of the flow's executions.
        let next = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < running.length) {
              const id = running[next++]!;
              const res = await fetch(`${url}/api/v1/executions/${id}`, { headers: { cookie } });
              if (res.status !== 200) throw new Error(`status of ${id}: ${res.status}`);
              await res.arrayBuffer();
            }
          }),
        );
        for (let page = 0; page < 40; page++) {
          const res = await fetch(`${url}/api/v1/projects/mem/flows/mem/executions?from=${page * 25}&length=25`, { headers: { cookie } });
          if (res.status !== 200) throw new Error(`executions page ${page}: ${res.status}`);
          await res.arrayBuffer();
        }
        const m = memoryOf(pid);
        rss.push(m.rssMiB);
        hwm.push(m.hwmMiB);
        ctx.log(`  round ${r + 1}: RSS ${m.rssMiB.toFixed(0)} MiB, peak ${m.hwmMiB.toFixed(0)} MiB`);
      }
      const stillRunning = Number(
        ((await tdb.db('execution_flows').where({ status: 'RUNNING' }).count({ n: '*' })) as { n: number | string }[])[0]?.n ?? 0,
      );
      if (stillRunning !== RUNNING) throw new Error(`${RUNNING - stillRunning} running executions ended during the benchmark`);
      return {
        figures: [
          figure('web-server RSS, idle before the rows were stored', 'MiB', [idle.rssMiB]),
          figure(
            `web-server RSS with ${STORED} stored / ${RUNNING} running, after each round of reads (target 250 MB)`,
            'MiB',
            rss,
            megabytesAsMiB('<=', 250),
          ),
          figure('web-server peak RSS (VmHWM) (target 250 MB)', 'MiB', hwm, megabytesAsMiB('<=', 250)),
          figure(
            'growth over the idle server',
            'MiB',
            rss.map((x) => x - idle.rssMiB),
          ),
        ],
        notes: [
          `Rows inserted directly (${jobsPerFinished} job rows per finished execution, 20 per running one); "running" means RUNNING rows whose heartbeat_at is refreshed by SQL every second, so the server's watchdog keeps them alive — no flow container runs. The server runs from the sources (node --import tsx).`,
        ],
      };
    } finally {
      clearInterval(heartbeats);
      const exited = once(child, 'exit');
      child.send({ type: 'stop' });
      await exited;
      await tdb.dispose();
    }
  },
};
