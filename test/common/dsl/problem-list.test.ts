import assert from 'node:assert/strict';
import { problemsError, sortProblems, summarizeProblems } from '../../../common/dsl/problem-list.js';

describe('problem lists', () => {
  it('summarize as the first problem, located, plus how many more follow', () => {
    assert.equal(summarizeProblems([{ message: 'm', file: 'f.flow', line: 3, column: 7 }]), 'f.flow:3:7: m');
    assert.equal(summarizeProblems([{ message: 'm' }, { message: 'n' }]), 'm (and 1 more problem)');
    assert.equal(summarizeProblems([{ message: 'm', file: 'f' }, { message: 'n' }, { message: 'o' }]), 'f: m (and 2 more problems)');
  });

  it('summarize an empty list as "no problems"', () => {
    assert.equal(summarizeProblems([]), 'no problems');
  });

  it('sort problems without a file first, then by file, line and column, keeping ties in order', () => {
    const problems = [
      { message: '1', file: 'b', line: 1, column: 1 },
      { message: '2', file: 'a', line: 2, column: 5 },
      { message: '3', file: 'a', line: 2, column: 1 },
      { message: '4' },
      { message: '5', file: 'a' },
      { message: '6', file: 'a', line: 2, column: 1 },
    ];
    assert.deepEqual(
      sortProblems(problems).map((p) => p.message),
      ['4', '5', '3', '6', '2', '1'],
    );
  });

  it('become one error carrying the code, the summary and every problem', () => {
    const problems = [{ message: 'bad', file: 'x.flow', line: 1, column: 2 }];
    const error = problemsError('INVALID_FLOW_YAML', problems);
    assert.equal(error.code, 'INVALID_FLOW_YAML');
    assert.equal(error.message, 'x.flow:1:2: bad');
    assert.deepEqual(error.problems, problems);
  });
});
