import assert from 'node:assert/strict';
import { assertOneFlowProblem, parseProject, yamlLines } from './dsl-helpers.js';

/** A flow a → b (→ c) where b carries `condition` as written on line 6. */
const withCondition = (condition: string): string =>
  yamlLines(
    'nodes:',
    '  - name: a',
    '    type: noop',
    '  - name: b',
    '    type: noop',
    `    condition: ${condition}`,
    '    dependsOn: [a]',
    '  - name: c',
    '    type: noop',
  );

describe('Flow 2.0 conditions at upload', () => {
  it('accepts a macro, comparisons on ancestors’ parameters and parentheses, and keeps the text', () => {
    const flow = yamlLines(
      'nodes:',
      '  - name: a',
      '    type: noop',
      '  - name: b',
      '    type: noop',
      '    dependsOn: [a]',
      '  - name: c',
      '    type: noop',
      '    dependsOn: [b]',
      '    condition: one_success && (${a:x} == 1 || ${b:y} != "no")',
    );
    const parsed = parseProject({ 'basic.flow': flow });
    assert.equal(parsed.flows[0]?.nodes[2]?.condition, 'one_success && (${a:x} == 1 || ${b:y} != "no")');
  });

  it('points at the exact character of a syntax error in a plain condition', () => {
    assertOneFlowProblem(
      withCondition('${a:x} = 1'),
      'invalid condition of node "b": "=" is not an operator; use "==" to compare at character 8',
      6,
      23,
    );
  });

  it('counts the opening quote of a quoted condition', () => {
    assertOneFlowProblem(
      withCondition('"all_done && one_failed"'),
      'invalid condition of node "b": a condition may use only one status macro, but "one_failed" follows "all_done" at character 13',
      6,
      29,
    );
  });

  it('rejects a reference to a job that is not in the flow, at the reference', () => {
    assertOneFlowProblem(
      withCondition('all_done && ${zz:x} == 1'),
      'condition of node "b" refers to job "zz", which is not a node of flow "basic"',
      6,
      28,
    );
  });

  it('rejects a reference to a job the node does not depend on', () => {
    assertOneFlowProblem(withCondition('${c:x} == 1'), 'condition of node "b" refers to job "c", which node "b" does not depend on', 6, 16);
  });

  it('checks conditions of embedded flow members against their own level', () => {
    const flow = yamlLines(
      'nodes:',
      '  - name: a',
      '    type: noop',
      '  - name: e',
      '    type: flow',
      '    dependsOn: [a]',
      '    condition: ${a:go} == "yes"',
      '    nodes:',
      '      - name: x',
      '        type: noop',
      '      - name: y',
      '        type: noop',
      '        dependsOn: [x]',
      '        condition: ${a:go} == "yes"',
    );
    assertOneFlowProblem(flow, 'condition of node "e:y" refers to job "a", which is not a node of embedded flow "e"', 14, 20);
  });

  it('locates a condition written as a block scalar at its start', () => {
    const flow = yamlLines(
      'nodes:',
      '  - name: a',
      '    type: noop',
      '  - name: b',
      '    type: noop',
      '    dependsOn: [a]',
      '    condition: >',
      '      all_done &&',
      '      ${a:x} ==',
    );
    assertOneFlowProblem(flow, 'invalid condition of node "b": expected a value, found the end of the condition at character 23', 7, 16);
  });
});
