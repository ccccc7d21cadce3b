import assert from 'node:assert/strict';
import { MAX_ALIAS_COUNT, parseYamlDocument, readYaml } from '../../../common/dsl/safe-yaml.js';
import { caissonErrorOf, yamlLines } from './dsl-helpers.js';

function problemsOf(text: string): unknown {
  const result = readYaml(text, 'f.yaml');
  assert.equal(result.ok, false, 'expected problems');
  return result.ok ? [] : result.problems;
}

describe('safe YAML reading', () => {
  it('returns a single document as plain JavaScript, also after a leading ---', () => {
    assert.deepEqual(parseYamlDocument(yamlLines('---', 'a: 1', 'b: [x, "y"]', 'c: {d: true}'), 'f.yaml'), {
      a: 1,
      b: ['x', 'y'],
      c: { d: true },
    });
  });

  it('returns null for an empty or comment-only file', () => {
    assert.equal(parseYamlDocument('', 'f.yaml'), null);
    assert.equal(parseYamlDocument('# only a comment\n', 'f.yaml'), null);
  });

  it('throws one INVALID_FLOW_YAML error locating a syntax error by line and column', () => {
    const error = caissonErrorOf(() => parseYamlDocument(yamlLines('a: [1, 2', 'b: 3'), 'dir/f.yaml'));
    assert.equal(error.code, 'INVALID_FLOW_YAML');
    const message = 'Flow sequence in block collection must be sufficiently indented and end with a ]';
    assert.equal(error.message, `dir/f.yaml:2:1: ${message}`);
    assert.deepEqual(error.problems, [{ message, file: 'dir/f.yaml', line: 2, column: 1 }]);
  });

  it('refuses tabs used as indentation', () => {
    assert.deepEqual(problemsOf(yamlLines('a:', '\tb: 1')), [
      { message: 'Tabs are not allowed as indentation', file: 'f.yaml', line: 2, column: 1 },
    ]);
  });

  it('refuses a duplicate key, naming it at its second occurrence', () => {
    assert.deepEqual(problemsOf(yamlLines('a: 1', 'b: 2', 'a: 3')), [{ message: 'duplicate key "a"', file: 'f.yaml', line: 3, column: 1 }]);
  });

  it('refuses a duplicate key written once plain and once quoted', () => {
    assert.deepEqual(problemsOf(yamlLines('top:', '  key: 1', "  'key': 2")), [
      { message: 'duplicate key "key"', file: 'f.yaml', line: 3, column: 3 },
    ]);
  });

  it('refuses a second document, pointing at its start', () => {
    assert.deepEqual(problemsOf(yamlLines('a: 1', '---', 'b: 2')), [
      { message: 'a file must hold a single YAML document, but a second one starts here', file: 'f.yaml', line: 2, column: 1 },
    ]);
  });

  it('refuses a "billion laughs" alias bomb without expanding it', () => {
    const bomb = yamlLines(
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
    );
    assert.deepEqual(problemsOf(bomb), [
      {
        message: `anchors and aliases expand too much (more than ${MAX_ALIAS_COUNT} alias uses); a "billion laughs" document is refused`,
        file: 'f.yaml',
      },
    ]);
  });

  it('accepts a few anchors and aliases', () => {
    assert.deepEqual(parseYamlDocument(yamlLines('base: &base {retries: 2}', 'one: *base', 'two: *base'), 'f.yaml'), {
      base: { retries: 2 },
      one: { retries: 2 },
      two: { retries: 2 },
    });
  });

  it('refuses an alias whose anchor is not defined before it', () => {
    assert.deepEqual(problemsOf(yamlLines('a: *nowhere')), [
      { message: 'alias "*nowhere" has no anchor "&nowhere" before it', file: 'f.yaml', line: 1, column: 4 },
    ]);
  });

  it('refuses custom tags and non-core tags, pointing at the tag', () => {
    assert.deepEqual(problemsOf(yamlLines('a: !shell rm -rf', 'b: !!binary aGVsbG8=')), [
      { message: 'custom tag "!shell" is not allowed', file: 'f.yaml', line: 1, column: 4 },
      { message: 'custom tag "!!binary" is not allowed', file: 'f.yaml', line: 2, column: 4 },
    ]);
  });

  it('accepts the core tags such as !!str', () => {
    assert.deepEqual(parseYamlDocument(yamlLines('a: !!str 12', 'b: !!int "7"'), 'f.yaml'), { a: '12', b: 7 });
  });

  it('refuses a mapping or list used as a key', () => {
    assert.deepEqual(problemsOf(yamlLines('? [a, b]', ': 1')), [
      { message: 'a mapping key must be a plain value, not a mapping or a list', file: 'f.yaml', line: 1, column: 3 },
    ]);
  });

  it('reports a document nested too deeply once instead of crashing', () => {
    const problems = problemsOf(`a: ${'['.repeat(10000)}${']'.repeat(10000)}\n`) as { message: string; file: string }[];
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.message, 'the document nests too deeply');
    assert.equal(problems[0]?.file, 'f.yaml');
  });

  it('lists every problem of a file in one error, in file order, with a readable summary', () => {
    const error = caissonErrorOf(() => parseYamlDocument(yamlLines('a: 1', 'a: 2', 'b: !x 1', 'b: 2'), 'f.yaml'));
    assert.equal(error.message, 'f.yaml:2:1: duplicate key "a" (and 2 more problems)');
    assert.deepEqual(error.problems, [
      { message: 'duplicate key "a"', file: 'f.yaml', line: 2, column: 1 },
      { message: 'custom tag "!x" is not allowed', file: 'f.yaml', line: 3, column: 4 },
      { message: 'duplicate key "b"', file: 'f.yaml', line: 4, column: 1 },
    ]);
  });
});
