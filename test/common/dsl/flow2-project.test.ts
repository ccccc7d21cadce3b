import assert from 'node:assert/strict';
import { parseFlow2Project } from '../../../common/dsl/flow2.js';
import { caissonErrorOf, yamlLines } from './dsl-helpers.js';

const FLOW = yamlLines('nodes:', '  - name: jobA', '    type: noop');

function parse(files: Record<string, string>) {
  return parseFlow2Project(new Map(Object.entries(files)));
}

function projectError(files: Record<string, string>) {
  return caissonErrorOf(() => parse(files));
}

describe('Flow 2.0 project structure', () => {
  it('accepts azkaban-flow-version 2.0 written as a number or as the string "2.0"', () => {
    for (const version of ['2.0', '"2.0"', "'2.0'"]) {
      const parsed = parse({ 'p.project': `azkaban-flow-version: ${version}\n`, 'basic.flow': FLOW });
      assert.equal(parsed.projectFile, 'p.project');
      assert.deepEqual(
        parsed.flows.map((f) => f.name),
        ['basic'],
      );
    }
  });

  it('ignores other keys of the .project file, as Azkaban does', () => {
    const parsed = parse({ 'p.project': yamlLines('azkaban-flow-version: 2.0', 'description: nightly jobs'), 'basic.flow': FLOW });
    assert.equal(parsed.flows.length, 1);
  });

  it('reads .flow files from every folder, sorts flows by name and ignores other files', () => {
    const parsed = parse({
      'p.project': 'azkaban-flow-version: 2.0\n',
      'zeta.flow': FLOW,
      'sub/dir/alpha.flow': FLOW,
      'README.md': '# not yaml: [',
      'scripts/run.sh': 'echo hi',
      '.project': '<?xml version="1.0"?>',
      '__MACOSX/._zeta.flow': 'binary junk',
    });
    assert.deepEqual(
      parsed.flows.map((f) => [f.name, f.file]),
      [
        ['alpha', 'sub/dir/alpha.flow'],
        ['zeta', 'zeta.flow'],
      ],
    );
  });

  it('refuses an archive without a .project file', () => {
    const error = projectError({ 'basic.flow': FLOW });
    const message = 'no .project file at the archive root; a Flow 2.0 project needs one containing azkaban-flow-version: 2.0';
    assert.equal(error.code, 'INVALID_PROJECT');
    assert.equal(error.message, message);
    assert.deepEqual(error.problems, [{ message }]);
  });

  it('refuses a .project file that is only in a folder, naming it', () => {
    const error = projectError({ 'sub/p.project': 'azkaban-flow-version: 2.0\n', 'basic.flow': FLOW });
    assert.equal(error.code, 'INVALID_PROJECT');
    assert.deepEqual(error.problems, [
      {
        message:
          'no .project file at the archive root; a Flow 2.0 project needs one containing azkaban-flow-version: 2.0 (found sub/p.project in a folder; move it to the root)',
      },
    ]);
  });

  it('refuses two .project files at the root', () => {
    const error = projectError({
      'b.project': 'azkaban-flow-version: 2.0\n',
      'a.project': 'azkaban-flow-version: 2.0\n',
      'basic.flow': FLOW,
    });
    assert.equal(error.code, 'INVALID_PROJECT');
    assert.deepEqual(error.problems, [
      { message: 'more than one .project file at the archive root (a.project, b.project); exactly one is allowed' },
    ]);
  });

  it('refuses another azkaban-flow-version, naming the value as written and the one expected', () => {
    const error = projectError({ 'p.project': yamlLines('# project', 'azkaban-flow-version: 1.0'), 'basic.flow': FLOW });
    assert.equal(error.code, 'INVALID_PROJECT');
    assert.equal(error.message, 'p.project:2:23: unsupported azkaban-flow-version 1.0; expected 2.0');
    assert.deepEqual(error.problems, [
      { message: 'unsupported azkaban-flow-version 1.0; expected 2.0', file: 'p.project', line: 2, column: 23 },
    ]);
  });

  it('shows a quoted version with its quotes', () => {
    const error = projectError({ 'p.project': 'azkaban-flow-version: "3"  # newest\n', 'basic.flow': FLOW });
    assert.deepEqual(error.problems, [
      { message: 'unsupported azkaban-flow-version "3"; expected 2.0', file: 'p.project', line: 1, column: 23 },
    ]);
  });

  it('refuses a .project file without azkaban-flow-version', () => {
    const error = projectError({ 'p.project': 'name: mine\n', 'basic.flow': FLOW });
    assert.deepEqual(error.problems, [
      {
        message: 'azkaban-flow-version is missing; a Flow 2.0 project declares azkaban-flow-version: 2.0',
        file: 'p.project',
        line: 1,
        column: 1,
      },
    ]);
  });

  it('refuses azkaban-flow-version without a value', () => {
    const error = projectError({ 'p.project': 'azkaban-flow-version:\n', 'basic.flow': FLOW });
    assert.deepEqual(error.problems, [
      { message: 'azkaban-flow-version has no value; expected 2.0', file: 'p.project', line: 1, column: 1 },
    ]);
  });

  it('refuses azkaban-flow-version given as a list', () => {
    const error = projectError({ 'p.project': 'azkaban-flow-version: [2.0]\n', 'basic.flow': FLOW });
    assert.deepEqual(error.problems, [
      { message: 'azkaban-flow-version must be 2.0, found a list', file: 'p.project', line: 1, column: 23 },
    ]);
  });

  it('refuses an empty .project file', () => {
    const error = projectError({ 'p.project': '', 'basic.flow': FLOW });
    assert.deepEqual(error.problems, [{ message: '.project file is empty; it must contain azkaban-flow-version: 2.0', file: 'p.project' }]);
  });

  it('refuses a .project file that is not a mapping', () => {
    const error = projectError({ 'p.project': '- azkaban-flow-version: 2.0\n', 'basic.flow': FLOW });
    assert.deepEqual(error.problems, [
      { message: 'a .project file must be a mapping containing azkaban-flow-version: 2.0', file: 'p.project', line: 1, column: 1 },
    ]);
  });

  it('reports YAML errors of the .project file as project problems', () => {
    const error = projectError({ 'p.project': yamlLines('azkaban-flow-version: 2.0', 'azkaban-flow-version: 2.0'), 'basic.flow': FLOW });
    assert.equal(error.code, 'INVALID_PROJECT');
    assert.deepEqual(error.problems, [{ message: 'duplicate key "azkaban-flow-version"', file: 'p.project', line: 2, column: 1 }]);
  });

  it('refuses a project without .flow files', () => {
    const error = projectError({ 'p.project': 'azkaban-flow-version: 2.0\n', 'basic.job': 'type=noop\n' });
    assert.equal(error.code, 'INVALID_PROJECT');
    assert.deepEqual(error.problems, [{ message: 'no .flow files in the project; a Flow 2.0 project needs at least one' }]);
  });

  it('refuses two .flow files with the same base name, naming both files', () => {
    const error = projectError({
      'p.project': 'azkaban-flow-version: 2.0\n',
      'b/basic.flow': FLOW,
      'a/basic.flow': FLOW,
      'basic.flow': FLOW,
    });
    assert.equal(error.code, 'INVALID_PROJECT');
    assert.deepEqual(error.problems, [
      { message: 'flow "basic" is already defined by a/basic.flow', file: 'b/basic.flow' },
      { message: 'flow "basic" is already defined by a/basic.flow', file: 'basic.flow' },
    ]);
  });

  it('refuses a flow file whose name is not a valid flow name', () => {
    const error = projectError({ 'p.project': 'azkaban-flow-version: 2.0\n', 'a:b.flow': FLOW });
    assert.deepEqual(error.problems, [
      { message: `flow name "a:b" must not contain ':' (it joins embedded flow names, as in outer:inner)`, file: 'a:b.flow' },
    ]);
  });

  it('collects the problems of every file into one error: structure first, then flow contents by file and line', () => {
    const error = projectError({
      'p.project': 'azkaban-flow-version: 3\n',
      'z.flow': yamlLines('nodes:', '  - name: a', '    type: noop', '    dependsOn: [b]'),
      'a.flow': 'nodes: [\n',
      'dir/z.flow': FLOW,
    });
    assert.equal(error.code, 'INVALID_PROJECT');
    assert.equal(error.message, 'p.project:1:23: unsupported azkaban-flow-version 3; expected 2.0 (and 3 more problems)');
    assert.deepEqual(error.problems, [
      { message: 'unsupported azkaban-flow-version 3; expected 2.0', file: 'p.project', line: 1, column: 23 },
      { message: 'flow "z" is already defined by dir/z.flow', file: 'z.flow' },
      { message: 'Flow sequence in block collection must be sufficiently indented and end with a ]', file: 'a.flow', line: 2, column: 1 },
      { message: 'node "a" depends on "b", which is not a node of flow "z"', file: 'z.flow', line: 4, column: 17 },
    ]);
  });

  it('uses INVALID_FLOW_YAML when only flow contents are wrong', () => {
    const error = projectError({ 'p.project': 'azkaban-flow-version: 2.0\n', 'basic.flow': 'nodes: []\n', 'other.flow': 'nodes: {}\n' });
    assert.equal(error.code, 'INVALID_FLOW_YAML');
    assert.equal(error.message, 'basic.flow:1:8: "nodes" of flow "basic" must not be empty (and 1 more problem)');
  });
});
