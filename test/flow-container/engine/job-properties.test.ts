import assert from 'node:assert/strict';
import type { ExecutionPlan } from '../../../common/control-api.js';
import type { FlowNode } from '../../../common/dsl/model.js';
import { layeredLookup, substituteProperties } from '../../../common/dsl/properties.js';
import { buildExecutionGraph, descendantsOf, enclosingFlows } from '../../../flow-container/src/engine/execution-graph.js';
import {
  flowBuiltins,
  jobPropertyLayers,
  nodeOutputs,
  type JobPropertySources,
} from '../../../flow-container/src/engine/job-properties.js';
import { schedulingOptionsFor } from '../../../flow-container/src/engine/run-options.js';

const node = (name: string, config: Record<string, string> = {}, dependsOn: string[] = [], nodes?: FlowNode[]): FlowNode => ({
  name,
  type: nodes ? 'flow' : 'command',
  dependsOn,
  config,
  ...(nodes ? { nodes } : {}),
});

const flowNodes = [
  node('a', { who: 'job-a' }),
  node(
    'outer',
    { level: 'outer', who: 'outer' },
    ['a'],
    [node('inner', { level: 'inner' }, [], [node('x', { own: 'x' })]), node('y', {}, ['inner'])],
  ),
  node('b', {}, ['outer', 'a']),
];

describe('the execution graph', () => {
  const graph = buildExecutionGraph({ nodes: flowNodes });

  it('flattens embedded flows under nested ids, each flow before its nodes', () => {
    assert.deepEqual(graph.order, ['a', 'outer', 'outer:inner', 'outer:inner:x', 'outer:y', 'b']);
    assert.deepEqual(graph.topLevel, ['a', 'outer', 'b']);
  });

  it('links parents and children within one level and lists an embedded flow’s members', () => {
    const summary = graph.order.map((id) => {
      const n = graph.nodes.get(id)!;
      return [id, n.flowId, n.parents, n.children, n.members, n.isFlow];
    });
    assert.deepEqual(summary, [
      ['a', null, [], ['outer', 'b'], [], false],
      ['outer', null, ['a'], ['b'], ['outer:inner', 'outer:y'], true],
      ['outer:inner', 'outer', [], ['outer:y'], ['outer:inner:x'], true],
      ['outer:inner:x', 'outer:inner', [], [], [], false],
      ['outer:y', 'outer', ['outer:inner'], [], [], false],
      ['b', null, ['outer', 'a'], [], [], false],
    ]);
  });

  it('names the enclosing flows innermost first and the descendants depth first', () => {
    assert.deepEqual(enclosingFlows(graph, 'outer:inner:x'), ['outer:inner', 'outer']);
    assert.deepEqual(enclosingFlows(graph, 'a'), []);
    assert.deepEqual(descendantsOf(graph, 'outer'), ['outer:inner', 'outer:inner:x', 'outer:y']);
  });
});

