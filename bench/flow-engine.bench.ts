/**
 * Benchmark 7 — flow engine overhead.
 * (a) The pure scheduling core (flow-container/src/engine/scheduling.ts) driving a 1,000-job noop
 *     DAG to the end the way the runner does — one decision step after each job finishes, at most
 *     10 running — in a wide shape (1,000 independent jobs) and a deep one (a chain of 1,000):
 *     engine time per job.
 * (b) The real flow container process (against the fake web server of the flow-container tests)
 *     running 200 `command` jobs `true` at parallelism 8, from its FLOW_STARTED to its
 *     FLOW_FINISHED event, against a bare loop spawning the same 200 processes 8 at a time.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { FlowNode } from '../common/dsl/model.js';
import type { Status } from '../common/status.js';
import { buildExecutionGraph } from '../flow-container/src/engine/execution-graph.js';
import { decideNextSteps } from '../flow-container/src/engine/scheduling.js';
import { flowOf, job, planFor, startContainer, waitForExit } from '../test/flow-container/support/container-process.js';
import { FakeContainerApi } from '../test/flow-container/support/fake-container-api.js';
import { figure, type Benchmark, type Figure } from './support/report.js';
import { msSince } from './support/stats.js';

const FINAL: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED']);

function noopDag(shape: 'wide' | 'deep', n: number): FlowNode[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `j${i}`,
    type: 'noop',
    dependsOn: shape === 'deep' && i > 0 ? [`j${i - 1}`] : [],
    config: {},
  }));
}

/** Milliseconds of scheduling-core time to run the DAG to its end, finishing one job per step. */
function scheduleToEnd(nodes: FlowNode[]): number {
  const start = process.hrtime.bigint();
  const graph = buildExecutionGraph({ nodes });
  const statuses = new Map<string, Status>();
  const running: string[] = [];
  const options = { failureAction: 'finishCurrent' as const, disabled: new Set<string>(), maxRunningJobs: 10 };
  for (let steps = 0; ; steps++) {
    const d = decideNextSteps({ graph, statuses, options, cancelRequested: false });
    for (const { id, status } of d.mark) statuses.set(id, status);
    for (const id of d.start) {
      statuses.set(id, 'RUNNING');
      running.push(id);
    }
    if (FINAL.has(d.flowStatus)) {
      if (d.flowStatus !== 'SUCCEEDED') throw new Error(`the flow ended ${d.flowStatus}`);
      return msSince(start);
    }
    const done = running.shift();
    if (done === undefined) throw new Error(`the scheduler stalled after ${steps} steps`);
    statuses.set(done, 'SUCCEEDED');
  }
}

/** Milliseconds to spawn `n` processes of `true`, `parallel` at a time, each waited for. */
async function bareSpawnLoop(n: number, parallel: number): Promise<number> {
  const start = process.hrtime.bigint();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      await new Promise<void>((resolve, reject) => {
        const c = spawn('true', [], { stdio: 'ignore' });
        c.once('error', reject);
        c.once('exit', () => resolve());
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return msSince(start);
}

/** Milliseconds between the container's FLOW_STARTED and FLOW_FINISHED for `n` `true` jobs at `parallel`. */
async function containerRun(execId: number, n: number, parallel: number): Promise<number> {
  const nodes = Array.from({ length: n }, (_, i) => job(`t${i}`, { command: 'true' }));
  const token = `bench-token-${execId}`;
  const api = new FakeContainerApi({ token, plan: planFor(execId, flowOf(nodes), { numJobThreads: parallel }), files: new Map() });
  await api.start();
  const run = startContainer({ apiUrl: api.url, execId, token });
  try {
    const code = await waitForExit(run, 120_000);
    if (code !== 0) throw new Error(`the flow container exited ${code}: ${run.output().slice(-500)}`);
    const started = api.eventsOfType('FLOW_STARTED')[0];
    const finished = api.eventsOfType('FLOW_FINISHED')[0];
    if (!started || !finished) throw new Error('the container reported no FLOW_STARTED/FLOW_FINISHED');
    if ((finished.payload as { status?: string }).status !== 'SUCCEEDED')
      throw new Error(`the flow ended ${JSON.stringify(finished.payload)}`);
    return finished.time - started.time;
  } finally {
    await api.stop();
    fs.rmSync(run.workDir, { recursive: true, force: true });
  }
}

export const flowEngine: Benchmark = {
  id: '7',
  title: 'flow engine overhead',
  async run(ctx) {
    const rounds = ctx.quick ? 3 : 7;
    const figures: Figure[] = [];
    for (const shape of ['wide', 'deep'] as const) {
      const nodes = noopDag(shape, 1000);
      scheduleToEnd(nodes);
      const perJob: number[] = [];
      for (let r = 0; r < rounds; r++) perJob.push(scheduleToEnd(nodes) / 1000);
      ctx.log(`  ${shape}: ${perJob.map((x) => x.toFixed(3)).join(', ')} ms per job`);
      figures.push(figure(`scheduling core, 1,000 noop jobs, ${shape}: time per job`, 'ms', perJob, { op: '<=', value: 1 }));
    }
    // Quick runs use fewer jobs: on this machine a process spawn costs tens of milliseconds.
    const jobs = ctx.quick ? 32 : 200;
    const parallel = 8;
    const engineRounds = ctx.quick ? 1 : 3;
    const ratios: number[] = [];
    const engineMs: number[] = [];
    const bareMs: number[] = [];
    for (let r = 0; r < engineRounds; r++) {
      const bare = await bareSpawnLoop(jobs, parallel);
      const engine = await containerRun(900 + r, jobs, parallel);
      bareMs.push(bare);
      engineMs.push(engine);
      ratios.push(engine / bare);
      ctx.log(`  round ${r + 1}: flow container ${engine.toFixed(0)} ms, bare spawn loop ${bare.toFixed(0)} ms`);
    }
    figures.push(figure(`flow container, ${jobs} command jobs \`true\`, parallelism ${parallel}`, 'ms', engineMs));
    figures.push(figure(`bare loop spawning the same ${jobs} processes`, 'ms', bareMs));
    figures.push(figure('ratio flow container / bare loop', '×', ratios, { op: '<=', value: 1.3 }));
    return {
      figures,
      notes: [
        'The flow container is timed from its FLOW_STARTED to its FLOW_FINISHED event (its own clock), so process start-up is excluded; it also writes job logs, reports events to the fake server and ships logs.',
      ],
    };
  },
};
