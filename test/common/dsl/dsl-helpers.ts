import assert from 'node:assert/strict';
import { CaissonError } from '../../../common/errors.js';
import type { Problem } from '../../../common/errors.js';
import { parseFlow2Project } from '../../../common/dsl/flow2.js';
import type { ParsedProject } from '../../../common/dsl/model.js';

/** Joins lines with newlines and ends with one, so tests can count lines at a glance. */
export function yamlLines(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

export const PROJECT_FILE = 'flow20.project';
export const VALID_PROJECT = 'azkaban-flow-version: 2.0\n';

/** Parses a project made of a valid .project file plus the given files. */
export function parseProject(files: Record<string, string>): ParsedProject {
  return parseFlow2Project(new Map([[PROJECT_FILE, VALID_PROJECT], ...Object.entries(files)]));
}

/** Runs `fn`, which must throw a CaissonError, and returns it. */
export function caissonErrorOf(fn: () => unknown): CaissonError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CaissonError, `expected a CaissonError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a CaissonError, but nothing was thrown');
}

/** The problems of parsing one flow file `basic.flow` (with a valid .project) that must fail. */
export function flowProblems(flowText: string): Problem[] {
  const error = caissonErrorOf(() => parseProject({ 'basic.flow': flowText }));
  assert.equal(error.code, 'INVALID_FLOW_YAML');
  return error.problems;
}

/** Asserts that parsing `basic.flow` fails with exactly this one problem. */
export function assertOneFlowProblem(flowText: string, message: string, line?: number, column?: number): void {
  const expected: Problem = { message, file: 'basic.flow' };
  if (line !== undefined) expected.line = line;
  if (column !== undefined) expected.column = column;
  assert.deepEqual(flowProblems(flowText), [expected]);
}
