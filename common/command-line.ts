/**
 * Splitting a `command` jobtype line into a program and its arguments (DESIGN §6), the way
 * Azkaban's ProcessJob.partitionCommandLine does, so that commands written for Azkaban run the same:
 * - whitespace separates arguments (Azkaban: spaces; tabs and line breaks count too here, as YAML
 *   block scalars bring them);
 * - single quotes and double quotes group, each kind literal inside the other, and are removed;
 * - there is no escaping (a backslash is an ordinary character) and no shell: `|`, `>`, `$VAR`,
 *   `*` reach the program as written;
 * - an unterminated quote runs to the end of the line; empty arguments (`''`, `""`) are dropped.
 */

const SEPARATORS = new Set([' ', '\t', '\n', '\r']);

export function splitCommandLine(line: string): string[] {
  const args: string[] = [];
  let current = '';
  let quote: "'" | '"' | null = null;
  for (const c of line) {
    if (quote !== null) {
      if (c === quote) quote = null;
      else current += c;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (SEPARATORS.has(c)) {
      if (current !== '') args.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  if (current !== '') args.push(current);
  return args;
}