describe('the properties a job sees', () => {
  const graph = buildExecutionGraph({ nodes: flowNodes });
  const sources = (outputs: Record<string, Record<string, string>> = {}, flowParams: Record<string, string> = {}): JobPropertySources => ({
    graph,
    flowConfig: { who: 'flow', level: 'flow', only: 'flow' },
    flowParams,
    builtins: { 'azkaban.flow.execid': '42' },
    outputs: new Map(Object.entries(outputs)),
  });
  const value = (s: JobPropertySources, job: string, name: string): string | undefined => layeredLookup(jobPropertyLayers(s, job))(name);

  it('ranks the job over enclosing embedded flows (inner first) over the flow', () => {
    const s = sources();
    assert.equal(value(s, 'outer:inner:x', 'own'), 'x');
    assert.equal(value(s, 'outer:inner:x', 'level'), 'inner');
    assert.equal(value(s, 'outer:inner:x', 'who'), 'outer');
    assert.equal(value(s, 'outer:inner:x', 'only'), 'flow');
    assert.equal(value(s, 'a', 'who'), 'job-a');
    assert.equal(value(s, 'b', 'level'), 'flow');
  });

  it('ranks flow parameters of the run over everything but built-ins', () => {
    const s = sources({}, { who: 'submit', 'azkaban.flow.execid': '1' });
    assert.equal(value(s, 'a', 'who'), 'submit');
    assert.equal(value(s, 'outer:inner:x', 'who'), 'submit');
    assert.equal(value(s, 'a', 'azkaban.flow.execid'), '42');
  });

  it('gives each job its own azkaban.job.id: the node name', () => {
    assert.equal(value(sources(), 'outer:inner:x', 'azkaban.job.id'), 'x');
  });

  it('passes outputs of parents to children, and an embedded flow passes on its end nodes’ outputs', () => {
    const s = sources({ a: { fromA: '1', shared: 'a' }, 'outer:y': { fromY: '2', shared: 'y' } });
    assert.equal(value(s, 'b', 'fromA'), '1');
    assert.equal(value(s, 'b', 'fromY'), '2');
    assert.equal(value(s, 'b', 'shared'), 'a', 'the later parent (a) wins');
    assert.equal(value(s, 'outer:inner:x', 'fromA'), '1', 'outputs of the embedded flow’s parents reach its jobs');
    assert.equal(value(s, 'outer:inner:x', 'who'), 'outer', 'an embedded flow’s config ranks over its parents’ outputs');
    assert.deepEqual(nodeOutputs(s, 'outer'), { fromY: '2', shared: 'y' });
  });

  it('lists the built-in flow properties of Azkaban', () => {
    const plan = { execId: 7, flowId: 'daily', projectName: 'demo', projectVersion: 3, submitUser: 'alice' };
    assert.deepEqual(flowBuiltins(plan, Date.UTC(2026, 10, 24, 1, 2, 3, 456)), {
      'azkaban.flow.execid': '7',
      'azkaban.flow.flowid': 'daily',
      'azkaban.flow.projectname': 'demo',
      'azkaban.flow.projectversion': '3',
      'azkaban.flow.submituser': 'alice',
      'azkaban.flow.start.timestamp': '2026-11-24T01:02:03.456Z',
      'azkaban.flow.start.year': '2026',
      'azkaban.flow.start.month': '11',
      'azkaban.flow.start.day': '24',
      'azkaban.flow.start.hour': '01',
      'azkaban.flow.start.minute': '02',
      'azkaban.flow.start.second': '03',
      'azkaban.flow.start.milliseconds': '456',
      'azkaban.flow.start.timezone': 'UTC',
    });
  });

  it('adds the project id and the run’s uuid when given', () => {
    const plan = { execId: 7, projectId: 12, flowId: 'daily', projectName: 'demo', projectVersion: 3, submitUser: 'alice' };
    const builtins = flowBuiltins(plan, Date.UTC(2026, 0, 2, 3, 4, 5, 6), 'the-uuid');
    assert.equal(builtins['azkaban.flow.projectid'], '12');
    assert.equal(builtins['azkaban.flow.uuid'], 'the-uuid');
    assert.equal(builtins['azkaban.flow.start.month'], '01');
    assert.equal(builtins['azkaban.flow.start.milliseconds'], '006');
  });

  it('gives each job its attempt and its parent and child names', () => {
    const s = sources();
    const layers = jobPropertyLayers(s, 'outer:y', 2);
    assert.equal(layeredLookup(layers)('azkaban.job.attempt'), '2');
    assert.equal(layeredLookup(layers)('azkaban.job.innodes'), 'inner');
    assert.equal(value(s, 'a', 'azkaban.job.outnodes'), 'outer,b');
    assert.equal(value(s, 'a', 'azkaban.job.attempt'), '0');
  });

  it('ranks Flow 1.0 inherited .properties below the flow config', () => {
    const g = buildExecutionGraph({
      nodes: [{ ...node('j', { own: 'job' }), inherited: { own: 'shared', base: 'shared', only: 'shared' } }],
    });
    const s: JobPropertySources = { graph: g, flowConfig: { only: 'flow' }, flowParams: {}, builtins: {}, outputs: new Map() };
    assert.equal(value(s, 'j', 'own'), 'job');
    assert.equal(value(s, 'j', 'base'), 'shared');
    assert.equal(value(s, 'j', 'only'), 'flow');
  });

  it('substitutes a command with the layered properties', () => {
    const s = sources({}, { who: 'caisson' });
    assert.deepEqual(substituteProperties('echo ${who} ${level} ${azkaban.flow.execid}', layeredLookup(jobPropertyLayers(s, 'outer:y'))), {
      ok: true,
      value: 'echo caisson outer 42',
    });
  });
});

describe('the failure action of a run', () => {
  const plan = (failureAction: 'finishCurrent' | 'finishPossible' | 'cancelImmediately', override: boolean, flowValue?: string) =>
    ({
      options: { failureAction, failureActionOverride: override, disabled: ['x'] },
      flow: { config: flowValue === undefined ? {} : { 'failure.action': flowValue } },
      numJobThreads: 3,
    }) as unknown as Pick<ExecutionPlan, 'options' | 'flow' | 'numJobThreads'>;

  it('is the flow’s failure.action unless the submit overrides it', () => {
    assert.equal(schedulingOptionsFor(plan('finishCurrent', false, 'finishPossible')).options.failureAction, 'finishPossible');
    assert.equal(schedulingOptionsFor(plan('cancelImmediately', true, 'finishPossible')).options.failureAction, 'cancelImmediately');
    assert.equal(schedulingOptionsFor(plan('cancelImmediately', false)).options.failureAction, 'cancelImmediately');
  });

  it('ignores an unknown failure.action with a note', () => {
    const { options, notes } = schedulingOptionsFor(plan('finishCurrent', false, 'explode'));
    assert.equal(options.failureAction, 'finishCurrent');
    assert.deepEqual(notes, ['Ignoring failure.action "explode": expected one of finishCurrent, cancelImmediately, finishPossible']);
  });

  it('carries the disabled jobs and the parallelism', () => {
    const { options } = schedulingOptionsFor(plan('finishCurrent', false));
    assert.deepEqual([...options.disabled], ['x']);
    assert.equal(options.maxRunningJobs, 3);
  });
});
