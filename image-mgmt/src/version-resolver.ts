/**
 * Loads what resolution needs for one flow (catalog, active plans, ramp rules, a pinned set) and
 * runs the pure resolver; stores the resulting version set once by hash. Used at dispatch and by
 * the dry-run endpoint.
 */
import type { Knex } from 'knex';
import { CaissonError } from '../../common/errors.js';
import * as catalog from './catalog-store.js';
import { normalizeTypeName } from './model.js';
import { rulesOfFlow, type RampRule } from './ramp-rule-store.js';
import { findActivePlansOfTypes } from './rampup-store.js';
import { neededImageTypes, resolveImageVersion, versionOverridesOf, type ResolvedImage } from './resolve.js';
import { canonicalVersionSetJson, parseVersionSetBody, versionSetHash, type VersionSetEntry } from './version-set.js';
import { findVersionSet, findVersionSets, storeVersionSet, storeVersionSets } from './version-set-store.js';

export const DEFAULT_BASE_IMAGE_TYPE = 'caisson-base';

export interface ResolutionSettings {
  /** The base image type every execution needs (default `caisson-base`). */
  baseImageType: string;
  /** Image types every execution needs besides the base and its jobtypes. */
  alwaysIncludedImageTypes: readonly string[];
}

export interface FlowToResolve {
  projectId: number;
  projectName: string;
  flowId: string;
  /** Jobtypes of the flow's non-disabled nodes (built-ins are skipped). */
  jobTypes: readonly string[];
  /** Resolved flow parameters (overrides, `azkaban.version-set.id`, `allow.image.test.version`). */
  flowParams: Readonly<Record<string, string>>;
}

export interface VersionSetResolution {
  images: ResolvedImage[];
  /** One sentence per type that has no usable version; empty when the set is complete. */
  problems: string[];
  /** The canonical JSON and its hash (only meaningful without problems). */
  json: string;
  hash: string;
  /** The pinned version set id, if the flow asked for one. */
  pinnedVersionSetId: number | null;
}

const PIN_PARAM = 'azkaban.version-set.id';

export async function resolveVersionSet(db: Knex, settings: ResolutionSettings, flow: FlowToResolve): Promise<VersionSetResolution> {
  const [r] = await resolveVersionSets(db, settings, [flow]);
  return r!;
}

/**
 * Resolves the version sets of several flows (a dispatch batch) from one read of the tables they
 * share: pinned sets, image types, their versions and active plans, and the ramp rules of each
 * distinct flow. Each flow's result is what resolveVersionSet would give it alone.
 */
