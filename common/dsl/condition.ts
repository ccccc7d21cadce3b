/**
 * Azkaban's conditional-flow expressions (docs/conditionalFlow.rst): at most one status macro
 * (`all_success`, `all_done`, `all_failed`, `one_success`, `one_failed`) combined with comparisons
 * on runtime parameters `${job:param}`, numbers and strings, using `== != > >= < <= && || !` and
 * parentheses. Pure: parse (with the position of the first error), list the jobs referenced,
 * evaluate against a macro outcome and the jobs' output parameters.
 *
 * Evaluation follows Azkaban, which substitutes the parameters as quoted strings and hands the text
 * to a JavaScript engine: `==`/`!=` and the orderings compare two strings as strings and anything
 * else as numbers (`"10" > 9` holds, `"10" > "9"` does not); `&&`, `||` and `!` use truthiness (a
 * non-empty string is true). Caisson differs in one place, on purpose: a parameter the job did not
 * output is "missing" and any comparison with it is false (Azkaban compared the text "null").
 * The status macro is checked on its own first, as Azkaban does; inside the expression it then
 * stands for `true`.
 */

export type ConditionMacro = 'all_success' | 'all_failed' | 'all_done' | 'one_success' | 'one_failed';

export const CONDITION_MACROS: readonly ConditionMacro[] = ['all_success', 'all_failed', 'all_done', 'one_success', 'one_failed'];

export type ComparisonOperator = '==' | '!=' | '>' | '>=' | '<' | '<=';

export type ConditionExpression =
  | { kind: 'macro'; macro: ConditionMacro }
  | { kind: 'param'; job: string; param: string }
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'not'; operand: ConditionExpression }
  | { kind: 'and' | 'or'; left: ConditionExpression; right: ConditionExpression }
  | { kind: 'compare'; operator: ComparisonOperator; left: ConditionExpression; right: ConditionExpression };

export interface ParsedCondition {
  expression: ConditionExpression;
  /** The status macro written in the condition, or `all_success` when there is none. */
  macro: ConditionMacro;
  /** Each `${job:param}` reference, in order, with its 0-based offset in the text. */
  references: { job: string; param: string; offset: number }[];
}

export type ConditionParseResult =
  | { ok: true; condition: ParsedCondition }
  /** `offset` is 0-based in the condition's text; `message` already names the 1-based character. */
  | { ok: false; message: string; offset: number };

type Token =
  | { kind: 'op'; text: string; offset: number }
  | { kind: 'word'; text: string; offset: number }
  | { kind: 'number'; value: number; text: string; offset: number }
  | { kind: 'string'; value: string; offset: number }
  | { kind: 'param'; job: string; param: string; offset: number }
  | { kind: 'end'; offset: number };

class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const OPERATORS = ['==', '!=', '>=', '<=', '&&', '||', '>', '<', '!', '(', ')'] as const;
const COMPARISONS: readonly string[] = ['==', '!=', '>', '>=', '<', '<='];

