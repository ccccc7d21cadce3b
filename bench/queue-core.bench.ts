/**
 * Benchmark 1 — queue core: executions dispatched per second by one real server (claim, launch
 * plan with version-set resolution, DISPATCHING → PREPARING) on MariaDB with a runtime that launches nothing. Each round
 * commits a batch of READY rows at once, nudges the processor and times until every one is
 * dispatched; the stage histogram of the same server gives DISPATCHING → PREPARING from inside.
 */
import { createTestDatabase } from '../common/db/test-database.js';
import { migrateToLatest } from '../migrations/index.js';
import { zipOfFiles } from '../test/support/projects.js';
import { deleteExecutions, insertReadyExecutions, projectIdOf, statusCounts } from './support/bench-store.js';
import { benchLogin, chainFlow, startBenchServer } from './support/bench-server.js';
import { uploadFlow } from './support/bench-server.js';
import { figure, type Benchmark } from './support/report.js';
import { msSince } from './support/stats.js';

/** Dispatch settings of the measured server: the limiter must not be what is measured. */
export const QUEUE_BENCH_ENV = {
  CAISSON_DISPATCH_BATCH_SIZE: '50',
  CAISSON_DISPATCH_LAUNCHES_PER_SECOND: '100000',
  CAISSON_DISPATCH_MAX_CONCURRENT_LAUNCHES: '64',
  // Solo mode counts active executions in every claim; the cap itself must not stop the run.
  CAISSON_MAX_ACTIVE_EXECUTIONS: '1000000',
  // Nothing runs, so nothing heartbeats: the watchdog must not end the PREPARING executions.
  CAISSON_HEARTBEAT_TIMEOUT: '1h',
};

export const queueCore: Benchmark = {
  id: '1',
  title: 'queue core',
  async run(ctx) {
    const n = ctx.quick ? 600 : 4_000;
    const roundsWanted = ctx.quick ? 3 : 5;
    const tdb = await createTestDatabase('mysql', migrateToLatest);
    const bench = await startBenchServer(tdb.url, { ...QUEUE_BENCH_ENV, CAISSON_MIGRATE_ON_START: 'false' });
    try {
      const session = await benchLogin(bench.url);
      await uploadFlow(bench.url, session, 'core', 'core', chainFlow(3), zipOfFiles);
      const projectId = await projectIdOf(tdb.db, 'core');
      const rates: number[] = [];
      const prepMs: number[] = [];
      for (let round = 0; round < roundsWanted; round++) {
        await deleteExecutions(tdb.db);
        const stage = bench.server.metrics.stageDuration;
        const before = await histogramOf(stage, 'dispatching_to_preparing');
        let dispatched = 0;
        const done = new Promise<void>((resolve) => {
          const on = (): void => {
            if (++dispatched === n) {
              bench.server.queue.events.off('dispatched', on);
              resolve();
            }
          };
          bench.server.queue.events.on('dispatched', on);
        });
        await insertReadyExecutions(tdb.db, { projectId, projectVersion: 1, flowId: 'core', n, submitTime: Date.now() });
        const start = process.hrtime.bigint();
        bench.server.queue.nudge();
        await done;
        const ms = msSince(start);
        const counts = await statusCounts(tdb.db);
        if (counts.PREPARING !== n) throw new Error(`expected ${n} PREPARING, found ${JSON.stringify(counts)}`);
        rates.push(n / (ms / 1000));
        const after = await histogramOf(stage, 'dispatching_to_preparing');
        prepMs.push(((after.sum - before.sum) / Math.max(1, after.count - before.count)) * 1000);
        ctx.log(`  round ${round + 1}: ${n} executions dispatched in ${ms.toFixed(0)} ms (${rates.at(-1)!.toFixed(0)}/s)`);
      }
      return {
        figures: [
          figure(`executions dispatched per second (${n} per round)`, '/s', rates, { op: '>=', value: 2000 }),
          figure('mean DISPATCHING→PREPARING per execution (from /metrics histogram)', 'ms', prepMs),
        ],
        notes: [
          "The launch plan is the server's own: it reads the stored flow and resolves and stores the version set (image management) of each execution.",
          `Server settings: ${Object.entries(QUEUE_BENCH_ENV)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}.`,
        ],
      };
    } finally {
      await bench.stop();
      await tdb.dispose();
    }
  },
};

async function histogramOf(
  h: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number; metricName?: string }[] }> },
  stage: string,
) {
  const { values } = await h.get();
  const pick = (suffix: string): number => values.find((v) => v.metricName?.endsWith(suffix) && v.labels.stage === stage)?.value ?? 0;
  return { sum: pick('_sum'), count: pick('_count') };
}
