import assert from 'node:assert/strict';
import { evaluateCondition, parseCondition, type ParsedCondition } from '../../../common/dsl/condition.js';

const parsed = (text: string): ParsedCondition => {
  const result = parseCondition(text);
  assert.ok(result.ok, `expected "${text}" to parse: ${result.ok ? '' : result.message}`);
  return result.condition;
};

const rejects = (text: string, message: string, offset: number): void => {
  assert.deepEqual(parseCondition(text), { ok: false, message, offset });
};

const holds = (text: string, params: Record<string, Record<string, string>>): boolean =>
  evaluateCondition(parsed(text), (job, param) => params[job]?.[param]);

describe('condition expressions', () => {
  describe('parsing', () => {
    it('reads each of the five status macros, and no condition as all_success', () => {
      for (const macro of ['all_success', 'all_done', 'all_failed', 'one_success', 'one_failed'] as const) {
        assert.equal(parsed(macro).macro, macro);
      }
      assert.equal(parsed('').macro, 'all_success');
      assert.equal(parsed('${a:x} == 1').macro, 'all_success');
    });

    it('lists each ${job:param} reference with its offset', () => {
      assert.deepEqual(parsed('${JobA:param1} == 1 && ${JobB:param2} > 5').references, [
        { job: 'JobA', param: 'param1', offset: 0 },
        { job: 'JobB', param: 'param2', offset: 23 },
      ]);
    });

    it('accepts the examples of Azkaban’s documentation', () => {
      assert.equal(parsed('all_done && ${JobC:param3} != "foo"').macro, 'all_done');
      assert.equal(parsed('(!${JobD:param4} || !${JobE:parm5}) && all_success || ${JobF:parm6} == "bar"').macro, 'all_success');
      assert.equal(parsed('one_success').macro, 'one_success');
    });

    it('gives && precedence over || and ! over both', () => {
      assert.deepEqual(parsed('1 || 0 && !0').expression, {
        kind: 'or',
        left: { kind: 'number', value: 1 },
        right: { kind: 'and', left: { kind: 'number', value: 0 }, right: { kind: 'not', operand: { kind: 'number', value: 0 } } },
      });
    });

    it('rejects two status macros, naming both', () => {
      rejects(
        'all_done && one_success',
        'a condition may use only one status macro, but "one_success" follows "all_done" at character 13',
        12,
      );
    });

    it('rejects an unknown word', () => {
      rejects(
        'all_good',
        'unknown word "all_good"; expected a status macro (all_success, all_failed, all_done, one_success, one_failed), ${job:param}, a number or a quoted string at character 1',
        0,
      );
    });

    it('rejects a missing operand', () => {
      rejects('${a:x} ==', 'expected a value, found the end of the condition at character 10', 9);
      rejects('${a:x} == && 1', 'expected a value, found "&&" at character 11', 10);
    });

    it('rejects unbalanced parentheses', () => {
      rejects('(${a:x} == 1', 'expected ")" to close the "(" at character 1, found the end of the condition at character 13', 12);
      rejects('${a:x} == 1)', 'unexpected ")" (no "(" opened it) at character 12', 11);
    });

    it('rejects two values in a row', () => {
      rejects('${a:x} 1', 'unexpected number 1; expected an operator such as && or || at character 8', 7);
    });

    it('rejects single = & and |', () => {
      rejects('${a:x} = 1', '"=" is not an operator; use "==" to compare at character 8', 7);
      rejects('all_done & 1', '"&" is not an operator; use "&&" at character 10', 9);
      rejects('all_done | 1', '"|" is not an operator; use "||" at character 10', 9);
    });

    it('rejects a malformed or unterminated parameter reference', () => {
      rejects('${a} == 1', '"${a}" must name a job and a parameter as ${job:param} at character 1', 0);
      rejects('${a:x == 1', 'unterminated "${": expected ${job:param} at character 1', 0);
    });

    it('rejects an unterminated string and an unexpected character', () => {
      rejects('${a:x} == "foo', 'unterminated string starting with " at character 11', 10);
      rejects('${a:x} == #', 'unexpected character "#" at character 11', 10);
    });

    it('rejects comparing a macro and chaining comparisons', () => {
      rejects('all_done == 1', 'a status macro cannot be compared with "==" at character 10', 9);
      rejects('1 < ${a:x} < 3', 'comparisons cannot be chained; use && between them at character 12', 11);
    });
  });

  describe('evaluation', () => {
    it('compares a parameter with a number numerically', () => {
      assert.equal(holds('${a:n} == 1', { a: { n: '1' } }), true);
      assert.equal(holds('${a:n} == 1', { a: { n: '1.0' } }), true);
      assert.equal(holds('${a:n} > 5', { a: { n: '10' } }), true);
      assert.equal(holds('${a:n} <= 5', { a: { n: '10' } }), false);
      assert.equal(holds('${a:n} >= -2.5', { a: { n: '-2' } }), true);
      assert.equal(holds('${a:n} < 3', { a: { n: 'abc' } }), false);
      assert.equal(holds('${a:n} != 3', { a: { n: 'abc' } }), true);
    });

    it('compares two strings as strings, like JavaScript', () => {
      assert.equal(holds('${a:s} == "foo"', { a: { s: 'foo' } }), true);
      assert.equal(holds("${a:s} != 'foo'", { a: { s: 'bar' } }), true);
      assert.equal(holds('${a:s} > "9"', { a: { s: '10' } }), false);
      assert.equal(holds('${a:s} == ${b:s}', { a: { s: 'x' }, b: { s: 'x' } }), true);
    });

    it('treats a missing parameter as false in every comparison', () => {
      assert.equal(holds('${a:n} == 1', {}), false);
      assert.equal(holds('${a:n} != 1', {}), false);
      assert.equal(holds('!(${a:n} == 1)', {}), true);
    });

    it('combines with && || ! and parentheses; a status macro stands for true', () => {
      const p = { a: { n: '1' }, b: { n: '7' } };
      assert.equal(holds('${a:n} == 1 && ${b:n} > 5', p), true);
      assert.equal(holds('${a:n} == 2 || ${b:n} > 5', p), true);
      assert.equal(holds('!(${a:n} == 1) || ${b:n} < 5', p), false);
      assert.equal(holds('all_done && ${a:n} == 1', p), true);
      assert.equal(holds('one_failed', p), true);
    });

    it('uses truthiness for a bare value: a non-empty string is true', () => {
      assert.equal(holds('${a:flag}', { a: { flag: 'yes' } }), true);
      assert.equal(holds('${a:flag}', { a: { flag: '' } }), false);
      assert.equal(holds('!${a:flag}', {}), true);
    });
  });
});
