import { CaissonError, formatProblem } from '../errors.js';
import type { ErrorCode, Problem } from '../errors.js';

/** One readable line for a list of problems: the first one, located, plus how many follow. */
export function summarizeProblems(problems: readonly Problem[]): string {
  const [first] = problems;
  if (first === undefined) return 'no problems';
  const more = problems.length - 1;
  if (more === 0) return formatProblem(first);
  return `${formatProblem(first)} (and ${more} more problem${more === 1 ? '' : 's'})`;
}

/** The one error thrown for a list of validation problems (all of them travel in `problems`). */
export function problemsError(code: ErrorCode, problems: Problem[]): CaissonError {
  return new CaissonError(code, summarizeProblems(problems), { problems });
}

/** Orders problems by file, then line, then column; problems without a file come first. Stable. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  const rank = (p: Problem): [string, number, number] => [p.file ?? '', p.line ?? 0, p.column ?? 0];
  return [...problems].sort((a, b) => {
    const [fa, la, ca] = rank(a);
    const [fb, lb, cb] = rank(b);
    if (fa !== fb) return fa < fb ? -1 : 1;
    return la - lb || ca - cb;
  });
}
