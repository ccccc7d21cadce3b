/**
 * The flow-engine conformance suite: flows with their expected final job statuses, flow status and
 * ordering constraints, covering conditions (each macro, runtime parameters, nested), output
 * parameters, property precedence and built-ins, failure actions, disabled nodes, retries with
 * back-off, embedded flows and both DSL versions. Each case is a project (its files, as uploaded)
 * plus a submit; runners: test/flow-container/conformance.test.ts (the real flow container against
 * the fake server) and test/web-server/e2e/flow-engine.test.ts (solo mode, SQLite and MariaDB).
 */
import type { FailureAction } from '../../../common/control-api.js';
import type { Status } from '../../../common/status.js';

export interface ConformanceCase {
  name: string;
  /** Project files as uploaded; a Flow 2.0 case gets its `.project` file added. */
  files: Record<string, string>;
  flow: string;
  submit?: { params?: Record<string, string>; failureAction?: FailureAction; disabled?: string[] };
  expect: {
    flow: Status;
    /** Final status of every node, by nested id (newest attempt). */
    jobs: Record<string, Status>;
    /** `[a, b]`: a ended before b started. */
    order?: [string, string][];
    /** Newest attempt number of jobs that retried. */
    attempts?: Record<string, number>;
    /** Text a job's (newest attempt's) log must contain. */
    logs?: Record<string, string>;
  };
}

interface NodeSpec {
  name: string;
  type?: string;
  dependsOn?: string[];
  condition?: string;
  config?: Record<string, string>;
  nodes?: NodeSpec[];
}

const sh = (script: string): string => `bash -c '${script}'`;
const ok = (name: string, extra: Partial<NodeSpec> = {}): NodeSpec => ({ name, config: { command: 'true' }, ...extra });
const fail = (name: string, extra: Partial<NodeSpec> = {}): NodeSpec => ({ name, config: { command: sh('exit 3') }, ...extra });
const slow = (name: string, seconds: number, extra: Partial<NodeSpec> = {}): NodeSpec => ({
  name,
  config: { command: `sleep ${seconds}` },
  ...extra,
});
const echo = (name: string, text: string, extra: Partial<NodeSpec> = {}): NodeSpec => ({
  name,
  config: { command: `echo ${text}` },
  ...extra,
});
/** A job writing `outputs` (JSON) to $JOB_OUTPUT_PROP_FILE. */
const emit = (name: string, outputs: Record<string, string | number>, extra: Partial<NodeSpec> = {}): NodeSpec => ({
  name,
  config: { command: `bash -c 'echo "$0" > "$JOB_OUTPUT_PROP_FILE"' '${JSON.stringify(outputs)}'` },
  ...extra,
});

function toNode(spec: NodeSpec): Record<string, unknown> {
  const type = spec.type ?? (spec.nodes !== undefined ? 'flow' : 'command');
  return {
    name: spec.name,
    type,
    ...(spec.dependsOn === undefined ? {} : { dependsOn: spec.dependsOn }),
    ...(spec.condition === undefined ? {} : { condition: spec.condition }),
    ...(spec.config === undefined ? {} : { config: spec.config }),
    ...(spec.nodes === undefined ? {} : { nodes: spec.nodes.map(toNode) }),
  };
}

/** A Flow 2.0 project with one flow `f` (JSON is YAML). */
function flow2(nodes: NodeSpec[], config?: Record<string, string>, extraFiles: Record<string, string> = {}): Record<string, string> {
  return { 'f.flow': JSON.stringify({ ...(config === undefined ? {} : { config }), nodes: nodes.map(toNode) }, null, 1), ...extraFiles };
}

const all = (status: Status, ...ids: string[]): Record<string, Status> => Object.fromEntries(ids.map((id) => [id, status]));

