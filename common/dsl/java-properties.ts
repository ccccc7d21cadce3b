/**
 * The text of a `.job` or `.properties` file → its entries, the way java.util.Properties#load reads
 * them (Azkaban's Flow 1.0 files are such files): `key=value`, `key: value` or `key value`; `#` and
 * `!` start comment lines; a line ending in an odd number of backslashes continues on the next one
 * (its leading whitespace dropped); `\t \n \r \f \uXXXX` escapes; any other escaped character stands
 * for itself. A repeated key keeps its last value. Pure.
 */

export interface PropertyEntry {
  key: string;
  value: string;
  /** 1-based line the entry starts on. */
  line: number;
}

export function parseJavaProperties(text: string): PropertyEntry[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  const entries: PropertyEntry[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const startLine = i + 1;
    let logical = (lines[i] ?? '').replace(/^[ \t\f]+/, '');
    if (logical === '' || logical.startsWith('#') || logical.startsWith('!')) continue;
    while (endsWithContinuation(logical) && i + 1 < lines.length) {
      i += 1;
      logical = logical.slice(0, -1) + (lines[i] ?? '').replace(/^[ \t\f]+/, '');
    }
    if (endsWithContinuation(logical)) logical = logical.slice(0, -1);
    const { key, rest } = splitKey(logical);
    entries.push({ key: unescape(key), value: unescape(rest), line: startLine });
  }
  return entries;
}

/** The entries as a map, a later entry of a key replacing an earlier one. */
export function javaPropertiesToRecord(entries: readonly PropertyEntry[]): Record<string, string> {
  const map = new Map<string, string>();
  for (const e of entries) map.set(e.key, e.value);
  return Object.fromEntries(map);
}

function endsWithContinuation(line: string): boolean {
  let count = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === '\\'; i -= 1) count += 1;
  return count % 2 === 1;
}

function splitKey(line: string): { key: string; rest: string } {
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
    i += 1;
  }
  const key = line.slice(0, i);
  let j = i;
  while (j < line.length && /[ \t\f]/.test(line[j] ?? '')) j += 1;
  if (j < line.length && (line[j] === '=' || line[j] === ':')) j += 1;
  while (j < line.length && /[ \t\f]/.test(line[j] ?? '')) j += 1;
  return { key, rest: line.slice(j) };
}

function unescape(text: string): string {
  return text.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, e: string) => {
    if (e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
    switch (e) {
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 'f':
        return '\f';
      default:
        return e;
    }
  });
}
