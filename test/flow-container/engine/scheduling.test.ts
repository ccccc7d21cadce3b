import assert from 'node:assert/strict';
import type { FailureAction } from '../../../common/control-api.js';
import type { FlowNode } from '../../../common/dsl/model.js';
import type { Status } from '../../../common/status.js';
import { buildExecutionGraph, type ExecutionGraph } from '../../../flow-container/src/engine/execution-graph.js';
import { decideNextSteps, type SchedulingDecisions } from '../../../flow-container/src/engine/scheduling.js';

const node = (name: string, dependsOn: string[] = [], extra: Partial<FlowNode> = {}): FlowNode => ({
  name,
  type: 'command',
  dependsOn,
  config: {},
  ...extra,
});
const embedded = (name: string, nodes: FlowNode[], dependsOn: string[] = []): FlowNode => ({
  name,
  type: 'flow',
  dependsOn,
  config: {},
  nodes,
});

interface Options {
  failureAction?: FailureAction;
  disabled?: string[];
  maxRunningJobs?: number;
  cancelRequested?: boolean;
}

/** A scheduler under test: keeps the statuses, applies each decision like the runner does. */
class Run {
  readonly graph: ExecutionGraph;
  readonly statuses = new Map<string, Status>();
  cancelRequested: boolean;

  constructor(
    nodes: FlowNode[],
    private readonly options: Options = {},
  ) {
    this.graph = buildExecutionGraph({ nodes });
    this.cancelRequested = options.cancelRequested ?? false;
  }

  /** Decides and applies: started jobs RUNNING, killed ones KILLING, marks as marked. */
  step(): Decided {
    const d = this.decide();
    for (const { id, status } of d.mark) this.statuses.set(id, status);
    for (const id of d.start) this.statuses.set(id, 'RUNNING');
    for (const id of d.kill) this.statuses.set(id, 'KILLING');
    return d;
  }

  decide(): Decided {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { conditions, ...rest } = decideNextSteps({
      graph: this.graph,
      statuses: this.statuses,
      options: {
        failureAction: this.options.failureAction ?? 'finishCurrent',
        disabled: new Set(this.options.disabled ?? []),
        maxRunningJobs: this.options.maxRunningJobs ?? 10,
      },
      cancelRequested: this.cancelRequested,
    });
    return rest;
  }

  /** A job ended with `status`, then the next step. */
  end(id: string, status: Status): Decided {
    this.statuses.set(id, status);
    return this.step();
  }
}

/** Decisions without the condition outcomes (test/flow-container/engine/conditions.test.ts checks those). */
type Decided = Omit<SchedulingDecisions, 'conditions'>;

const decided = (d: Partial<Decided>): Decided => ({
  start: [],
  kill: [],
  mark: [],
  notes: [],
  flowStatus: 'RUNNING',
  ...d,
});

