/**
 * Version resolution (DESIGN §5, issue 4), pure. For each needed image type, in order:
 * `image.<type>.version` override > pinned `azkaban.version-set.id` entry (re-resolved when no
 * longer runnable) > ramp rule (keeps the flow on ACTIVE) > the active plan's range for the
 * flow's bucket > the ACTIVE version. Each answer says why.
 */
import { normalizeTypeName, OVERRIDABLE_STATES, RUNNABLE_STATES, type RampupRow, type VersionState } from './model.js';
import { flowBucket, rampRanges, rangeOfBucket } from './ramp-up.js';
import type { VersionSetEntry } from './version-set.js';

/** Jobtypes the flow container runs itself; every other jobtype needs an image of its name. */
export const BUILT_IN_JOBTYPES: ReadonlySet<string> = new Set(['command', 'noop', 'flow']);

export type ResolutionReason = 'override' | 'pinned' | 'ramp-rule' | 'ramp-plan' | 'active';

export interface CatalogVersion {
  id: number;
  path: string;
  version: string;
  state: VersionState;
}

/** What the resolver knows about one image type for one flow. */
export interface TypeCatalog {
  imageType: string;
  versions: readonly CatalogVersion[];
  /** Rows of the active plan; empty without one. */
  planRows: readonly RampupRow[];
  /** Versions this flow is kept off by a ramp rule. */
  ruleExcludedVersionIds: ReadonlySet<number>;
  /** The flow is listed in a high-priority rule: it is kept off every ramped version. */
  highPriorityFlow: boolean;
}

export interface ResolvedImage {
  imageType: string;
  versionId: number;
  path: string;
  version: string;
  reason: ResolutionReason;
  /** A sentence a user can read. */
  why: string;
  /** The pinned entry was no longer runnable and was re-resolved. */
  repinned?: boolean;
}

export interface ResolveInput {
  project: string;
  flow: string;
  /** The `image.<type>.version` value, if any. */
  override?: string;
  allowTestVersion: boolean;
  /** The entry of a pinned version set, if any. */
  pinned?: VersionSetEntry;
}

export type Resolution = { ok: true; image: ResolvedImage } | { ok: false; message: string };

function pick(type: string, v: CatalogVersion, reason: ResolutionReason, why: string): ResolvedImage {
  return { imageType: type, versionId: v.id, path: v.path, version: v.version, reason, why };
}

export function resolveImageVersion(catalog: TypeCatalog, input: ResolveInput): Resolution {
  const type = catalog.imageType;
  const byVersion = new Map(catalog.versions.map((v) => [v.version, v]));
  if (input.override !== undefined) {
    const key = `image.${type}.version`;
    const v = byVersion.get(input.override.trim());
    if (!v) return { ok: false, message: `${key}: version ${input.override} of image type ${type} is not registered` };
    if (!OVERRIDABLE_STATES.has(v.state) && !(v.state === 'TEST' && input.allowTestVersion)) {
      const hint = v.state === 'TEST' ? ' (TEST versions need allow.image.test.version=true, admin only)' : '';
      return {
        ok: false,
        message: `${key}: version ${v.version} of image type ${type} is ${v.state}${hint}; allowed: NEW, ACTIVE, STABLE`,
      };
    }
    return { ok: true, image: pick(type, v, 'override', `${key}=${v.version} was requested`) };
  }
  let repinned = false;
  if (input.pinned) {
    const v = byVersion.get(input.pinned.version);
    if (v && v.path === input.pinned.path && RUNNABLE_STATES.has(v.state)) {
      return { ok: true, image: pick(type, v, 'pinned', `azkaban.version-set.id pins ${type} to ${v.version}`) };
    }
    repinned = true;
  }
  const result = resolveUnpinned(catalog, input);
  if (result.ok && repinned) {
    const was = input.pinned!.version;
    result.image.repinned = true;
    result.image.why = `the pinned version ${was} is no longer runnable; re-resolved: ${result.image.why}`;
  }
  return result;
}

function resolveUnpinned(catalog: TypeCatalog, input: ResolveInput): Resolution {
  const type = catalog.imageType;
  const active = catalog.versions.find((v) => v.state === 'ACTIVE');
  const bucket = flowBucket(input.project, input.flow, type);
  const range = rangeOfBucket(rampRanges(catalog.planRows), bucket);
  const ramped = range ? catalog.versions.find((v) => v.id === range.versionId) : undefined;
  if (ramped && ramped.id !== active?.id && RUNNABLE_STATES.has(ramped.state)) {
    const ruled = catalog.highPriorityFlow || catalog.ruleExcludedVersionIds.has(ramped.id);
    if (!ruled) {
      return {
        ok: true,
        image: pick(
          type,
          ramped,
          'ramp-plan',
          `bucket ${bucket} falls in ${range!.from}..${range!.to - 1} of the ramp-up plan (version ${ramped.version})`,
        ),
      };
    }
    if (active) {
      const rule = catalog.highPriorityFlow ? 'a high-priority ramp rule' : `a ramp rule on version ${ramped.version}`;
      return { ok: true, image: pick(type, active, 'ramp-rule', `${rule} keeps this flow on the ACTIVE version`) };
    }
  }
  if (ramped && ramped.id === active?.id) {
    return {
      ok: true,
      image: pick(
        type,
        ramped,
        'ramp-plan',
        `bucket ${bucket} falls in ${range!.from}..${range!.to - 1} of the ramp-up plan (version ${ramped.version})`,
      ),
    };
  }
  if (active) {
    const why = range ? `bucket ${bucket} falls on a version that cannot run; the ACTIVE version applies` : 'the ACTIVE version';
    return { ok: true, image: pick(type, active, 'active', why) };
  }
  if (catalog.versions.length === 0) return { ok: false, message: `image type ${type} has no registered version` };
  return { ok: false, message: `image type ${type} has no ACTIVE version` };
}

/**
 * The image types an execution needs: the base type, every non-built-in jobtype (lower-case) and
 * the always-included types; sorted and unique.
 */
export function neededImageTypes(jobTypes: readonly string[], baseType: string, alwaysIncluded: readonly string[] = []): string[] {
  const out = new Set<string>([normalizeTypeName(baseType), ...alwaysIncluded.map(normalizeTypeName)]);
  for (const j of jobTypes) {
    const t = normalizeTypeName(j);
    if (!BUILT_IN_JOBTYPES.has(t)) out.add(t);
  }
  out.delete('');
  return [...out].sort();
}

/** `image.<type>.version` overrides of a flow's parameters, by lower-case type. */
export function versionOverridesOf(params: Readonly<Record<string, string>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(params)) {
    const m = /^image\.(.+)\.version$/.exec(k);
    if (m?.[1]) out.set(normalizeTypeName(m[1]), v);
  }
  return out;
}
