/**
 * Version sets (DESIGN §5), pure: the canonical JSON of {image type → image reference and
 * version}, keys sorted, no mutable state (no states, ids or reasons), and its SHA-256 hash, under
 * which it is stored once.
 */
import crypto from 'node:crypto';

export interface VersionSetEntry {
  /** Registry path without tag. */
  path: string;
  version: string;
}

/** Parsed body: image type → `{image: "<path>:<version>", version}`. */
export type VersionSetBody = Record<string, { image: string; version: string }>;

/** `{"<type>":{"image":"<path>:<version>","version":"<version>"},…}` with types sorted. */
export function canonicalVersionSetJson(entries: Readonly<Record<string, VersionSetEntry>>): string {
  const types = Object.keys(entries).sort();
  const body: VersionSetBody = {};
  for (const t of types) {
    const e = entries[t]!;
    body[t] = { image: `${e.path}:${e.version}`, version: e.version };
  }
  return JSON.stringify(body);
}

export function versionSetHash(canonicalJson: string): string {
  return crypto.createHash('sha256').update(canonicalJson, 'utf8').digest('hex');
}

/** Reads a stored body back into entries (path = the image reference without its `:version`). */
export function parseVersionSetBody(json: string): Record<string, VersionSetEntry> {
  const body = JSON.parse(json) as VersionSetBody;
  const out: Record<string, VersionSetEntry> = {};
  for (const [t, e] of Object.entries(body)) {
    const suffix = `:${e.version}`;
    out[t] = { path: e.image.endsWith(suffix) ? e.image.slice(0, -suffix.length) : e.image, version: e.version };
  }
  return out;
}
