import assert from 'node:assert/strict';
import type { ParsedProject } from '../../../common/dsl/model.js';
import { assertOneFlowProblem, caissonErrorOf, flowProblems, parseProject, PROJECT_FILE, yamlLines } from './dsl-helpers.js';

describe('Flow 2.0 flow files', () => {
  describe('valid flows', () => {
    it('parse to plain data: flow config, nodes in declaration order, embedded flows nested', () => {
      const parsed = parseProject({
        'basic.flow': yamlLines(
          '---',
          'config:',
          '  user.to.proxy: foo',
          '  failure.emails: noreply@foo.com',
          'nodes:',
          '  - name: jobC',
          '    type: noop',
          '    dependsOn:',
          '      - jobA',
          '      - embedded_flow',
          '  - name: jobA',
          '    type: command',
          '    config:',
          '      command: echo "This is an echoed text."',
          '  - name: embedded_flow',
          '    type: flow',
          '    condition: all_done',
          '    config:',
          '      prop: value',
          '    nodes:',
          '      - name: jobB',
          '        type: noop',
          '        dependsOn: [jobA]',
          '      - name: jobA',
          '        type: command',
          '        config:',
          '          command: pwd',
        ),
      });
      const expected: ParsedProject = {
        format: '2.0',
        projectFile: PROJECT_FILE,
        flows: [
          {
            name: 'basic',
            file: 'basic.flow',
            format: '2.0',
            config: { 'user.to.proxy': 'foo', 'failure.emails': 'noreply@foo.com' },
            nodes: [
              { name: 'jobC', type: 'noop', dependsOn: ['jobA', 'embedded_flow'], config: {} },
              { name: 'jobA', type: 'command', dependsOn: [], config: { command: 'echo "This is an echoed text."' } },
              {
                name: 'embedded_flow',
                type: 'flow',
                dependsOn: [],
                config: { prop: 'value' },
                condition: 'all_done',
                nodes: [
                  { name: 'jobB', type: 'noop', dependsOn: ['jobA'], config: {} },
                  { name: 'jobA', type: 'command', dependsOn: [], config: { command: 'pwd' } },
                ],
              },
            ],
          },
        ],
      };
      assert.deepEqual(parsed, expected);
      assert.doesNotThrow(() => JSON.stringify(parsed));
      assert.deepEqual(JSON.parse(JSON.stringify(parsed)), expected);
    });

    it('keep config numbers and booleans as written and turn an empty value into ""', () => {
      const parsed = parseProject({
        'basic.flow': yamlLines(
          'nodes:',
          '  - name: 1',
          '    type: command',
          '    config:',
          '      retries: 3',
          '      ratio: 1.0',
          '      mask: 0x1F',
          '      enabled: true',
          '      quoted: "007"',
          '      empty:',
          '      tilde: ~',
          '      2: two',
        ),
      });
      assert.deepEqual(parsed.flows[0]?.nodes[0], {
        name: '1',
        type: 'command',
        dependsOn: [],
        config: { retries: '3', ratio: '1.0', mask: '0x1F', enabled: 'true', quoted: '007', empty: '', tilde: '', 2: 'two' },
      });
    });

    it('keep a config key named __proto__ as an ordinary key', () => {
      const parsed = parseProject({ 'basic.flow': yamlLines('config:', '  __proto__: x', 'nodes:', '  - {name: a, type: noop}') });
      const config = parsed.flows[0]?.config ?? {};
      assert.equal(Object.getPrototypeOf(config), Object.prototype);
      assert.deepEqual(Object.entries(config), [['__proto__', 'x']]);
    });

    it('resolve anchors and aliases to the values they name', () => {
      const parsed = parseProject({
        'basic.flow': yamlLines(
          'nodes:',
          '  - name: a',
          '    type: command',
          '    config: &common {retries: 2, user.to.proxy: etl}',
          '  - name: b',
          '    type: command',
          '    config: *common',
        ),
      });
      assert.deepEqual(parsed.flows[0]?.nodes[1]?.config, { retries: '2', 'user.to.proxy': 'etl' });
    });

    it('drop a repeated dependency, as Azkaban keeps one edge for it', () => {
      const parsed = parseProject({
        'basic.flow': yamlLines('nodes:', '  - {name: a, type: noop}', '  - {name: b, type: noop, dependsOn: [a, a]}'),
      });
      assert.deepEqual(parsed.flows[0]?.nodes[1]?.dependsOn, ['a']);
    });

    it('allow the same node name on different levels', () => {
      const parsed = parseProject({
        'basic.flow': yamlLines('nodes:', '  - name: a', '    type: flow', '    nodes:', '      - {name: a, type: noop}'),
      });
      assert.equal(parsed.flows[0]?.nodes[0]?.nodes?.[0]?.name, 'a');
    });

    it('read files with a byte-order mark and Windows line endings, locating problems the same way', () => {
      const text = '\ufeffnodes:\r\n  - name: a\r\n    type: command\r\n    config:\r\n      command: echo hi\r\n';
      assert.deepEqual(parseProject({ 'basic.flow': text }).flows[0]?.nodes, [
        { name: 'a', type: 'command', dependsOn: [], config: { command: 'echo hi' } },
      ]);
      assertOneFlowProblem(text.replace('type: command', 'type: ""'), '"type" of node "a" must not be empty', 3, 11);
    });

    it('parse a 5,000-node dependency chain', () => {
      const lines = ['nodes:'];
      for (let i = 0; i < 5000; i += 1) lines.push(`  - {name: job${i}, type: noop${i === 0 ? '' : `, dependsOn: [job${i - 1}]`}}`);
      const parsed = parseProject({ 'chain.flow': yamlLines(...lines) });
      const nodes = parsed.flows[0]?.nodes ?? [];
      assert.equal(nodes.length, 5000);
      assert.deepEqual(nodes[4999]?.dependsOn, ['job4998']);
    });
  });

  describe('the flow document', () => {
    it('reports YAML errors of a flow file with its path, line and column', () => {
      const error = caissonErrorOf(() =>
        parseProject({ 'sub/basic.flow': yamlLines('nodes:', '  - name: a', '    type: noop', '    name: b', '---', 'nodes: []') }),
      );
      assert.equal(error.code, 'INVALID_FLOW_YAML');
      assert.deepEqual(error.problems, [
        { message: 'duplicate key "name"', file: 'sub/basic.flow', line: 4, column: 5 },
        { message: 'a file must hold a single YAML document, but a second one starts here', file: 'sub/basic.flow', line: 5, column: 1 },
      ]);
    });

    it('refuses an alias bomb in a flow file', () => {
      const bomb = yamlLines(
        'a: &a [x, x, x, x, x, x, x, x, x]',
        'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
        'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
        'nodes: [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      );
      assert.deepEqual(flowProblems(bomb), [
        {
          message: 'anchors and aliases expand too much (more than 100 alias uses); a "billion laughs" document is refused',
          file: 'basic.flow',
        },
      ]);
    });

    it('refuses an empty flow file', () => {
      assertOneFlowProblem('# nothing yet\n', 'flow file is empty; expected a mapping with a "nodes" list');
    });

    it('refuses a flow file that is not a mapping', () => {
      assertOneFlowProblem(yamlLines('- name: a', '  type: noop'), 'a flow file must be a mapping with a "nodes" list, found a list', 1, 1);
    });

    it('refuses an unknown top-level key, naming the allowed ones', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - {name: a, type: noop}', 'schedule: daily'),
        'unknown key "schedule" in flow "basic"; allowed keys: config, nodes',
        3,
        1,
      );
    });

    it('refuses flow triggers', () => {
      assertOneFlowProblem(
        yamlLines('trigger:', '  maxWaitMins: 5', 'nodes:', '  - {name: a, type: noop}'),
        'flow triggers ("trigger") are not supported',
        1,
        1,
      );
    });

    it('refuses a flow without nodes', () => {
      assertOneFlowProblem(yamlLines('config:', '  a: b'), 'flow "basic" is missing "nodes"', 1, 1);
    });

    it('refuses nodes that are not a list', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  name: a', '  type: noop'),
        '"nodes" of flow "basic" must be a list, found a mapping',
        2,
        3,
      );
    });

    it('refuses an empty nodes list', () => {
      assertOneFlowProblem('nodes: []\n', '"nodes" of flow "basic" must not be empty', 1, 8);
    });

    it('refuses nodes without a value, pointing at the key', () => {
      assertOneFlowProblem('nodes:\n', '"nodes" of flow "basic" must not be empty', 1, 1);
    });

    it('refuses a flow config that is not a mapping', () => {
      assertOneFlowProblem(
        yamlLines('config: [a, b]', 'nodes:', '  - {name: a, type: noop}'),
        '"config" of flow "basic" must be a mapping, found a list',
        1,
        9,
      );
    });

    it('refuses a nested value in the flow config', () => {
      assertOneFlowProblem(
        yamlLines('config:', '  param:', '    nested: 1', 'nodes:', '  - {name: a, type: noop}'),
        'config value "param" of flow "basic" must be a string, number or boolean, found a mapping',
        3,
        5,
      );
    });
  });

  describe('nodes', () => {
    it('refuses an entry that is not a mapping', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - jobA'),
        'each entry of "nodes" must be a mapping with "name" and "type", found a string',
        2,
        5,
      );
    });

    it('refuses a node without a name', () => {
      assertOneFlowProblem(yamlLines('nodes:', '  - type: noop'), 'a node is missing "name"', 2, 5);
    });

    it('refuses a node name that is not a string', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: [a]', '    type: noop'),
        '"name" of a node must be a string, found a list',
        2,
        11,
      );
    });

    it('refuses an empty node name', () => {
      assertOneFlowProblem(yamlLines('nodes:', '  - name: ""', '    type: noop'), 'node name must not be empty', 2, 11);
      assertOneFlowProblem(yamlLines('nodes:', '  - name:', '    type: noop'), 'node name must not be empty', 2, 5);
    });

    it('refuses an invalid node name, saying why', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: load/users', '    type: noop'),
        `node name "load/users" must not contain '/'`,
        2,
        11,
      );
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: "a:b"', '    type: noop'),
        `node name "a:b" must not contain ':' (it joins embedded flow names, as in outer:inner)`,
        2,
        11,
      );
    });

    it('refuses a node without a type', () => {
      assertOneFlowProblem(yamlLines('nodes:', '  - name: jobA'), 'node "jobA" is missing "type"', 2, 5);
    });

    it('refuses an empty type', () => {
      assertOneFlowProblem(yamlLines('nodes:', '  - name: jobA', '    type: ""'), '"type" of node "jobA" must not be empty', 3, 11);
      assertOneFlowProblem(yamlLines('nodes:', '  - name: jobA', '    type:'), '"type" of node "jobA" must not be empty', 3, 5);
    });

    it('refuses a type that is not a string', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: jobA', '    type: {x: 1}'),
        '"type" of node "jobA" must be a string, found a mapping',
        3,
        11,
      );
    });

    it('refuses an unknown node key, naming the allowed ones', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: jobA', '    type: noop', '    retries: 3'),
        'unknown key "retries" in node "jobA"; allowed keys: name, type, dependsOn, config, condition, nodes',
        4,
        5,
      );
    });

    it('refuses a nested value in a node config', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: jobA', '    type: command', '    config:', '      command: [echo, hi]'),
        'config value "command" of node "jobA" must be a string, number or boolean, found a list',
        5,
        16,
      );
    });

    it('refuses a node config that is not a mapping', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: jobA', '    type: command', '    config: echo hi'),
        '"config" of node "jobA" must be a mapping, found a string',
        4,
        13,
      );
    });

    it('refuses a config key given twice once as a number and once as a string', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: jobA', '    type: noop', '    config:', '      1: a', '      "1": b'),
        'config key "1" of node "jobA" is given twice',
        6,
        7,
      );
    });

    it('refuses a condition that is not a string', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: jobA', '    type: noop', '    condition: [all_done]'),
        '"condition" of node "jobA" must be a string, found a list',
        4,
        16,
      );
    });

    it('refuses nodes on a node whose type is not flow', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: jobA', '    type: command', '    nodes:', '      - {name: b, type: noop}'),
        '"nodes" is only allowed on nodes of type flow, but node "jobA" has type "command"',
        4,
        5,
      );
    });

    it('refuses an embedded flow without nodes', () => {
      assertOneFlowProblem(yamlLines('nodes:', '  - name: sub', '    type: flow'), 'embedded flow "sub" is missing "nodes"', 2, 5);
    });

    it('refuses an embedded flow with an empty nodes list', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: sub', '    type: flow', '    nodes: []'),
        '"nodes" of embedded flow "sub" must not be empty',
        4,
        12,
      );
    });

    it('names nodes inside embedded flows by their nested id', () => {
      assertOneFlowProblem(
        yamlLines(
          'nodes:',
          '  - name: outer',
          '    type: flow',
          '    nodes:',
          '      - name: inner',
          '        type: flow',
          '        nodes:',
          '          - name: leaf',
        ),
        'node "outer:inner:leaf" is missing "type"',
        8,
        13,
      );
    });
  });

  describe('dependencies', () => {
    it('refuses dependsOn that is not a list', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - {name: a, type: noop}', '  - name: b', '    type: noop', '    dependsOn: a'),
        '"dependsOn" of node "b" must be a list of node names, found a string',
        5,
        16,
      );
    });

    it('refuses a dependsOn entry that is not a name', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - {name: a, type: noop}', '  - name: b', '    type: noop', '    dependsOn:', '      - {name: a}'),
        'each entry of "dependsOn" of node "b" must be a node name, found a mapping',
        6,
        9,
      );
    });

    it('refuses a dependency on a node that does not exist', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: b', '    type: noop', '    dependsOn: [a]'),
        'node "b" depends on "a", which is not a node of flow "basic"',
        4,
        17,
      );
    });

    it('refuses a dependency on a node of another level', () => {
      assertOneFlowProblem(
        yamlLines(
          'nodes:',
          '  - {name: top, type: noop}',
          '  - name: sub',
          '    type: flow',
          '    nodes:',
          '      - {name: inner, type: noop, dependsOn: [top]}',
        ),
        'node "sub:inner" depends on "top", which is not a node of embedded flow "sub"',
        6,
        47,
      );
    });

    it('refuses a node that depends on itself', () => {
      assertOneFlowProblem(yamlLines('nodes:', '  - name: a', '    type: noop', '    dependsOn: [a]'), 'node "a" depends on itself', 4, 17);
    });

    it('refuses a duplicate node name on one level, saying where it was first defined', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - name: a', '    type: noop', '  - name: a', '    type: command'),
        'duplicate node name "a" in flow "basic"; it is first defined on line 2',
        4,
        11,
      );
    });

    it('refuses a duplicate node name inside an embedded flow', () => {
      assertOneFlowProblem(
        yamlLines(
          'nodes:',
          '  - name: sub',
          '    type: flow',
          '    nodes:',
          '      - {name: x, type: noop}',
          '      - {name: x, type: noop}',
        ),
        'duplicate node name "x" in embedded flow "sub"; it is first defined on line 5',
        6,
        16,
      );
    });

    it('refuses a cycle of two, printing it from the first-declared node', () => {
      assertOneFlowProblem(
        yamlLines('nodes:', '  - {name: a, type: noop, dependsOn: [b]}', '  - {name: b, type: noop, dependsOn: [a]}'),
        'dependency cycle: a -> b -> a',
        2,
        12,
      );
    });

    it('refuses a cycle of three, printing it in running order', () => {
      // a runs after c, b after a, c after b.
      assertOneFlowProblem(
        yamlLines(
          'nodes:',
          '  - {name: start, type: noop}',
          '  - {name: a, type: noop, dependsOn: [start, c]}',
          '  - {name: b, type: noop, dependsOn: [a]}',
          '  - {name: c, type: noop, dependsOn: [b]}',
        ),
        'dependency cycle: a -> b -> c -> a',
        3,
        12,
      );
    });

    it('prints the same cycle however the nodes are ordered, starting at the first-declared one', () => {
      const message = (order: string[]) => {
        const defs: Record<string, string> = { a: '[c]', b: '[a]', c: '[b]' };
        return flowProblems(yamlLines('nodes:', ...order.map((n) => `  - {name: ${n}, type: noop, dependsOn: ${defs[n]}}`)))[0]?.message;
      };
      assert.equal(message(['a', 'b', 'c']), 'dependency cycle: a -> b -> c -> a');
      assert.equal(message(['b', 'c', 'a']), 'dependency cycle: b -> c -> a -> b');
      assert.equal(message(['c', 'a', 'b']), 'dependency cycle: c -> a -> b -> c');
      assert.equal(message(['c', 'b', 'a']), 'dependency cycle: c -> a -> b -> c');
    });

    it('prints a cycle inside an embedded flow with nested ids', () => {
      assertOneFlowProblem(
        yamlLines(
          'nodes:',
          '  - name: sub',
          '    type: flow',
          '    nodes:',
          '      - {name: p, type: noop, dependsOn: [q]}',
          '      - {name: q, type: noop, dependsOn: [p]}',
        ),
        'dependency cycle: sub:p -> sub:q -> sub:p',
        5,
        16,
      );
    });

    it('reports each separate cycle once', () => {
      const problems = flowProblems(
        yamlLines(
          'nodes:',
          '  - {name: a, type: noop, dependsOn: [b]}',
          '  - {name: b, type: noop, dependsOn: [a]}',
          '  - {name: x, type: noop, dependsOn: [y]}',
          '  - {name: y, type: noop, dependsOn: [x]}',
        ),
      );
      assert.deepEqual(
        problems.map((p) => [p.message, p.line]),
        [
          ['dependency cycle: a -> b -> a', 2],
          ['dependency cycle: x -> y -> x', 4],
        ],
      );
    });

    it('finds a cycle closing a 5,000-node chain', () => {
      const lines = ['nodes:'];
      for (let i = 0; i < 5000; i += 1) lines.push(`  - {name: job${i}, type: noop, dependsOn: [job${(i + 4999) % 5000}]}`);
      const problems = flowProblems(yamlLines(...lines));
      assert.equal(problems.length, 1);
      assert.equal(problems[0]?.message.slice(0, 46), 'dependency cycle: job0 -> job1 -> job2 -> job3');
      assert.ok(problems[0]?.message.endsWith('job4998 -> job4999 -> job0'));
    });
  });

  it('reports every problem of a flow file in line order', () => {
    const problems = flowProblems(
      yamlLines(
        'nodes:',
        '  - name: a',
        '    type: noop',
        '    dependsOn: [ghost]',
        '    colour: red',
        '  - name: a',
        '    type: noop',
        '  - type: noop',
        'extra: 1',
      ),
    );
    assert.deepEqual(problems, [
      { message: 'node "a" depends on "ghost", which is not a node of flow "basic"', file: 'basic.flow', line: 4, column: 17 },
      {
        message: 'unknown key "colour" in node "a"; allowed keys: name, type, dependsOn, config, condition, nodes',
        file: 'basic.flow',
        line: 5,
        column: 5,
      },
      { message: 'duplicate node name "a" in flow "basic"; it is first defined on line 2', file: 'basic.flow', line: 6, column: 11 },
      { message: 'a node is missing "name"', file: 'basic.flow', line: 8, column: 5 },
      { message: 'unknown key "extra" in flow "basic"; allowed keys: config, nodes', file: 'basic.flow', line: 9, column: 1 },
    ]);
  });
});
