/** What a run of a conformance case produced, and the check against its expectations. */
import assert from 'node:assert/strict';
import { parseFlow1Project } from '../../../common/dsl/flow1.js';
import { detectProjectFormat, parseFlow2Project } from '../../../common/dsl/flow2.js';
import type { FlowDefinition } from '../../../common/dsl/model.js';
import type { ConformanceCase } from './cases.js';

export const PROJECT_FILE_NAME = 'conformance.project';

/** The archive files of a case: a Flow 2.0 case gets its `.project` file. */
export function projectFilesOf(c: ConformanceCase): Record<string, string> {
  const paths = Object.keys(c.files);
  return detectProjectFormat([...paths, ...(paths.some((p) => p.endsWith('.flow')) ? [PROJECT_FILE_NAME] : [])]) === '2.0'
    ? { [PROJECT_FILE_NAME]: 'azkaban-flow-version: 2.0\n', ...c.files }
    : c.files;
}

/** Parses the case's project as an upload would and returns the flow it runs. */
export function flowOfCase(c: ConformanceCase): FlowDefinition {
  const files = new Map(Object.entries(projectFilesOf(c)));
  const parsed = files.has(PROJECT_FILE_NAME) ? parseFlow2Project(files) : parseFlow1Project(files);
  const flow = parsed.flows.find((f) => f.name === c.flow);
  assert.ok(flow !== undefined, `${c.name}: no flow ${c.flow}`);
  return flow;
}

export interface JobOutcome {
  status: string;
  attempt: number;
  startTime?: number;
  endTime?: number;
  log?: string;
}

export interface CaseOutcome {
  flow: string;
  jobs: Map<string, JobOutcome>;
}

export function assertOutcome(c: ConformanceCase, outcome: CaseOutcome): void {
  assert.equal(outcome.flow, c.expect.flow, `${c.name}: flow status`);
  const statuses = Object.fromEntries([...outcome.jobs].map(([id, j]) => [id, j.status]));
  assert.deepEqual(statuses, c.expect.jobs, `${c.name}: job statuses`);
  for (const [before, after] of c.expect.order ?? []) {
    const end = outcome.jobs.get(before)?.endTime;
    const start = outcome.jobs.get(after)?.startTime;
    assert.ok(
      end !== undefined && start !== undefined && end <= start,
      `${c.name}: ${before} (end ${end}) must end before ${after} starts (${start})`,
    );
  }
  for (const [id, attempt] of Object.entries(c.expect.attempts ?? {})) {
    assert.equal(outcome.jobs.get(id)?.attempt, attempt, `${c.name}: attempt of ${id}`);
  }
  for (const [id, text] of Object.entries(c.expect.logs ?? {})) {
    const log = outcome.jobs.get(id)?.log ?? '';
    assert.ok(log.includes(text), `${c.name}: the log of ${id} should contain ${JSON.stringify(text)}, got ${JSON.stringify(log)}`);
  }
}
