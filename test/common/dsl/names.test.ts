import assert from 'node:assert/strict';
import { checkNodeName, MAX_NAME_LENGTH } from '../../../common/dsl/names.js';

describe('flow and node names', () => {
  it('accepts the names Azkaban projects use, including dots, dashes, spaces inside and non-ASCII letters', () => {
    for (const name of ['jobA', 'job_1', 'embedded_flow', 'hadoop-WC.1', 'job A', '数据同步', '1', 'a'.repeat(MAX_NAME_LENGTH)]) {
      assert.equal(checkNodeName(name), null, name);
    }
  });

  it('refuses an empty name', () => {
    assert.equal(checkNodeName(''), 'name must not be empty');
  });

  it('starts the message with the given label', () => {
    assert.equal(checkNodeName('', 'node name'), 'node name must not be empty');
  });

  it("refuses ':' because it joins embedded flow names", () => {
    assert.equal(
      checkNodeName('a:b', 'flow name'),
      `flow name "a:b" must not contain ':' (it joins embedded flow names, as in outer:inner)`,
    );
  });

  it("refuses '/' and '\\'", () => {
    assert.equal(checkNodeName('a/b'), `name "a/b" must not contain '/'`);
    assert.equal(checkNodeName('a\\b'), `name "a\\\\b" must not contain '\\'`);
  });

  it('refuses control characters, showing them escaped', () => {
    assert.equal(checkNodeName('a\nb'), 'name "a\\nb" must not contain control characters');
    assert.equal(checkNodeName('a\u0085'), 'name "a\u0085" must not contain control characters');
  });

  it('refuses whitespace at either end', () => {
    assert.equal(checkNodeName(' a'), 'name " a" must not start or end with whitespace');
    assert.equal(checkNodeName('a '), 'name "a " must not start or end with whitespace');
  });

  it('refuses "." and ".."', () => {
    assert.equal(checkNodeName('.'), 'name must not be "." or ".."');
    assert.equal(checkNodeName('..'), 'name must not be "." or ".."');
  });

  it('refuses names longer than 128 characters, counting characters rather than UTF-16 units', () => {
    assert.equal(checkNodeName('a'.repeat(129)), 'name is 129 characters long; at most 128 are allowed');
    assert.equal(checkNodeName('😀'.repeat(128)), null);
  });
});
