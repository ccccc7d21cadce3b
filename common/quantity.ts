/**
 * Kubernetes resource quantities (`500m`, `2`, `1.5`, `512Mi`, `1G`, `1e3`) as numbers, so requests
 * can be compared with caps and multiplied into limits. Pure.
 */

const SUFFIX: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
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

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/;

/** The quantity's value in base units (cores, bytes), or undefined when `text` is not a quantity. */
export function quantityValue(text: string): number | undefined {
  const m = QUANTITY.exec(text.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  return base * (SUFFIX[m[3] ?? ''] ?? 1);
}

/** Like {@link quantityValue} for a positive quantity; throws a message naming what is expected. */
export function parsePositiveQuantity(text: string, what: string): number {
  const v = quantityValue(text);
  if (v === undefined || !(v > 0)) {
    throw new Error(`${what} must be a positive Kubernetes quantity such as 500m, 2, 512Mi or 4Gi, got "${text}"`);
  }
  return v;
}

/** `value × factor` written back as a quantity in the unit family of `like` (cores → millicores, bytes → Mi or plain). */
export function scaleQuantity(like: string, factor: number): string {
  const v = quantityValue(like);
  if (v === undefined) throw new Error(`not a quantity: "${like}"`);
  const scaled = v * factor;
  if (/[KMGTPE]i$/.test(like.trim()) || scaled >= 2 ** 20) {
    const mi = Math.ceil(scaled / 2 ** 20);
    return `${mi}Mi`;
  }
  return `${Math.ceil(scaled * 1000)}m`;
}
