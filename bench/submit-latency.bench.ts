/**
 * Benchmark 3 — submit-to-launch latency on an idle system: one AJAX executeFlow at a time, timed
 * from the request to the runtime's launch call (the nudge path: submit wakes the idle processor,
 * which claims, builds the launch plan and launches). The next submit waits until the processor
 * is idle again.
 */
import { once } from 'node:events';
import { createTestDatabase } from '../common/db/test-database.js';
import { migrateToLatest } from '../migrations/index.js';
import { zipOfFiles } from '../test/support/projects.js';
import { QUEUE_BENCH_ENV } from './queue-core.bench.js';
import { benchLogin, chainFlow, startBenchServer, uploadFlow } from './support/bench-server.js';
import { figure, type Benchmark } from './support/report.js';
import { quantile } from './support/stats.js';

export const submitLatency: Benchmark = {
  id: '3',
  title: 'submit-to-launch latency (idle, nudge path)',
  async run(ctx) {
    const rounds = ctx.quick ? 3 : 5;
    const perRound = ctx.quick ? 40 : 200;
    const tdb = await createTestDatabase('mysql', migrateToLatest);
    const bench = await startBenchServer(tdb.url, { ...QUEUE_BENCH_ENV, CAISSON_MIGRATE_ON_START: 'false' });
    try {
      const session = await benchLogin(bench.url);
      await uploadFlow(bench.url, session, 'latency', 'latency', chainFlow(3), zipOfFiles);
      const launchedAt = new Map<number, bigint>();
      const waiting = new Map<number, () => void>();
      bench.runtime.afterLaunch = (plan) => {
        launchedAt.set(plan.execId, process.hrtime.bigint());
        waiting.get(plan.execId)?.();
      };
      const p50: number[] = [];
      const p99: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const samples: number[] = [];
        for (let i = 0; i < perRound; i++) {
          const idle = once(bench.server.queue.events, 'idle');
          const start = process.hrtime.bigint();
          const res = await fetch(`${bench.url}/executor`, {
            method: 'POST',
            body: new URLSearchParams({
              'session.id': session,
              ajax: 'executeFlow',
              project: 'latency',
              flow: 'latency',
              concurrentOption: 'ignore',
            }),
          });
          const body = (await res.json()) as Record<string, unknown>;
          const execId = Number(body.execid);
          if (!Number.isInteger(execId)) throw new Error(`submit failed: ${JSON.stringify(body)}`);
          if (!launchedAt.has(execId)) await new Promise<void>((resolve) => waiting.set(execId, resolve));
          samples.push(Number(launchedAt.get(execId)! - start) / 1e6);
          await idle;
        }
        p50.push(quantile(samples, 0.5));
        p99.push(quantile(samples, 0.99));
        ctx.log(`  round ${r + 1}: p50 ${p50.at(-1)!.toFixed(1)} ms, p99 ${p99.at(-1)!.toFixed(1)} ms over ${perRound} submits`);
      }
      return {
        figures: [
          figure('submit → launch p50', 'ms', p50, { op: '<=', value: 20 }),
          figure('submit → launch p99', 'ms', p99, { op: '<=', value: 100 }),
        ],
        notes: [
          `${perRound} submits per round through POST /executor?ajax=executeFlow (HTTP, permission checks, flow parameters), one at a time; the client runs in the server's process.`,
        ],
      };
    } finally {
      await bench.stop();
      await tdb.dispose();
    }
  },
};
