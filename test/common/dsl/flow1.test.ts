import assert from 'node:assert/strict';
import type { Problem } from '../../../common/errors.js';
import { parseFlow1Project } from '../../../common/dsl/flow1.js';
import { parseJavaProperties } from '../../../common/dsl/java-properties.js';
import { caissonErrorOf } from './dsl-helpers.js';

const parse = (files: Record<string, string>) => parseFlow1Project(new Map(Object.entries(files)));

const problemsOf = (files: Record<string, string>): Problem[] => {
  const error = caissonErrorOf(() => parse(files));
  assert.equal(error.code, 'INVALID_PROJECT');
  return error.problems;
};

describe('Java properties files', () => {
  it('reads = : and space separators, comments, continuations and escapes, with the line of each entry', () => {
    const text = [
      '# comment',
      '! also a comment',
      'a=1',
      'b : two words ',
      'c three',
      '',
      'long = first \\',
      '   second',
      'esc=tab\\there\\u0041\\\\',
      'empty=',
    ].join('\n');
    assert.deepEqual(parseJavaProperties(text), [
      { key: 'a', value: '1', line: 3 },
      { key: 'b', value: 'two words ', line: 4 },
      { key: 'c', value: 'three', line: 5 },
      { key: 'long', value: 'first second', line: 7 },
      { key: 'esc', value: 'tab\there' + 'A\\', line: 9 },
      { key: 'empty', value: '', line: 10 },
    ]);
  });
});

describe('Flow 1.0 projects', () => {
  it('makes each job without dependents a flow of it and its ancestors, with inherited .properties', () => {
    const parsed = parse({
      'system.properties': 'owner=root\nlevel=root\n',
      'etl/etl.properties': 'level=etl\ntype=command\n',
      'etl/extract.job': 'command=echo ${owner} ${level}\n',
      'etl/load.job': 'type=command\ndependencies=extract\ncommand=echo load\n',
      'report.job': 'type=noop\ndependencies=load, extract\ncondition=all_done\n',
      'alone.job': 'type=noop\n',
    });
    assert.equal(parsed.format, '1.0');
    assert.deepEqual(
      parsed.flows.map((f) => [f.name, f.file, f.nodes.map((n) => n.name)]),
      [
        ['alone', 'alone.job', ['alone']],
        ['report', 'report.job', ['extract', 'load', 'report']],
      ],
    );
    const report = parsed.flows[1]!;
    assert.deepEqual(report.nodes[0], {
      name: 'extract',
      type: 'command',
      dependsOn: [],
      config: { command: 'echo ${owner} ${level}' },
      inherited: { owner: 'root', level: 'etl', type: 'command' },
    });
    assert.deepEqual(report.nodes[2], {
      name: 'report',
      type: 'noop',
      dependsOn: ['load', 'extract'],
      config: {},
      condition: 'all_done',
      inherited: { owner: 'root', level: 'root' },
    });
  });

  it('embeds a flow with type=flow and flow.name', () => {
    const parsed = parse({
      'inner.job': 'type=noop\n',
      'outer.job': 'type=flow\nflow.name=inner\nextra=1\n',
      'final.job': 'type=noop\ndependencies=outer\n',
    });
    const final = parsed.flows.find((f) => f.name === 'final');
    assert.deepEqual(final?.nodes, [
      { name: 'final', type: 'noop', dependsOn: ['outer'], config: {} },
      {
        name: 'outer',
        type: 'flow',
        dependsOn: [],
        config: { 'flow.name': 'inner', extra: '1' },
        nodes: [{ name: 'inner', type: 'noop', dependsOn: [], config: {} }],
      },
    ]);
  });

  it('reports a missing dependency, a job without type and a duplicate job, each located', () => {
    assert.deepEqual(
      problemsOf({
        'a.job': 'type=noop\n\ndependencies=a2,zz\n',
        'a2.job': 'command=echo\n',
        'sub/a.job': 'type=noop\n',
      }),
      [
        { message: 'job "a" depends on "zz", which is not a job of the project', file: 'a.job', line: 3 },
        { message: 'job "a2" has no type; set type=… in its .job file or a .properties file', file: 'a2.job' },
        { message: 'job "a" is already defined by a.job', file: 'sub/a.job' },
      ],
    );
  });

  it('reports a self-dependency and a cycle', () => {
    assert.deepEqual(problemsOf({ 'a.job': 'type=noop\ndependencies=a\n' }), [
      { message: 'job "a" depends on itself', file: 'a.job', line: 2 },
    ]);
    assert.deepEqual(
      problemsOf({ 'a.job': 'type=noop\ndependencies=b\n', 'b.job': 'type=noop\ndependencies=a\n', 'c.job': 'type=noop\n' }),
      [{ message: 'dependency cycle: a -> b -> a', file: 'a.job' }],
    );
  });

  it('validates conditions as Flow 2.0 does', () => {
    assert.deepEqual(problemsOf({ 'a.job': 'type=noop\n', 'b.job': 'type=noop\ndependencies=a\ncondition=all_done && one_failed\n' }), [
      {
        message:
          'invalid condition of job "b": a condition may use only one status macro, but "one_failed" follows "all_done" at character 13',
        file: 'b.job',
        line: 3,
      },
    ]);
    assert.deepEqual(
      problemsOf({ 'a.job': 'type=noop\n', 'c.job': 'type=noop\n', 'b.job': 'type=noop\ndependencies=a\ncondition=${c:x} == 1\n' }),
      [{ message: 'condition of job "b" refers to job "c", which job "b" does not depend on', file: 'b.job', line: 3 }],
    );
    assert.deepEqual(problemsOf({ 'b.job': 'type=noop\ncondition=${q:x} == 1\n' }), [
      { message: 'condition of job "b" refers to job "q", which is not a job of the project', file: 'b.job', line: 2 },
    ]);
  });

  it('reports a bad embedded flow: no flow.name, a job that is not a flow, a flow embedding itself', () => {
    assert.deepEqual(problemsOf({ 'e.job': 'type=flow\n' }), [
      { message: 'job "e" has type=flow but no flow.name', file: 'e.job', line: 1 },
    ]);
    assert.deepEqual(problemsOf({ 'a.job': 'type=noop\n', 'b.job': 'type=noop\ndependencies=a\n', 'e.job': 'type=flow\nflow.name=a\n' }), [
      {
        message: 'job "e" embeds flow "a", which is not a flow of the project (a flow is a job no other job depends on)',
        file: 'e.job',
        line: 2,
      },
    ]);
    assert.deepEqual(problemsOf({ 'a.job': 'type=noop\ndependencies=e\n', 'e.job': 'type=flow\nflow.name=a\n' }), [
      { message: 'flow "a" embeds itself: a -> a', file: 'e.job' },
    ]);
  });

  it('reports an invalid job name and an archive without jobs', () => {
    assert.deepEqual(problemsOf({ 'a:b.job': 'type=noop\n' }), [
      { message: 'job name "a:b" must not contain \':\' (it joins embedded flow names, as in outer:inner)', file: 'a:b.job' },
    ]);
    assert.deepEqual(problemsOf({ 'x.properties': 'a=1\n' }), [
      { message: 'no .job files in the project; a Flow 1.0 project needs at least one' },
    ]);
  });
});
