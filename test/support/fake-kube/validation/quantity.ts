/**
 * Resource quantities (`500m`, `1Gi`, `2e3`) as numbers, precise enough to compare a request with
 * its limit. Malformed quantities give undefined; the official schema reports them.
 */

const QUANTITY = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;

const SUFFIX_FACTORS: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

export function parseQuantity(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = QUANTITY.exec(value);
  if (!match) return undefined;
  const base = Number(match[1]);
  const suffix = match[2] ?? '';
  if (!Number.isFinite(base)) return undefined;
  const factor = SUFFIX_FACTORS[suffix];
  if (factor !== undefined) return base * factor;
  const exponent = /^[eE]([-+]?[0-9]+)$/.exec(suffix);
  return exponent ? base * 10 ** Number(exponent[1]) : undefined;
}
