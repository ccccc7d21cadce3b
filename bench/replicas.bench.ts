/**
 * Benchmark 5 — several dispatchers: web-server *processes* (each a real server with a runtime
 * that launches nothing) share one MariaDB queue. N READY executions are committed at once; the
 * clock runs until all are PREPARING. Then every process reports what it launched: an execution
 * launched twice is a duplicate, one never launched is lost. Throughput of three processes is
 * reported relative to one process measured in the same run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import { createTestDatabase } from '../common/db/test-database.js';
import { migrateToLatest } from '../migrations/index.js';
import { zipOfFiles } from '../test/support/projects.js';
import { QUEUE_BENCH_ENV } from './queue-core.bench.js';
import { deleteExecutions, insertReadyExecutions, projectIdOf, statusCounts } from './support/bench-store.js';
import { benchLogin, chainFlow, uploadFlow } from './support/bench-server.js';
import { figure, type Benchmark } from './support/report.js';
import { msSince } from './support/stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const TSX = pathToFileURL(createRequire(path.join(here, '..', 'package.json')).resolve('tsx')).href;

interface Replica {
  child: ChildProcess;
  url: string;
}

async function startReplica(databaseUrl: string, name: string): Promise<Replica> {
  const env = {
    ...QUEUE_BENCH_ENV,
    CAISSON_MIGRATE_ON_START: 'false',
    CAISSON_REPLICA_ID: name,
    CAISSON_DISPATCH_POLL_INTERVAL: '50ms',
    CAISSON_DISPATCH_MAX_POLL_INTERVAL: '200ms',
  };
  const child = fork(path.join(here, 'support', 'server-process.ts'), [databaseUrl, JSON.stringify(env)], {
    execArgv: ['--import', TSX],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const [msg] = (await once(child, 'message')) as [{ type: string; url: string }];
  return { child, url: msg.url };
}

async function launchedBy(r: Replica): Promise<number[]> {
  const reply = once(r.child, 'message') as Promise<[{ launched: number[] }]>;
  r.child.send({ type: 'stats' });
  return (await reply)[0].launched;
}

async function stopReplica(r: Replica): Promise<void> {
  const exited = once(r.child, 'exit');
  r.child.send({ type: 'stop' });
  await exited;
}

async function untilAllPrepared(db: Knex, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await statusCounts(db);
    if ((c.PREPARING ?? 0) >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${c.PREPARING ?? 0} of ${n} executions reached PREPARING: ${JSON.stringify(c)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const replicas: Benchmark = {
  id: '5',
  title: 'three web-server processes on one MariaDB',
  async run(ctx) {
    const n = ctx.quick ? 300 : 3_000;
    const rounds = ctx.quick ? 1 : 3;
    const tdb = await createTestDatabase('mysql', migrateToLatest);
    try {
      const first = await startReplica(tdb.url, 'replica-0');
      const session = await benchLogin(first.url);
      await uploadFlow(first.url, session, 'replicas', 'replicas', chainFlow(3), zipOfFiles);
      await stopReplica(first);
      const projectId = await projectIdOf(tdb.db, 'replicas');
      const rate: Record<1 | 3, number[]> = { 1: [], 3: [] };
      const ratios: number[] = [];
      let duplicates = 0;
      let lost = 0;
      for (let round = 0; round < rounds; round++) {
        for (const k of [1, 3] as const) {
          await deleteExecutions(tdb.db);
          const procs = await Promise.all(Array.from({ length: k }, (_, i) => startReplica(tdb.url, `replica-${round}-${k}-${i}`)));
          try {
            await insertReadyExecutions(tdb.db, { projectId, projectVersion: 1, flowId: 'replicas', n, submitTime: Date.now() });
            const start = process.hrtime.bigint();
            await untilAllPrepared(tdb.db, n, 120_000);
            const ms = msSince(start);
            rate[k].push(n / (ms / 1000));
            const launched = (await Promise.all(procs.map(launchedBy))).flat();
            const unique = new Set(launched);
            duplicates += launched.length - unique.size;
            lost += n - unique.size;
            ctx.log(
              `  round ${round + 1}, ${k} process(es): ${n} executions in ${ms.toFixed(0)} ms, ${launched.length - unique.size} duplicate(s), ${n - unique.size} lost`,
            );
          } finally {
            await Promise.all(procs.map(stopReplica));
          }
        }
        ratios.push(rate[3].at(-1)! / rate[1].at(-1)!);
      }
      return {
        figures: [
          figure(`one process: executions dispatched per second (${n})`, '/s', rate[1]),
          figure(`three processes: executions dispatched per second (${n})`, '/s', rate[3]),
          figure('throughput three / one process', '×', ratios),
          figure('duplicate launches (all rounds)', '', [duplicates], { op: '<=', value: 0 }),
          figure('lost executions (all rounds)', '', [lost], { op: '<=', value: 0 }),
        ],
        notes: [
          'Processes poll every 50–200 ms (they cannot be nudged by a commit from outside); timing starts at the commit of all READY rows and ends when the database shows every one PREPARING (polled every 20 ms).',
        ],
      };
    } finally {
      await tdb.dispose();
    }
  },
};