export const CONFORMANCE_CASES: ConformanceCase[] = [
  // --- status macros -------------------------------------------------------------------------
  {
    name: 'all_success (default) runs a child once its parent succeeded',
    files: flow2([ok('a'), ok('b', { dependsOn: ['a'] })]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: all('SUCCEEDED', 'a', 'b'), order: [['a', 'b']] },
  },
  {
    name: 'all_success cancels the child of a failed job and fails the flow',
    files: flow2([fail('a'), ok('b', { dependsOn: ['a'] })]),
    flow: 'f',
    expect: { flow: 'FAILED', jobs: { a: 'FAILED', b: 'CANCELLED' } },
  },
  {
    name: 'all_done runs after a failure, which it handles',
    files: flow2([fail('a'), ok('b', { dependsOn: ['a'], condition: 'all_done' })]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'FAILED', b: 'SUCCEEDED' }, order: [['a', 'b']] },
  },
  {
    name: 'all_failed runs when every parent failed',
    files: flow2([fail('a'), fail('b'), ok('c', { dependsOn: ['a', 'b'], condition: 'all_failed' })]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'FAILED', b: 'FAILED', c: 'SUCCEEDED' } },
  },
  {
    name: 'all_failed is cancelled when a parent succeeded; the cancelled end job makes the flow KILLED',
    files: flow2([ok('a'), fail('b'), ok('c', { dependsOn: ['a', 'b'], condition: 'all_failed' })]),
    flow: 'f',
    expect: { flow: 'KILLED', jobs: { a: 'SUCCEEDED', b: 'FAILED', c: 'CANCELLED' } },
  },
  {
    name: 'one_success runs when one parent succeeded and another failed',
    files: flow2([ok('a'), fail('b'), ok('c', { dependsOn: ['a', 'b'], condition: 'one_success' })]),
    flow: 'f',
    expect: {
      flow: 'SUCCEEDED',
      jobs: { a: 'SUCCEEDED', b: 'FAILED', c: 'SUCCEEDED' },
      order: [
        ['a', 'c'],
        ['b', 'c'],
      ],
    },
  },
  {
    name: 'one_success waits for every parent before it runs',
    files: flow2([ok('a'), slow('b', 0.4), ok('c', { dependsOn: ['a', 'b'], condition: 'one_success' })]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: all('SUCCEEDED', 'a', 'b', 'c'), order: [['b', 'c']] },
  },
  {
    name: 'one_success is cancelled when every parent failed',
    files: flow2([fail('a'), fail('b'), ok('c', { dependsOn: ['a', 'b'], condition: 'one_success' })]),
    flow: 'f',
    expect: { flow: 'KILLED', jobs: { a: 'FAILED', b: 'FAILED', c: 'CANCELLED' } },
  },
  {
    name: 'one_failed runs when a parent failed',
    files: flow2([ok('a'), fail('b'), ok('c', { dependsOn: ['a', 'b'], condition: 'one_failed' })]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'SUCCEEDED', b: 'FAILED', c: 'SUCCEEDED' } },
  },
  {
    name: 'one_failed is cancelled when every parent succeeded',
    files: flow2([ok('a'), ok('b'), ok('c', { dependsOn: ['a', 'b'], condition: 'one_failed' })]),
    flow: 'f',
    expect: { flow: 'KILLED', jobs: { a: 'SUCCEEDED', b: 'SUCCEEDED', c: 'CANCELLED' } },
  },
  // --- conditions on runtime parameters ----------------------------------------------------
  {
    name: 'Azkaban’s sample: the branch whose condition holds runs, the other is cancelled, one_success joins',
    files: flow2([
      emit('JobA', { param1: '1' }),
      ok('JobB', { dependsOn: ['JobA'], condition: '${JobA:param1} == 1' }),
      ok('JobC', { dependsOn: ['JobA'], condition: '${JobA:param1} == 2' }),
      ok('JobD', { dependsOn: ['JobB', 'JobC'], condition: 'one_success' }),
    ]),
    flow: 'f',
    expect: {
      flow: 'SUCCEEDED',
      jobs: { JobA: 'SUCCEEDED', JobB: 'SUCCEEDED', JobC: 'CANCELLED', JobD: 'SUCCEEDED' },
      order: [['JobB', 'JobD']],
    },
  },
  {
    name: 'a submit override feeds the output parameter that picks the branch',
    files: flow2(
      [
        { name: 'pick', config: { command: sh('echo "{\\"branch\\": \\"${branch}\\"}" > "$JOB_OUTPUT_PROP_FILE"') } },
        ok('left', { dependsOn: ['pick'], condition: '${pick:branch} == "left"' }),
        ok('right', { dependsOn: ['pick'], condition: '${pick:branch} == "right"' }),
      ],
      { branch: 'left' },
    ),
    flow: 'f',
    submit: { params: { branch: 'right' } },
    expect: { flow: 'KILLED', jobs: { pick: 'SUCCEEDED', left: 'CANCELLED', right: 'SUCCEEDED' } },
  },
  {
    name: 'numbers compare numerically, also when the parameter is written as a string',
    files: flow2([
      emit('a', { n: '10', m: 2.5 }),
      ok('gt', { dependsOn: ['a'], condition: '${a:n} > 9 && ${a:m} >= 2.5' }),
      ok('lt', { dependsOn: ['a'], condition: '${a:n} < 9' }),
      ok('end', { dependsOn: ['gt', 'lt'], condition: 'all_done' }),
    ]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'SUCCEEDED', gt: 'SUCCEEDED', lt: 'CANCELLED', end: 'SUCCEEDED' } },
  },
  {
    name: 'strings compare with == and != and combine with || ! and parentheses',
    files: flow2([
      emit('a', { s: 'foo', t: 'bar' }),
      ok('yes', { dependsOn: ['a'], condition: '(${a:s} != "foo" || ${a:t} == "bar") && !(${a:s} == "baz")' }),
      ok('no', { dependsOn: ['a'], condition: "!(${a:s} == 'foo')" }),
      ok('end', { dependsOn: ['yes', 'no'], condition: 'one_success' }),
    ]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'SUCCEEDED', yes: 'SUCCEEDED', no: 'CANCELLED', end: 'SUCCEEDED' } },
  },
  {
    name: 'a missing parameter makes the comparison false; dependents evaluate their own conditions',
    files: flow2([
      ok('a'),
      ok('b', { dependsOn: ['a'], condition: '${a:never} == 1' }),
      ok('c', { dependsOn: ['b'] }),
      ok('d', { dependsOn: ['b'], condition: 'all_done' }),
    ]),
    flow: 'f',
    expect: { flow: 'KILLED', jobs: { a: 'SUCCEEDED', b: 'CANCELLED', c: 'CANCELLED', d: 'SUCCEEDED' } },
  },
  {
    name: 'a macro and a parameter combined: all_done after a failure, gated by a sibling’s output',
    files: flow2([fail('a'), emit('b', { go: 'yes' }), ok('c', { dependsOn: ['a', 'b'], condition: 'all_done && ${b:go} == "yes"' })]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'FAILED', b: 'SUCCEEDED', c: 'SUCCEEDED' } },
  },
  {
    name: 'the macro is checked first: one_failed || … is cancelled when no parent failed',
    files: flow2([
      emit('a', { x: 1 }),
      ok('b', { dependsOn: ['a'], condition: 'one_failed || ${a:x} == 1' }),
      ok('c', { dependsOn: ['b'], condition: 'all_done' }),
    ]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'SUCCEEDED', b: 'CANCELLED', c: 'SUCCEEDED' } },
  },
  {
    name: 'a condition on an embedded flow cancels the flow with all its nodes',
    files: flow2([
      emit('a', { run: 'no' }),
      { name: 'e', dependsOn: ['a'], condition: '${a:run} == "yes"', nodes: [ok('x'), ok('y', { dependsOn: ['x'] })] },
      ok('after', { dependsOn: ['e'], condition: 'all_done' }),
    ]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'SUCCEEDED', e: 'CANCELLED', 'e:x': 'CANCELLED', 'e:y': 'CANCELLED', after: 'SUCCEEDED' } },
  },
  {
    name: 'nested conditions: inside an embedded flow that runs, members branch on each other’s outputs',
    files: flow2([
      emit('a', { run: 'yes' }),
      {
        name: 'e',
        dependsOn: ['a'],
        condition: '${a:run} == "yes"',
        nodes: [
          emit('x', { n: 3 }),
          ok('big', { dependsOn: ['x'], condition: '${x:n} > 2' }),
          ok('small', { dependsOn: ['x'], condition: '${x:n} <= 2' }),
        ],
      },
    ]),
    flow: 'f',
    expect: {
      flow: 'KILLED',
      jobs: { a: 'SUCCEEDED', e: 'KILLED', 'e:x': 'SUCCEEDED', 'e:big': 'SUCCEEDED', 'e:small': 'CANCELLED' },
      order: [['e:x', 'e:big']],
    },
  },
  {
    name: 'an embedded flow passes its end nodes’ outputs to the conditions after it',
    files: flow2([
      { name: 'e', nodes: [emit('x', { score: 42 })] },
      ok('pass', { dependsOn: ['e'], condition: '${e:score} == 42' }),
      ok('fail', { dependsOn: ['e'], condition: '${e:score} != 42' }),
      ok('end', { dependsOn: ['pass', 'fail'], condition: 'one_success' }),
    ]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { e: 'SUCCEEDED', 'e:x': 'SUCCEEDED', pass: 'SUCCEEDED', fail: 'CANCELLED', end: 'SUCCEEDED' } },
  },
  // --- output parameters and properties ----------------------------------------------------
  {
    name: 'output parameters become properties of the children',
    files: flow2([emit('a', { word: 'hi', n: 7 }), echo('b', '${word}-${n}', { dependsOn: ['a'] })]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: all('SUCCEEDED', 'a', 'b'), logs: { b: 'hi-7' } },
  },
  {
    name: 'precedence: submit override > job config > embedded-flow config > flow config',
    files: flow2(
      [
        {
          name: 'e',
          config: { p1: 'embedded', p2: 'embedded', p3: 'embedded' },
          nodes: [{ name: 'j', config: { command: 'echo ${p1} ${p2} ${p3} ${p4}', p1: 'job', p2: 'job' } }],
        },
      ],
      { p1: 'flow', p2: 'flow', p3: 'flow', p4: 'flow' },
    ),
    flow: 'f',
    submit: { params: { p1: 'submit' } },
    expect: { flow: 'SUCCEEDED', jobs: all('SUCCEEDED', 'e', 'e:j'), logs: { 'e:j': 'submit job embedded flow' } },
  },
  {
    name: 'a job’s own config ranks over its parents’ outputs, which rank over the flow config',
    files: flow2([emit('a', { x: 'parent', y: 'parent' }), echo('b', '${x} ${y} ${z}', { dependsOn: ['a'] })], {
      x: 'flow',
      y: 'flow',
      z: 'flow',
    }),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: all('SUCCEEDED', 'a', 'b'), logs: { b: 'parent parent flow' } },
  },
  {
    name: 'param.override in the flow config supplies a parameter that a submit override replaces',
    files: flow2([echo('a', '${who} ${what}')], { 'param.override.who': 'config', 'param.override.what': 'config', who: 'plain' }),
    flow: 'f',
    submit: { params: { what: 'submit' } },
    expect: { flow: 'SUCCEEDED', jobs: { a: 'SUCCEEDED' }, logs: { a: 'config submit' } },
  },
  {
    name: 'Azkaban’s built-in properties are substituted',
    files: flow2([echo('show', '${azkaban.flow.flowid}/${azkaban.job.id}/${azkaban.job.attempt}/${azkaban.flow.start.timezone}')]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { show: 'SUCCEEDED' }, logs: { show: 'f/show/0/UTC' } },
  },
  {
    name: 'an unresolved reference fails the job, naming it',
    files: flow2([echo('a', '${nowhere}'), ok('b', { dependsOn: ['a'] })]),
    flow: 'f',
    expect: { flow: 'FAILED', jobs: { a: 'FAILED', b: 'CANCELLED' }, logs: { a: 'unresolved property ${nowhere} in command' } },
  },
  {
    name: 'command, command.1, command.2 run in order',
    files: flow2([{ name: 'a', config: { command: 'echo one', 'command.1': 'echo two', 'command.2': 'echo three' } }]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'SUCCEEDED' }, logs: { a: 'one\ntwo\nthree\n' } },
  },
  {
    name: 'working.dir and env.NAME shape the process',
    files: flow2(
      [{ name: 'a', config: { command: sh('cat here.txt; echo $GREETING'), 'working.dir': 'sub', 'env.GREETING': 'hello ${who}' } }],
      { who: 'env' },
      {
        'sub/here.txt': 'in sub\n',
      },
    ),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'SUCCEEDED' }, logs: { a: 'in sub\nhello env\n' } },
  },
  // --- failure actions and disabled nodes --------------------------------------------------
  {
    name: 'finishCurrent: the running job ends, nothing new starts',
    files: flow2([fail('a'), slow('b', 0.5), ok('c', { dependsOn: ['b'] })]),
    flow: 'f',
    submit: { failureAction: 'finishCurrent' },
    expect: { flow: 'FAILED', jobs: { a: 'FAILED', b: 'SUCCEEDED', c: 'CANCELLED' } },
  },
  {
    name: 'finishPossible: every job whose dependencies allow it still runs',
    files: flow2([fail('a'), slow('b', 0.5), ok('c', { dependsOn: ['b'] }), ok('d', { dependsOn: ['a'] })]),
    flow: 'f',
    submit: { failureAction: 'finishPossible' },
    expect: { flow: 'FAILED', jobs: { a: 'FAILED', b: 'SUCCEEDED', c: 'SUCCEEDED', d: 'CANCELLED' }, order: [['b', 'c']] },
  },
  {
    name: 'cancelImmediately: running jobs are killed and the flow ends KILLED',
    files: flow2([fail('a'), slow('b', 30), ok('c', { dependsOn: ['b'] })]),
    flow: 'f',
    submit: { failureAction: 'cancelImmediately' },
    expect: { flow: 'KILLED', jobs: { a: 'FAILED', b: 'KILLED', c: 'CANCELLED' } },
  },
  {
    name: 'the flow property failure.action applies when the submit does not insist',
    files: flow2([fail('a'), slow('b', 0.3), ok('c', { dependsOn: ['b'] })], { 'failure.action': 'finishPossible' }),
    flow: 'f',
    expect: { flow: 'FAILED', jobs: { a: 'FAILED', b: 'SUCCEEDED', c: 'SUCCEEDED' } },
  },
  {
    name: 'a disabled job is SKIPPED and counts as succeeded for its children',
    files: flow2([ok('a'), fail('b', { dependsOn: ['a'] }), ok('c', { dependsOn: ['b'] })]),
    flow: 'f',
    submit: { disabled: ['b'] },
    expect: { flow: 'SUCCEEDED', jobs: { a: 'SUCCEEDED', b: 'SKIPPED', c: 'SUCCEEDED' } },
  },
  {
    name: 'a disabled embedded flow is skipped as a unit; a disabled member alone is skipped job by job',
    files: flow2([
      { name: 'e1', nodes: [fail('x')] },
      { name: 'e2', nodes: [fail('x'), ok('y', { dependsOn: ['x'] })] },
    ]),
    flow: 'f',
    submit: { disabled: ['e1', 'e2:x'] },
    expect: { flow: 'SUCCEEDED', jobs: { e1: 'SKIPPED', 'e1:x': 'SKIPPED', e2: 'SUCCEEDED', 'e2:x': 'SKIPPED', 'e2:y': 'SUCCEEDED' } },
  },
  // --- retries -------------------------------------------------------------------------------
  {
    name: 'a job is retried with its back-off until an attempt succeeds',
    files: flow2([
      {
        name: 'flaky',
        config: { command: sh('echo try ${azkaban.job.attempt}; test ${azkaban.job.attempt} -ge 2'), retries: '3', 'retry.backoff': '100' },
      },
      ok('after', { dependsOn: ['flaky'] }),
    ]),
    flow: 'f',
    expect: {
      flow: 'SUCCEEDED',
      jobs: all('SUCCEEDED', 'flaky', 'after'),
      attempts: { flaky: 2 },
      logs: { flaky: 'try 2' },
      order: [['flaky', 'after']],
    },
  },
  {
    name: 'a job that fails every attempt ends FAILED after its last retry',
    files: flow2([fail('a', { config: { command: sh('exit 3'), retries: '1' } }), ok('b', { dependsOn: ['a'] })]),
    flow: 'f',
    expect: { flow: 'FAILED', jobs: { a: 'FAILED', b: 'CANCELLED' }, attempts: { a: 1 } },
  },
  {
    name: 'retries set in the flow config apply to every job',
    files: flow2([{ name: 'a', config: { command: sh('test ${azkaban.job.attempt} -ge 1') } }], { retries: '1' }),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'SUCCEEDED' }, attempts: { a: 1 } },
  },
  // --- timeouts ------------------------------------------------------------------------------
  {
    name: 'a job past its job.timeout is killed and FAILED; an all_done child still runs',
    files: flow2([
      slow('sleepy', 30, { config: { command: 'sleep 30', 'job.timeout': '300ms' } }),
      ok('after', { dependsOn: ['sleepy'], condition: 'all_done' }),
    ]),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: { sleepy: 'FAILED', after: 'SUCCEEDED' }, logs: { sleepy: 'job.timeout of 300 ms' } },
  },
  // --- embedded flows ------------------------------------------------------------------------
  {
    name: 'embedded flows run under nested ids in dependency order',
    files: flow2([
      ok('a'),
      { name: 'e', dependsOn: ['a'], nodes: [ok('x'), ok('y', { dependsOn: ['x'] })] },
      ok('z', { dependsOn: ['e'] }),
    ]),
    flow: 'f',
    expect: {
      flow: 'SUCCEEDED',
      jobs: all('SUCCEEDED', 'a', 'e', 'e:x', 'e:y', 'z'),
      order: [
        ['a', 'e:x'],
        ['e:x', 'e:y'],
        ['e:y', 'z'],
      ],
    },
  },
  {
    name: 'a failure inside an embedded flow fails it and cancels what follows',
    files: flow2([{ name: 'e', nodes: [fail('x'), ok('y', { dependsOn: ['x'] })] }, ok('z', { dependsOn: ['e'] })]),
    flow: 'f',
    expect: { flow: 'FAILED', jobs: { e: 'FAILED', 'e:x': 'FAILED', 'e:y': 'CANCELLED', z: 'CANCELLED' } },
  },
  {
    name: 'two levels of embedded flows with their own config',
    files: flow2(
      [
        {
          name: 'outer',
          config: { level: 'outer' },
          nodes: [{ name: 'inner', config: { level: 'inner' }, nodes: [echo('j', '${level}-${top}')] }],
        },
      ],
      { top: 'flow' },
    ),
    flow: 'f',
    expect: { flow: 'SUCCEEDED', jobs: all('SUCCEEDED', 'outer', 'outer:inner', 'outer:inner:j'), logs: { 'outer:inner:j': 'inner-flow' } },
  },
  // --- Flow 1.0 ------------------------------------------------------------------------------
  {
    name: 'Flow 1.0: dependencies and .properties inherited by directory',
    files: {
      'system.properties': 'type=command\nwho=root\nlevel=root\n',
      'etl/etl.properties': 'level=etl\n',
      'etl/extract.job': 'command=echo ${who} ${level}\n',
      'etl/load.job': 'dependencies=extract\ncommand=echo load\n',
      'report.job': 'type=noop\ndependencies=load\n',
    },
    flow: 'report',
    expect: {
      flow: 'SUCCEEDED',
      jobs: all('SUCCEEDED', 'extract', 'load', 'report'),
      order: [['extract', 'load']],
      logs: { extract: 'root etl' },
    },
  },
  {
    name: 'Flow 1.0: type=flow with flow.name embeds another flow',
    files: {
      'inner.job': 'type=command\ncommand=echo inner ${azkaban.flow.flowid}\n',
      'outer.job': 'type=flow\nflow.name=inner\n',
      'last.job': 'type=command\ndependencies=outer\ncommand=echo last\n',
    },
    flow: 'last',
    expect: {
      flow: 'SUCCEEDED',
      jobs: { outer: 'SUCCEEDED', 'outer:inner': 'SUCCEEDED', last: 'SUCCEEDED' },
      order: [['outer:inner', 'last']],
    },
  },
  {
    name: 'Flow 1.0: a condition on a runtime parameter',
    files: {
      'a.job': `type=command\ncommand=bash -c 'echo "$0" > "$JOB_OUTPUT_PROP_FILE"' '{"go": 1}'\n`,
      'b.job': 'type=command\ndependencies=a\ncondition=${a:go} == 1\ncommand=echo b\n',
      'c.job': 'type=command\ndependencies=a\ncondition=${a:go} == 2\ncommand=echo c\n',
      'd.job': 'type=noop\ndependencies=b,c\ncondition=one_success\n',
    },
    flow: 'd',
    expect: { flow: 'SUCCEEDED', jobs: { a: 'SUCCEEDED', b: 'SUCCEEDED', c: 'CANCELLED', d: 'SUCCEEDED' } },
  },
  {
    name: 'Flow 1.0: retries and a failing dependency',
    files: {
      'flaky.job': 'type=command\ncommand=bash -c "test ${azkaban.job.attempt} -ge 1"\nretries=2\nretry.backoff=50\n',
      'broken.job': 'type=command\ndependencies=flaky\ncommand=false\n',
      'end.job': 'type=command\ndependencies=broken\ncommand=echo never\n',
    },
    flow: 'end',
    expect: { flow: 'FAILED', jobs: { flaky: 'SUCCEEDED', broken: 'FAILED', end: 'CANCELLED' }, attempts: { flaky: 1 } },
  },
];