describe('the scheduling core', () => {
  describe('a diamond a → (b, c) → d', () => {
    const diamond = (): Run => new Run([node('a'), node('b', ['a']), node('c', ['a']), node('d', ['b', 'c'])]);

    it('starts the root first, both branches once it succeeded, and the join once both did', () => {
      const run = diamond();
      assert.deepEqual(run.step(), decided({ start: ['a'] }));
      assert.deepEqual(run.end('a', 'SUCCEEDED'), decided({ start: ['b', 'c'] }));
      assert.deepEqual(run.end('b', 'SUCCEEDED'), decided({}));
      assert.deepEqual(run.end('c', 'SUCCEEDED'), decided({ start: ['d'] }));
      assert.deepEqual(run.end('d', 'SUCCEEDED'), decided({ flowStatus: 'SUCCEEDED' }));
    });

    it('decides nothing new when asked again with the statuses it produced', () => {
      const run = diamond();
      run.step();
      assert.deepEqual(run.decide(), decided({}));
      run.end('a', 'SUCCEEDED');
      assert.deepEqual(run.decide(), decided({}));
    });

    it('cancels the join when one branch fails under finishCurrent, after the other branch ends', () => {
      const run = diamond();
      run.step();
      run.end('a', 'SUCCEEDED');
      assert.deepEqual(run.end('b', 'FAILED'), decided({ flowStatus: 'FAILED_FINISHING' }));
      assert.deepEqual(run.end('c', 'SUCCEEDED'), decided({ mark: [{ id: 'd', status: 'CANCELLED' }], flowStatus: 'FAILED' }));
    });
  });

  it('cancels the rest of a chain after a failure and ends FAILED', () => {
    const run = new Run([node('a'), node('b', ['a']), node('c', ['b'])]);
    run.step();
    assert.deepEqual(
      run.end('a', 'FAILED'),
      decided({
        mark: [
          { id: 'b', status: 'CANCELLED' },
          { id: 'c', status: 'CANCELLED' },
        ],
        flowStatus: 'FAILED',
      }),
    );
  });

  it('runs a wide fan-out two at a time with parallelism 2, in declaration order', () => {
    const run = new Run([node('root'), ...['c1', 'c2', 'c3', 'c4', 'c5'].map((c) => node(c, ['root']))], { maxRunningJobs: 2 });
    assert.deepEqual(run.step(), decided({ start: ['root'] }));
    assert.deepEqual(run.end('root', 'SUCCEEDED'), decided({ start: ['c1', 'c2'] }));
    assert.deepEqual(run.decide(), decided({}));
    assert.deepEqual(run.end('c2', 'SUCCEEDED'), decided({ start: ['c3'] }));
    assert.deepEqual(run.end('c1', 'SUCCEEDED'), decided({ start: ['c4'] }));
    assert.deepEqual(run.end('c3', 'SUCCEEDED'), decided({ start: ['c5'] }));
    assert.deepEqual(run.end('c4', 'SUCCEEDED'), decided({}));
    assert.deepEqual(run.end('c5', 'SUCCEEDED'), decided({ flowStatus: 'SUCCEEDED' }));
  });

  it('treats a parallelism below 1 as 1', () => {
    const run = new Run([node('a'), node('b')], { maxRunningJobs: 0 });
    assert.deepEqual(run.step(), decided({ start: ['a'] }));
    assert.deepEqual(run.end('a', 'SUCCEEDED'), decided({ start: ['b'] }));
  });

  describe('embedded flows', () => {
    const nested = (): Run => new Run([node('a'), embedded('e', [node('x'), node('y', ['x'])], ['a']), node('b', ['e'])]);

    it('starts an embedded flow like a node, runs its jobs under nested ids, and finishes it before its children', () => {
      const run = nested();
      assert.deepEqual(run.step(), decided({ start: ['a'] }));
      assert.deepEqual(run.end('a', 'SUCCEEDED'), decided({ mark: [{ id: 'e', status: 'RUNNING' }], start: ['e:x'] }));
      assert.deepEqual(run.end('e:x', 'SUCCEEDED'), decided({ start: ['e:y'] }));
      assert.deepEqual(run.end('e:y', 'SUCCEEDED'), decided({ mark: [{ id: 'e', status: 'SUCCEEDED' }], start: ['b'] }));
      assert.deepEqual(run.end('b', 'SUCCEEDED'), decided({ flowStatus: 'SUCCEEDED' }));
    });

    it('fails the embedded flow and the flow when a job inside fails', () => {
      const run = nested();
      run.step();
      run.end('a', 'SUCCEEDED');
      assert.deepEqual(
        run.end('e:x', 'FAILED'),
        decided({
          mark: [
            { id: 'e', status: 'FAILED_FINISHING' },
            { id: 'e:y', status: 'CANCELLED' },
            { id: 'e', status: 'FAILED' },
            { id: 'b', status: 'CANCELLED' },
          ],
          flowStatus: 'FAILED',
        }),
      );
    });

    it('keeps a running sibling of the embedded flow going under finishCurrent and fails every level', () => {
      const run = new Run([embedded('outer', [embedded('inner', [node('x')]), node('z', ['inner'])]), node('side')]);
      assert.deepEqual(
        run.step(),
        decided({
          mark: [
            { id: 'outer', status: 'RUNNING' },
            { id: 'outer:inner', status: 'RUNNING' },
          ],
          start: ['outer:inner:x', 'side'],
        }),
      );
      assert.deepEqual(
        run.end('outer:inner:x', 'FAILED'),
        decided({
          mark: [
            { id: 'outer', status: 'FAILED_FINISHING' },
            { id: 'outer:inner', status: 'FAILED_FINISHING' },
            { id: 'outer:inner', status: 'FAILED' },
            { id: 'outer:z', status: 'CANCELLED' },
            { id: 'outer', status: 'FAILED' },
          ],
          flowStatus: 'FAILED_FINISHING',
        }),
      );
      assert.deepEqual(run.end('side', 'SUCCEEDED'), decided({ flowStatus: 'FAILED' }));
    });

    it('cancels an embedded flow that was never reached together with all its nodes', () => {
      const run = nested();
      run.step();
      assert.deepEqual(
        run.end('a', 'FAILED'),
        decided({
          mark: [
            { id: 'e:x', status: 'CANCELLED' },
            { id: 'e:y', status: 'CANCELLED' },
            { id: 'e', status: 'CANCELLED' },
            { id: 'b', status: 'CANCELLED' },
          ],
          flowStatus: 'FAILED',
        }),
      );
    });

    it('skips a disabled embedded flow with its nodes, and its children run', () => {
      const run = new Run([embedded('e', [node('x')]), node('b', ['e'])], { disabled: ['e'] });
      assert.deepEqual(
        run.step(),
        decided({
          mark: [
            { id: 'e:x', status: 'SKIPPED' },
            { id: 'e', status: 'SKIPPED' },
          ],
          start: ['b'],
        }),
      );
    });

    it('skips a disabled job inside an embedded flow by its nested id', () => {
      const run = new Run([embedded('e', [node('x'), node('y', ['x'])])], { disabled: ['e:x'] });
      assert.deepEqual(
        run.step(),
        decided({
          mark: [
            { id: 'e', status: 'RUNNING' },
            { id: 'e:x', status: 'SKIPPED' },
          ],
          start: ['e:y'],
        }),
      );
    });
  });

  describe('disabled jobs', () => {
    it('are SKIPPED when reached and count as succeeded for their children', () => {
      const run = new Run([node('a'), node('b', ['a']), node('c', ['b'])], { disabled: ['b'] });
      assert.deepEqual(run.step(), decided({ start: ['a'] }));
      assert.deepEqual(run.end('a', 'SUCCEEDED'), decided({ mark: [{ id: 'b', status: 'SKIPPED' }], start: ['c'] }));
      assert.deepEqual(run.end('c', 'SUCCEEDED'), decided({ flowStatus: 'SUCCEEDED' }));
    });

    it('are SKIPPED even after a failed parent, as in Azkaban', () => {
      const run = new Run([node('a'), node('b', ['a']), node('c', ['b'])], { disabled: ['b'] });
      run.step();
      assert.deepEqual(
        run.end('a', 'FAILED'),
        decided({
          mark: [
            { id: 'b', status: 'SKIPPED' },
            { id: 'c', status: 'CANCELLED' },
          ],
          flowStatus: 'FAILED',
        }),
      );
    });

    it('lets a flow of only disabled jobs succeed at once', () => {
      const run = new Run([node('a'), node('b', ['a'])], { disabled: ['a', 'b'] });
      assert.deepEqual(
        run.step(),
        decided({
          mark: [
            { id: 'a', status: 'SKIPPED' },
            { id: 'b', status: 'SKIPPED' },
          ],
          flowStatus: 'SUCCEEDED',
        }),
      );
    });
  });

  describe('failure actions (a fails while b runs; c after a, d after b)', () => {
    const twoBranches = (failureAction: FailureAction): Run => {
      const run = new Run([node('a'), node('b'), node('c', ['a']), node('d', ['b'])], { failureAction });
      assert.deepEqual(run.step(), decided({ start: ['a', 'b'] }));
      return run;
    };

    it('finishCurrent lets b end and cancels everything not started', () => {
      const run = twoBranches('finishCurrent');
      assert.deepEqual(run.end('a', 'FAILED'), decided({ mark: [{ id: 'c', status: 'CANCELLED' }], flowStatus: 'FAILED_FINISHING' }));
      assert.deepEqual(run.end('b', 'SUCCEEDED'), decided({ mark: [{ id: 'd', status: 'CANCELLED' }], flowStatus: 'FAILED' }));
    });

    it('finishPossible keeps starting what its conditions allow', () => {
      const run = twoBranches('finishPossible');
      assert.deepEqual(run.end('a', 'FAILED'), decided({ mark: [{ id: 'c', status: 'CANCELLED' }], flowStatus: 'FAILED_FINISHING' }));
      assert.deepEqual(run.end('b', 'SUCCEEDED'), decided({ start: ['d'], flowStatus: 'FAILED_FINISHING' }));
      assert.deepEqual(run.end('d', 'SUCCEEDED'), decided({ flowStatus: 'FAILED' }));
    });

    it('cancelImmediately kills b, cancels the rest and ends KILLED', () => {
      const run = twoBranches('cancelImmediately');
      assert.deepEqual(run.end('a', 'FAILED'), decided({ kill: ['b'], mark: [{ id: 'c', status: 'CANCELLED' }], flowStatus: 'KILLING' }));
      assert.deepEqual(run.decide(), decided({ flowStatus: 'KILLING' }));
      assert.deepEqual(run.end('b', 'KILLED'), decided({ mark: [{ id: 'd', status: 'CANCELLED' }], flowStatus: 'KILLED' }));
    });
  });

  describe('cancel', () => {
    it('kills running jobs, cancels the rest once reached, and ends KILLED', () => {
      const run = new Run([node('a'), node('b'), node('c', ['a', 'b']), embedded('e', [node('x')], ['c'])]);
      run.step();
      run.end('b', 'SUCCEEDED');
      run.cancelRequested = true;
      assert.deepEqual(run.step(), decided({ kill: ['a'], flowStatus: 'KILLING' }));
      assert.deepEqual(
        run.end('a', 'KILLED'),
        decided({
          mark: [
            { id: 'c', status: 'CANCELLED' },
            { id: 'e:x', status: 'CANCELLED' },
            { id: 'e', status: 'CANCELLED' },
          ],
          flowStatus: 'KILLED',
        }),
      );
    });

    it('kills the jobs of a running embedded flow, which ends KILLED', () => {
      const run = new Run([embedded('e', [node('x'), node('y', ['x'])])]);
      run.step();
      run.cancelRequested = true;
      assert.deepEqual(run.step(), decided({ kill: ['e:x'], flowStatus: 'KILLING' }));
      assert.deepEqual(
        run.end('e:x', 'KILLED'),
        decided({
          mark: [
            { id: 'e:y', status: 'CANCELLED' },
            { id: 'e', status: 'KILLED' },
          ],
          flowStatus: 'KILLED',
        }),
      );
    });

    it('before anything ran, cancels every node and ends KILLED', () => {
      const run = new Run([node('a'), node('b', ['a'])], { cancelRequested: true });
      assert.deepEqual(
        run.step(),
        decided({
          mark: [
            { id: 'a', status: 'CANCELLED' },
            { id: 'b', status: 'CANCELLED' },
          ],
          flowStatus: 'KILLED',
        }),
      );
    });

    it('of a failing flow moves it from FAILED_FINISHING to KILLING and ends KILLED', () => {
      const run = new Run([node('a'), node('b')]);
      run.step();
      assert.deepEqual(run.end('a', 'FAILED'), decided({ flowStatus: 'FAILED_FINISHING' }));
      run.cancelRequested = true;
      assert.deepEqual(run.step(), decided({ kill: ['b'], flowStatus: 'KILLING' }));
      assert.deepEqual(run.end('b', 'KILLED'), decided({ flowStatus: 'KILLED' }));
    });
  });

  describe('conditions on parent statuses', () => {
    it('runs an all_done child after a failure, which is then handled, and the flow succeeds', () => {
      const run = new Run([node('a'), node('cleanup', ['a'], { condition: 'all_done' })]);
      run.step();
      assert.deepEqual(run.end('a', 'FAILED'), decided({ start: ['cleanup'] }));
      assert.deepEqual(run.end('cleanup', 'SUCCEEDED'), decided({ flowStatus: 'SUCCEEDED' }));
    });

    it('runs a one_failed child only when a parent failed', () => {
      const run = new Run([node('a'), node('b'), node('alert', ['a', 'b'], { condition: 'one_failed' })]);
      run.step();
      run.end('a', 'SUCCEEDED');
      assert.deepEqual(run.end('b', 'FAILED'), decided({ start: ['alert'] }));
    });

    it('cancels a one_success child whose parents all failed; that cancelled end job makes the flow KILLED', () => {
      const run = new Run([node('a'), node('b', ['a'], { condition: 'one_success' })]);
      run.step();
      assert.deepEqual(run.end('a', 'FAILED'), decided({ mark: [{ id: 'b', status: 'CANCELLED' }], flowStatus: 'KILLED' }));
    });

    it('cancels an all_failed child when a parent succeeded', () => {
      const run = new Run([node('a'), node('b', ['a'], { condition: 'all_failed' })]);
      run.step();
      assert.deepEqual(run.end('a', 'SUCCEEDED'), decided({ mark: [{ id: 'b', status: 'CANCELLED' }], flowStatus: 'KILLED' }));
    });

    it('fails the flow when one child of the failed job keeps all_success; finishCurrent then cancels even the all_done child', () => {
      const run = new Run([node('a'), node('b', ['a'], { condition: 'all_done' }), node('c', ['a'])]);
      run.step();
      assert.deepEqual(
        run.end('a', 'FAILED'),
        decided({
          mark: [
            { id: 'b', status: 'CANCELLED' },
            { id: 'c', status: 'CANCELLED' },
          ],
          flowStatus: 'FAILED',
        }),
      );
    });

    it('under finishPossible still runs the all_done child of a failure that fails the flow', () => {
      const run = new Run([node('a'), node('b', ['a'], { condition: 'all_done' }), node('c', ['a'])], { failureAction: 'finishPossible' });
      run.step();
      assert.deepEqual(
        run.end('a', 'FAILED'),
        decided({ start: ['b'], mark: [{ id: 'c', status: 'CANCELLED' }], flowStatus: 'FAILED_FINISHING' }),
      );
      assert.deepEqual(run.end('b', 'SUCCEEDED'), decided({ flowStatus: 'FAILED' }));
    });
  });
});
