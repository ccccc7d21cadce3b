/**
 * The conformance suite (conformance/cases.ts) on the real flow container process against the fake
 * web server: every case runs as its own container, four at a time, then each is checked.
 */
import fs from 'node:fs';
import type { ContainerEvent } from '../../common/control-api.js';
import { CONFORMANCE_CASES, type ConformanceCase } from './conformance/cases.js';
import { assertOutcome, flowOfCase, projectFilesOf, type CaseOutcome, type JobOutcome } from './conformance/outcome.js';
import { FakeContainerApi } from './support/fake-container-api.js';
import { planFor, startContainer, waitForExit } from './support/container-process.js';

const TOKEN = 'test-token-conformance-9d2c';
const PARALLEL = 4;

async function runCase(c: ConformanceCase, execId: number): Promise<CaseOutcome> {
  const flow = flowOfCase(c);
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(flow.config))
    if (key.startsWith('param.override.')) params[key.slice('param.override.'.length)] = value;
  Object.assign(params, c.submit?.params ?? {});
  const files = new Map(Object.entries(projectFilesOf(c)).map(([path, text]) => [path, Buffer.from(text)]));
  const base = planFor(execId, flow);
  const plan = planFor(execId, flow, {
    flowParams: params,
    files: [...files].map(([path, content]) => ({ path, size: content.length })),
    options: {
      ...base.options,
      failureAction: c.submit?.failureAction ?? 'finishCurrent',
      failureActionOverride: c.submit?.failureAction !== undefined,
      disabled: c.submit?.disabled ?? [],
    },
  });
  const api = new FakeContainerApi({ token: TOKEN, plan, files });
  await api.start();
  const run = startContainer({ apiUrl: api.url, execId, token: TOKEN });
  try {
    await waitForExit(run, 30_000);
    return outcomeOf(api);
  } finally {
    await api.stop();
    fs.rmSync(run.workDir, { recursive: true, force: true });
  }
}

function outcomeOf(api: FakeContainerApi): CaseOutcome {
  const jobs = new Map<string, JobOutcome>();
  for (const e of api.events as ContainerEvent[]) {
    if (e.type !== 'JOB_STARTED' && e.type !== 'JOB_FINISHED') continue;
    const p = e.payload as { jobId: string; attempt: number; status: string; startTime?: number; endTime?: number };
    const known = jobs.get(p.jobId);
    if (known !== undefined && known.attempt > p.attempt) continue;
    const job: JobOutcome = known !== undefined && known.attempt === p.attempt ? known : { status: p.status, attempt: p.attempt };
    job.status = p.status;
    if (p.startTime !== undefined) job.startTime = p.startTime;
    if (p.endTime !== undefined) job.endTime = p.endTime;
    jobs.set(p.jobId, job);
  }
  for (const [id, job] of jobs) job.log = api.log(id, job.attempt).toString('utf8');
  return { flow: String(api.flowFinished()?.payload.status), jobs };
}

describe('the conformance suite on the real flow container', function () {
  this.timeout(180_000);
  const outcomes = new Map<string, CaseOutcome | Error>();

  before(async () => {
    let next = 0;
    const worker = async (): Promise<void> => {
      const only = process.env.CONFORMANCE_ONLY;
      for (let i = next++; i < CONFORMANCE_CASES.length; i = next++) {
        if (only !== undefined && !CONFORMANCE_CASES[i]!.name.includes(only)) continue;
        const c = CONFORMANCE_CASES[i]!;
        try {
          const t0 = Date.now();
          outcomes.set(c.name, await runCase(c, 9000 + i));
          if (process.env.CONFORMANCE_TIMES) console.log(`${Date.now() - t0} ms ${c.name}`);
        } catch (e) {
          outcomes.set(c.name, e instanceof Error ? e : new Error(String(e)));
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  });

  it('has at least 40 cases', () => {
    if (CONFORMANCE_CASES.length < 40) throw new Error(`only ${CONFORMANCE_CASES.length} cases`);
  });

  for (const c of CONFORMANCE_CASES) {
    it(c.name, () => {
      const outcome = outcomes.get(c.name);
      if (outcome instanceof Error) throw outcome;
      if (outcome === undefined) throw new Error('the case did not run');
      assertOutcome(c, outcome);
    });
  }
});