export async function resolveVersionSets(
  db: Knex,
  settings: ResolutionSettings,
  flows: readonly FlowToResolve[],
): Promise<VersionSetResolution[]> {
  if (flows.length === 0) return [];
  const pinIds = [...new Set(flows.map(pinOf).filter((p): p is string => p !== undefined && /^\d+$/.test(p)))].map(Number);
  const pinnedSets = new Map((await findVersionSets(db, pinIds)).map((set) => [set.id, set] as const));
  const base = normalizeTypeName(settings.baseImageType);
  const plans = flows.map((flow) => {
    const problems: string[] = [];
    let pinned: Record<string, VersionSetEntry> = {};
    let pinnedVersionSetId: number | null = null;
    const pinRaw = pinOf(flow);
    if (pinRaw) {
      const set = /^\d+$/.test(pinRaw) ? pinnedSets.get(Number(pinRaw)) : undefined;
      if (!set) problems.push(`${PIN_PARAM}: version set ${pinRaw} does not exist`);
      else {
        pinned = parseVersionSetBody(set.body);
        pinnedVersionSetId = set.id;
      }
    }
    const jobTypeNames = new Set(neededImageTypes(flow.jobTypes, base).filter((t) => t !== base));
    const needed = [
      ...new Set([...neededImageTypes(flow.jobTypes, base, settings.alwaysIncludedImageTypes), ...Object.keys(pinned)]),
    ].sort();
    return { flow, problems, pinned, pinnedVersionSetId, jobTypeNames, needed };
  });
  const types = new Map((await catalog.findImageTypesByNames(db, [...new Set(plans.flatMap((p) => p.needed))])).map((t) => [t.name, t]));
  const typeIds = [...types.values()].map((t) => t.id);
  // Independent reads, side by side (each on its own pooled connection).
  const flowKeys = new Map(plans.map(({ flow }) => [JSON.stringify([flow.projectId, flow.flowId]), flow] as const));
  const [versions, activePlans, rulesByFlow] = await Promise.all([
    catalog.listVersionsOfTypes(db, typeIds),
    findActivePlansOfTypes(db, typeIds),
    Promise.all([...flowKeys].map(async ([key, flow]) => [key, await rulesOfFlow(db, flow.projectId, flow.flowId)] as const)).then(
      (entries) => new Map<string, RampRule[]>(entries),
    ),
  ]);

  return plans.map(({ flow, problems, pinned, pinnedVersionSetId, jobTypeNames, needed }) => {
    const rules = rulesByFlow.get(JSON.stringify([flow.projectId, flow.flowId])) ?? [];
    const highPriorityFlow = rules.some((r) => r.highPriority);
    const overrides = versionOverridesOf(flow.flowParams);
    const allowTestVersion = flow.flowParams['allow.image.test.version']?.trim().toLowerCase() === 'true';
    const images: ResolvedImage[] = [];
    const entries: Record<string, VersionSetEntry> = {};
    for (const name of needed) {
      const type = types.get(name);
      if (!type) {
        problems.push(
          jobTypeNames.has(name)
            ? `unknown jobtype "${name}": no image type of that name is registered`
            : `image type ${name} is not registered`,
        );
        continue;
      }
      const result = resolveImageVersion(
        {
          imageType: name,
          versions: versions.filter((v) => v.typeId === type.id),
          planRows: activePlans.get(type.id) ?? [],
          ruleExcludedVersionIds: new Set(
            rules.filter((r) => !r.highPriority && r.typeId === type.id && r.versionId !== null).map((r) => r.versionId!),
          ),
          highPriorityFlow,
        },
        {
          project: flow.projectName,
          flow: flow.flowId,
          allowTestVersion,
          ...(overrides.has(name) ? { override: overrides.get(name)! } : {}),
          ...(pinned[name] ? { pinned: pinned[name] } : {}),
        },
      );
      if (!result.ok) {
        problems.push(result.message);
        continue;
      }
      images.push(result.image);
      entries[name] = { path: result.image.path, version: result.image.version };
    }
    const json = canonicalVersionSetJson(entries);
    return { images, problems, json, hash: versionSetHash(json), pinnedVersionSetId };
  });
}

function pinOf(flow: FlowToResolve): string | undefined {
  return flow.flowParams[PIN_PARAM]?.trim() || undefined;
}

/** Resolves and stores the set; throws INVALID_PROJECT naming every type without a usable version. */
export async function resolveAndStoreVersionSet(
  db: Knex,
  settings: ResolutionSettings,
  flow: FlowToResolve,
  now: number,
): Promise<VersionSetResolution & { versionSetId: number }> {
  const r = await resolveVersionSet(db, settings, flow);
  if (r.problems.length > 0)
    throw new CaissonError('INVALID_PROJECT', `cannot resolve the images of the execution: ${r.problems.join('; ')}`);
  return { ...r, versionSetId: await storeVersionSet(db, r.hash, r.json, now) };
}

/**
 * resolveAndStoreVersionSet for a dispatch batch: resolves every flow from one read of the shared
 * tables and stores each distinct set once. A flow whose images cannot be resolved gets its own
 * INVALID_PROJECT error; the others are unaffected.
 */
export async function resolveAndStoreVersionSets(
  db: Knex,
  settings: ResolutionSettings,
  flows: readonly FlowToResolve[],
  now: number,
): Promise<((VersionSetResolution & { versionSetId: number }) | CaissonError)[]> {
  const resolved = await resolveVersionSets(db, settings, flows);
  const ids = await storeVersionSets(
    db,
    resolved.filter((r) => r.problems.length === 0),
    now,
  );
  return resolved.map((r) =>
    r.problems.length > 0
      ? new CaissonError('INVALID_PROJECT', `cannot resolve the images of the execution: ${r.problems.join('; ')}`)
      : { ...r, versionSetId: ids.get(r.hash)! },
  );
}

/** The stored entries of a version set (for a dispatch retried after its set was recorded). */
export async function loadVersionSetEntries(db: Knex, id: number): Promise<Record<string, VersionSetEntry> | undefined> {
  const s = await findVersionSet(db, id);
  return s ? parseVersionSetBody(s.body) : undefined;
}
