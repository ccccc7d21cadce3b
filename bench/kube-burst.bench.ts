/**
 * Benchmark 4 — burst: N executions become READY at once; one real server in kubernetes mode
 * launches them through the real client against the fake API server, which answers every call
 * after 20 ms (no kubelet: pods stay Pending, as on a cluster still pulling images). The launch
 * limiter is set to 100 launches/s. Figures: the time until every pod exists against
 * 1.1 × N / 100 s, and the sustained pod-creation rate (between the 10th and 90th percentile
 * pod) against 95 % of the limit. Each launch is seven API calls (Secret, Pod, Service, Mapping,
 * and three ownerReference patches).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../common/config/parse.js';
import { createTestDatabase } from '../common/db/test-database.js';
import { migrateToLatest } from '../migrations/index.js';
import { SERVER_OPTIONS } from '../web-server/src/config.js';
import { silentLogger } from '../web-server/src/log.js';
import { CaissonServer } from '../web-server/src/server.js';
import { FakeKubeApiServer } from '../test/support/fake-kube/api-server.js';
import { NAMESPACE, registerClusterImages } from '../test/support/kube-harness.js';
import { zipOfFiles } from '../test/support/projects.js';
import { BENCH_ADMIN_PASSWORD, benchLogin, chainFlow, uploadFlow } from './support/bench-server.js';
import { deleteExecutions, insertReadyExecutions, projectIdOf } from './support/bench-store.js';
import { figure, type Benchmark } from './support/report.js';

const LIMIT_PER_SECOND = 100;
const API_LATENCY_MS = 20;

export const kubeBurst: Benchmark = {
  id: '4',
  title: 'burst against the fake Kubernetes API server',
  async run(ctx) {
    const n = ctx.quick ? 500 : 5_000;
    // One round: a burst of 5,000 is itself 50 s of sustained launching.
    const rounds = 1;
    const tdb = await createTestDatabase('mysql', migrateToLatest);
    await registerClusterImages(tdb);
    const api = new FakeKubeApiServer({ latencyMs: API_LATENCY_MS });
    await api.start();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-bench-k8s-'));
    const config = loadConfig(
      SERVER_OPTIONS,
      {
        CAISSON_PORT: '0',
        CAISSON_DATA_DIR: dataDir,
        CAISSON_DATABASE_URL: tdb.url,
        CAISSON_ADMIN_PASSWORD: BENCH_ADMIN_PASSWORD,
        CAISSON_PASSWORD_HASH_COST: '4',
        CAISSON_LOG_LEVEL: 'silent',
        CAISSON_MIGRATE_ON_START: 'false',
        CAISSON_RUNTIME: 'kubernetes',
        CAISSON_K8S_NAMESPACE: NAMESPACE,
        CAISSON_CLUSTER_NAME: 'bench',
        CAISSON_INGRESS_URL: 'http://127.0.0.1:9', // never called: nothing runs
        CAISSON_DISPATCH_LAUNCHES_PER_SECOND: String(LIMIT_PER_SECOND),
        CAISSON_DISPATCH_MAX_CONCURRENT_LAUNCHES: '64',
        CAISSON_DISPATCH_BATCH_SIZE: '200',
        CAISSON_K8S_API_QPS: '2000',
        CAISSON_K8S_API_BURST: '400',
        CAISSON_HEARTBEAT_TIMEOUT: '1h',
        CAISSON_K8S_SWEEP_INTERVAL: '1h',
      },
      undefined,
    );
    const server = new CaissonServer({ config, log: silentLogger, announce: () => undefined, kubeConfig: api.kubeConfig(NAMESPACE) });
    await server.start();
    const totals: number[] = [];
    const rates: number[] = [];
    const notes: string[] = [];
    try {
      const session = await benchLogin(server.url);
      await uploadFlow(server.url, session, 'burst', 'burst', chainFlow(3), zipOfFiles);
      const projectId = await projectIdOf(tdb.db, 'burst');
      for (let round = 0; round < rounds; round++) {
        await deleteExecutions(tdb.db);
        api.clearLog();
        const start = Date.now();
        await insertReadyExecutions(tdb.db, { projectId, projectVersion: 1, flowId: 'burst', n, submitTime: start });
        server.queue.nudge();
        const created = (): number[] =>
          api.requestLog.filter((r) => r.verb === 'create' && r.resource === 'pods' && r.status === 201).map((r) => r.at);
        const deadline = start + Math.max(120_000, (n / LIMIT_PER_SECOND) * 3_000);
        for (let tick = 1; created().length < n && Date.now() < deadline; tick++) {
          await new Promise((r) => setTimeout(r, 1000));
          if (tick % 10 === 0) ctx.log(`    ${created().length} pods after ${((Date.now() - start) / 1000).toFixed(0)} s`);
        }
        const times = created().sort((a, b) => a - b);
        if (times.length < n) notes.push(`round ${round + 1}: only ${times.length} of ${n} pods were created before the deadline`);
        const last = times[times.length - 1] ?? Date.now();
        totals.push((last - start) / 1000);
        const lo = times[Math.floor(times.length * 0.1)] ?? start;
        const hi = times[Math.floor(times.length * 0.9)] ?? last;
        const between = Math.floor(times.length * 0.9) - Math.floor(times.length * 0.1);
        rates.push(hi > lo ? between / ((hi - lo) / 1000) : 0);
        const calls = api.requestLog.length;
        const failed = api.requestLog.filter((r) => r.status >= 400 || r.status === 0).length;
        notes.push(
          `round ${round + 1}: ${times.length} pods, ${calls} API calls (${(calls / Math.max(1, times.length)).toFixed(1)} per launch, ${failed} failed)`,
        );
        ctx.log(
          `  round ${round + 1}: ${times.length} pods in ${totals[totals.length - 1]!.toFixed(1)} s, ${rates[rates.length - 1]!.toFixed(1)}/s sustained`,
        );
      }
    } finally {
      await server.stop();
      await api.stop();
      await tdb.dispose();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
    notes.push(
      `N = ${n} READY at once, limiter ${LIMIT_PER_SECOND} launches/s, ${API_LATENCY_MS} ms per API call; no kubelet (pods stay Pending). Ideal: ${n / LIMIT_PER_SECOND} s.`,
    );
    return {
      figures: [
        figure(`all ${n} pods created`, 's', totals, { op: '<=', value: (1.1 * n) / LIMIT_PER_SECOND }),
        figure('sustained pod creation', '/s', rates, { op: '>=', value: 0.95 * LIMIT_PER_SECOND }),
      ],
      notes,
    };
  },
};