/** Parses a condition; the empty condition is `all_success`. */
export function parseCondition(text: string): ConditionParseResult {
  if (text.trim() === '')
    return { ok: true, condition: { expression: { kind: 'macro', macro: 'all_success' }, macro: 'all_success', references: [] } };
  try {
    const tokens = tokenize(text);
    const parser = new Parser(tokens);
    const expression = parser.parse();
    return { ok: true, condition: { expression, macro: parser.macro ?? 'all_success', references: parser.references } };
  } catch (e) {
    if (e instanceof ConditionSyntaxError) return { ok: false, message: `${e.message} at character ${e.offset + 1}`, offset: e.offset };
    throw e;
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    const start = i;
    if (text.startsWith('${', i)) {
      const close = text.indexOf('}', i);
      if (close < 0) throw new ConditionSyntaxError('unterminated "${": expected ${job:param}', start);
      const inner = text.slice(i + 2, close);
      const colon = inner.indexOf(':');
      const job = colon < 0 ? '' : inner.slice(0, colon).trim();
      const param = colon < 0 ? '' : inner.slice(colon + 1).trim();
      if (colon < 0 || job === '' || param === '') {
        throw new ConditionSyntaxError(
          `${JSON.stringify(text.slice(start, close + 1))} must name a job and a parameter as \${job:param}`,
          start,
        );
      }
      tokens.push({ kind: 'param', job, param, offset: start });
      i = close + 1;
      continue;
    }
    if (c === '"' || c === "'") {
      let value = '';
      i += 1;
      for (;;) {
        const d = text[i];
        if (d === undefined) throw new ConditionSyntaxError(`unterminated string starting with ${c}`, start);
        if (d === c) break;
        if (d === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else {
          value += d;
          i += 1;
        }
      }
      tokens.push({ kind: 'string', value, offset: start });
      i += 1;
      continue;
    }
    const number = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(text.slice(i));
    if (number !== null && (c !== '-' || expectsOperand(tokens))) {
      tokens.push({ kind: 'number', value: Number(number[0]), text: number[0], offset: start });
      i += number[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (word !== null) {
      tokens.push({ kind: 'word', text: word[0], offset: start });
      i += word[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op !== undefined) {
      tokens.push({ kind: 'op', text: op, offset: start });
      i += op.length;
      continue;
    }
    if (c === '=') throw new ConditionSyntaxError('"=" is not an operator; use "==" to compare', start);
    if (c === '&' || c === '|') throw new ConditionSyntaxError(`"${c}" is not an operator; use "${c}${c}"`, start);
    throw new ConditionSyntaxError(`unexpected character ${JSON.stringify(c)}`, start);
  }
  tokens.push({ kind: 'end', offset: text.length });
  return tokens;
}

/** Whether a `-` here starts a negative number (nothing before it that could be subtracted from). */
function expectsOperand(tokens: readonly Token[]): boolean {
  const last = tokens[tokens.length - 1];
  return last === undefined || (last.kind === 'op' && last.text !== ')');
}

function describeToken(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the condition';
    case 'op':
      return `"${token.text}"`;
    case 'word':
      return `"${token.text}"`;
    case 'number':
      return `number ${token.text}`;
    case 'string':
      return `string ${JSON.stringify(token.value)}`;
    case 'param':
      return `\${${token.job}:${token.param}}`;
  }
}

class Parser {
  private index = 0;
  macro: ConditionMacro | undefined;
  readonly references: { job: string; param: string; offset: number }[] = [];

  constructor(private readonly tokens: readonly Token[]) {}

  parse(): ConditionExpression {
    const expression = this.parseOr();
    const next = this.peek();
    if (next.kind !== 'end') {
      const hint = next.kind === 'op' && next.text === ')' ? ' (no "(" opened it)' : '; expected an operator such as && or ||';
      throw new ConditionSyntaxError(`unexpected ${describeToken(next)}${hint}`, next.offset);
    }
    return expression;
  }

  private peek(): Token {
    return this.tokens[this.index] ?? { kind: 'end', offset: 0 };
  }

  private isOp(text: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.text === text;
  }

  private parseOr(): ConditionExpression {
    let left = this.parseAnd();
    while (this.isOp('||')) {
      this.index += 1;
      left = { kind: 'or', left, right: this.parseAnd() };
    }
    return left;
  }

  private parseAnd(): ConditionExpression {
    let left = this.parseNot();
    while (this.isOp('&&')) {
      this.index += 1;
      left = { kind: 'and', left, right: this.parseNot() };
    }
    return left;
  }

  private parseNot(): ConditionExpression {
    if (this.isOp('!')) {
      this.index += 1;
      return { kind: 'not', operand: this.parseNot() };
    }
    return this.parseComparison();
  }

  private parseComparison(): ConditionExpression {
    const left = this.parseOperand();
    const t = this.peek();
    if (t.kind !== 'op' || !COMPARISONS.includes(t.text)) return left;
    this.index += 1;
    const operator = t.text as ComparisonOperator;
    const right = this.parseOperand();
    if (left.kind === 'macro' || right.kind === 'macro') {
      throw new ConditionSyntaxError(`a status macro cannot be compared with "${operator}"`, t.offset);
    }
    const after = this.peek();
    if (after.kind === 'op' && COMPARISONS.includes(after.text)) {
      throw new ConditionSyntaxError(`comparisons cannot be chained; use && between them`, after.offset);
    }
    return { kind: 'compare', operator, left, right };
  }

  private parseOperand(): ConditionExpression {
    const t = this.peek();
    this.index += 1;
    switch (t.kind) {
      case 'param':
        this.references.push({ job: t.job, param: t.param, offset: t.offset });
        return { kind: 'param', job: t.job, param: t.param };
      case 'number':
        return { kind: 'number', value: t.value };
      case 'string':
        return { kind: 'string', value: t.value };
      case 'word': {
        if (!(CONDITION_MACROS as readonly string[]).includes(t.text)) {
          throw new ConditionSyntaxError(
            `unknown word "${t.text}"; expected a status macro (${CONDITION_MACROS.join(', ')}), \${job:param}, a number or a quoted string`,
            t.offset,
          );
        }
        if (this.macro !== undefined) {
          throw new ConditionSyntaxError(`a condition may use only one status macro, but "${t.text}" follows "${this.macro}"`, t.offset);
        }
        this.macro = t.text as ConditionMacro;
        return { kind: 'macro', macro: this.macro };
      }
      case 'op':
        if (t.text === '(') {
          const inner = this.parseOr();
          const close = this.peek();
          if (!(close.kind === 'op' && close.text === ')')) {
            throw new ConditionSyntaxError(
              `expected ")" to close the "(" at character ${t.offset + 1}, found ${describeToken(close)}`,
              close.offset,
            );
          }
          this.index += 1;
          return inner;
        }
        throw new ConditionSyntaxError(`expected a value, found ${describeToken(t)}`, t.offset);
      case 'end':
        this.index -= 1;
        throw new ConditionSyntaxError('expected a value, found the end of the condition', t.offset);
    }
  }
}

/** What evaluation needs: a job's output parameter (undefined when missing). */
export type ParamLookup = (job: string, param: string) => string | undefined;

type Value = string | number | boolean | undefined;

/**
 * Whether the condition's expression holds, the status macro standing for `true` (check the macro
 * separately, first).
 */
export function evaluateCondition(condition: ParsedCondition, lookup: ParamLookup): boolean {
  return truthy(evaluate(condition.expression, lookup));
}

function evaluate(e: ConditionExpression, lookup: ParamLookup): Value {
  switch (e.kind) {
    case 'macro':
      return true;
    case 'param':
      return lookup(e.job, e.param);
    case 'number':
    case 'string':
      return e.value;
    case 'not':
      return !truthy(evaluate(e.operand, lookup));
    case 'and':
      return truthy(evaluate(e.left, lookup)) && truthy(evaluate(e.right, lookup));
    case 'or':
      return truthy(evaluate(e.left, lookup)) || truthy(evaluate(e.right, lookup));
    case 'compare':
      return compare(e.operator, evaluate(e.left, lookup), evaluate(e.right, lookup));
  }
}

function truthy(v: Value): boolean {
  if (v === undefined) return false;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  if (typeof v === 'string') return v !== '';
  return v;
}

function compare(operator: ComparisonOperator, left: Value, right: Value): boolean {
  if (left === undefined || right === undefined) return false;
  let order: number;
  if (typeof left === 'string' && typeof right === 'string') {
    order = left < right ? -1 : left > right ? 1 : 0;
  } else {
    const a = toNumber(left);
    const b = toNumber(right);
    if (Number.isNaN(a) || Number.isNaN(b)) return operator === '!=';
    order = a < b ? -1 : a > b ? 1 : 0;
  }
  switch (operator) {
    case '==':
      return order === 0;
    case '!=':
      return order !== 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
  }
}

function toNumber(v: string | number | boolean): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v.trim() === '' ? 0 : Number(v);
}
