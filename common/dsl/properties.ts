/**
 * Azkaban-style properties: layers of string maps searched in order of precedence, and `${name}`
 * substitution in values. Pure; the flow container decides which layers a job gets.
 *
 * A reference is `${name}` with a name of letters, digits, `_` and `.` (Azkaban's
 * PropsUtils pattern); anything else (`$HOME`, `${a:-b}`, `$$`) is left as written. Values are
 * substituted recursively: `${dir}` whose value is `${base}/x` yields the value of `base` plus `/x`.
 */

/** One level of properties, e.g. a job's `config:`; an earlier layer wins over a later one. */
export type PropertyLayer = Readonly<Record<string, string>>;

export type PropertyLookup = (name: string) => string | undefined;

export type SubstitutionResult = { ok: true; value: string } | { ok: false; message: string };

const REFERENCE = /\$\{([A-Za-z0-9_.]+)\}/g;

/** The value of `name` in the first layer that defines it. */
export function lookupProperty(layers: readonly PropertyLayer[], name: string): string | undefined {
  for (const layer of layers) {
    if (Object.prototype.hasOwnProperty.call(layer, name)) return layer[name];
  }
  return undefined;
}

/** A lookup over layers, earliest first. */
export function layeredLookup(layers: readonly PropertyLayer[]): PropertyLookup {
  return (name) => lookupProperty(layers, name);
}

/** Every property of the layers with the value that wins (keys in first-seen order, earliest layer first). */
export function mergePropertyLayers(layers: readonly PropertyLayer[]): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (!Object.prototype.hasOwnProperty.call(merged, key)) merged[key] = value;
    }
  }
  return merged;
}

/** The names referenced by `text`, in order of appearance, without repeats. */
export function findPropertyReferences(text: string): string[] {
  return [...new Set([...text.matchAll(REFERENCE)].map((m) => m[1] ?? ''))];
}

/**
 * Replaces every `${name}` in `text` with the property's value, itself substituted. Fails, naming
 * the property, when one is undefined or when values refer to each other in a circle.
 */
export function substituteProperties(text: string, lookup: PropertyLookup): SubstitutionResult {
  const resolved = new Map<string, string>();
  const failure = { message: '' };

  const expand = (value: string, chain: readonly string[]): string | null => {
    let out = '';
    let last = 0;
    for (const match of value.matchAll(REFERENCE)) {
      const name = match[1] ?? '';
      const replacement = resolve(name, chain);
      if (replacement === null) return null;
      out += value.slice(last, match.index) + replacement;
      last = match.index + match[0].length;
    }
    return out + value.slice(last);
  };

  const resolve = (name: string, chain: readonly string[]): string | null => {
    const known = resolved.get(name);
    if (known !== undefined) return known;
    if (chain.includes(name)) {
      const circle = [...chain.slice(chain.indexOf(name)), name].map((n) => `\${${n}}`).join(' -> ');
      failure.message = `circular property reference: ${circle}`;
      return null;
    }
    const raw = lookup(name);
    if (raw === undefined) {
      const via = chain.length > 0 ? ` (referenced by \${${chain[chain.length - 1]}})` : '';
      failure.message = `unresolved property \${${name}}${via}`;
      return null;
    }
    const value = expand(raw, [...chain, name]);
    if (value !== null) resolved.set(name, value);
    return value;
  };

  const value = expand(text, []);
  return value === null ? { ok: false, message: failure.message } : { ok: true, value };
}
