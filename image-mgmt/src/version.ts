/**
 * Image version strings: 1 to 4 dot-separated non-negative integers, compared part by part
 * (1.10 > 1.9); with equal leading parts the shorter version comes first (1.2 < 1.2.0). Pure.
 */

const VERSION_PATTERN = /^(0|[1-9]\d{0,8})(\.(0|[1-9]\d{0,8})){0,3}$/;

/** The parts of a valid version, or undefined. Parts have no leading zeros and at most 9 digits. */
export function parseVersion(version: string): number[] | undefined {
  if (!VERSION_PATTERN.test(version)) return undefined;
  return version.split('.').map(Number);
}

export function isValidVersion(version: string): boolean {
  return parseVersion(version) !== undefined;
}

/** Negative, zero or positive as `a` is older than, equal to or newer than `b` (both valid). */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a) ?? [];
  const pb = parseVersion(b) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return Math.sign(pa.length - pb.length);
}

/**
 * A string that sorts like the version (image_versions.version_key): each part zero-padded to 9
 * digits, so SQL can order by it; a prefix sorts first, matching compareVersions.
 */
export function versionKey(version: string): string {
  const parts = parseVersion(version);
  if (!parts) throw new Error(`not a version: ${version}`);
  return parts.map((p) => String(p).padStart(9, '0')).join('.');
}
