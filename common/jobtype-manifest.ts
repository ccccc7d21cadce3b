/**
 * The `jobtype.yaml` of a jobtype payload (docs/jobtypes.md), parsed from its text. Pure: the
 * readers (image-mgmt in solo mode, the flow container) read the file themselves.
 */
import YAML from 'yaml';

export const JOBTYPE_MANIFEST_FILE = 'jobtype.yaml';

export interface JobtypeManifest {
  /** Executable, relative to the payload directory. */
  launcher: string;
  version: string;
  description: string;
  /** Default job properties (the job's own properties win). */
  properties: Record<string, string>;
  /** Environment variables the launcher gets. */
  env: Record<string, string>;
}

const VERSION = /^(0|[1-9]\d{0,8})(\.(0|[1-9]\d{0,8})){0,3}$/;

function stringMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} must be a map of names to values`);
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
}

/** Parses and checks a manifest; throws an Error saying what is wrong. */
export function parseJobtypeManifest(text: string): JobtypeManifest {
  const doc = YAML.parse(text) as unknown;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('expected a YAML map');
  const d = doc as Record<string, unknown>;
  const launcher = typeof d.launcher === 'string' ? d.launcher : '';
  if (!launcher || launcher.startsWith('/') || launcher.split(/[\\/]/).includes('..')) {
    throw new Error(`launcher must name an executable inside the payload, got "${String(d.launcher ?? '')}"`);
  }
  const version = String(d.version ?? '');
  if (!VERSION.test(version)) throw new Error(`version must be 1 to 4 dot-separated numbers, got "${version}"`);
  return {
    launcher,
    version,
    description: typeof d.description === 'string' ? d.description : '',
    properties: stringMap(d.properties, 'properties'),
    env: stringMap(d.env, 'env'),
  };
}
