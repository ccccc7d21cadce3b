/**
 * Validation of the admin API's JSON bodies (Azkaban's field names), pure. Every problem of a
 * request is listed at once; the message joins them.
 */
import { CaissonError } from '../../common/errors.js';
import {
  DEPLOYABLES,
  isOwnerRole,
  isStabilityTag,
  isVersionState,
  normalizeTypeName,
  OWNER_ROLES,
  STABILITY_TAGS,
  VERSION_STATES,
  type OwnerRole,
  type StabilityTag,
  type VersionState,
} from './model.js';
import type { RampDownGuard } from './ramp-down.js';
import { isValidVersion } from './version.js';

const TYPE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const MISSING_IMAGE_TYPE = 'Required field imageType is null. Must provide valid imageType to create/register image type.';

function fail(problems: string[]): never {
  throw new CaissonError('BAD_REQUEST', problems.join('; '), { problems: problems.map((message) => ({ message })) });
}

function obj(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) fail(['the request body must be a JSON object']);
  return body as Record<string, unknown>;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v.trim();
  if (typeof v === 'number') return String(v);
  return undefined;
}

function bool(v: unknown): boolean {
  return v === true || v === 'true';
}

/** A type name from a body or a path; undefined when absent. Problems are pushed. */
export function typeNameOf(v: unknown, problems: string[], field = 'imageType'): string | undefined {
  const raw = str(v);
  if (raw === undefined) return undefined;
  const name = normalizeTypeName(raw);
  if (!TYPE_NAME.test(name))
    problems.push(`${field} must be 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or digit, got "${raw}"`);
  return name;
}

export interface OwnerInput {
  ownerKind: 'user' | 'group';
  owner: string;
  role: OwnerRole;
}

function ownersOf(v: unknown, problems: string[]): OwnerInput[] {
  if (!Array.isArray(v)) {
    problems.push('ownerships must be a list of {"owner": <user-id>, "role": <ADMIN|MEMBER|GUEST>}');
    return [];
  }
  const out: OwnerInput[] = [];
  v.forEach((o: unknown, i) => {
    const e = (o ?? {}) as Record<string, unknown>;
    const owner = str(e.owner);
    const role = str(e.role)?.toUpperCase();
    const kind = str(e.ownerType)?.toLowerCase() ?? 'user';
    if (owner === undefined) problems.push(`ownerships[${i}].owner is required`);
    if (role === undefined || !isOwnerRole(role))
      problems.push(`ownerships[${i}].role must be one of ${OWNER_ROLES.join(', ')}, got "${str(e.role) ?? ''}"`);
    if (kind !== 'user' && kind !== 'group') problems.push(`ownerships[${i}].ownerType must be user or group, got "${kind}"`);
    if (owner !== undefined && role !== undefined && isOwnerRole(role) && (kind === 'user' || kind === 'group'))
      out.push({ ownerKind: kind, owner, role });
  });
  return out;
}

export interface CreateTypeRequest {
  name: string;
  description: string;
  deployable: string;
  owners: OwnerInput[];
}

export function parseCreateType(body: unknown): CreateTypeRequest {
  const b = obj(body);
  const problems: string[] = [];
  const name = typeNameOf(b.imageType, problems);
  if (name === undefined) fail([MISSING_IMAGE_TYPE]);
  const deployable = (str(b.deployable) ?? 'IMAGE').toUpperCase();
  if (!(DEPLOYABLES as readonly string[]).includes(deployable))
    problems.push(`deployable must be one of ${DEPLOYABLES.join(', ')}, got "${str(b.deployable)}"`);
  const owners = ownersOf(b.ownerships, problems);
  if (problems.length === 0 && (owners.length < 2 || !owners.some((o) => o.role === 'ADMIN'))) {
    problems.push('ownerships must list at least two owners, one of them with role ADMIN');
  }
  if (problems.length > 0) fail(problems);
  return { name, description: str(b.description) ?? '', deployable, owners };
}

export function parseOwnerships(body: unknown): OwnerInput[] {
  const b = obj(body);
  const problems: string[] = [];
  const owners = ownersOf(b.ownerships, problems);
  if (problems.length === 0 && owners.length === 0) problems.push('ownerships must list at least one owner');
  if (problems.length > 0) fail(problems);
  return owners;
}

function versionStateOf(v: unknown, problems: string[], fallback?: VersionState): VersionState | undefined {
  const s = str(v)?.toUpperCase();
  if (s === undefined) {
    if (fallback === undefined) problems.push('versionState is required');
    return fallback;
  }
  if (!isVersionState(s)) {
    problems.push(`versionState must be one of ${VERSION_STATES.join(', ')}, got "${str(v)}"`);
    return undefined;
  }
  return s;
}

function versionOf(v: unknown, problems: string[], field: string, required: boolean): string | undefined {
  const s = str(v);
  if (s === undefined) {
    if (required) problems.push(`${field} is required`);
    return undefined;
  }
  if (!isValidVersion(s)) problems.push(`${field} must be 1 to 4 dot-separated numbers like 1.2.3, got "${s}"`);
  return s;
}

export interface CreateVersionRequest {
  imageType: string;
  path: string;
  version: string;
  state: VersionState;
  description: string;
  releaseTag: string | null;
  digest: string | null;
}

export function parseCreateVersion(body: unknown): CreateVersionRequest {
  const b = obj(body);
  const problems: string[] = [];
  const imageType = typeNameOf(b.imageType, problems);
  if (imageType === undefined) problems.push('imageType is required');
  const path = str(b.imagePath);
  if (path === undefined) problems.push('imagePath is required');
  else if (/[:@\s]/.test(path.replace(/^[^/]*:\d+\//, '')))
    problems.push(`imagePath must not contain a tag, digest or spaces, got "${path}"`);
  const version = versionOf(b.imageVersion, problems, 'imageVersion', true);
  const state = versionStateOf(b.versionState, problems, 'NEW');
  if (problems.length > 0) fail(problems);
  return {
    imageType: imageType!,
    path: path!,
    version: version!,
    state: state!,
    description: str(b.description) ?? '',
    releaseTag: str(b.releaseTag) ?? null,
    digest: str(b.digest) ?? null,
  };
}

export interface UpdateVersionRequest {
  imageType: string;
  state: VersionState;
  path?: string;
  version?: string;
  description?: string;
}

export function parseUpdateVersion(body: unknown): UpdateVersionRequest {
  const b = obj(body);
  const problems: string[] = [];
  const imageType = typeNameOf(b.imageType, problems);
  if (imageType === undefined) problems.push('imageType is required');
  const state = versionStateOf(b.versionState, problems);
  const version = versionOf(b.imageVersion, problems, 'imageVersion', false);
  if (problems.length > 0) fail(problems);
  const out: UpdateVersionRequest = { imageType: imageType!, state: state! };
  const path = str(b.imagePath);
  if (path !== undefined) out.path = path;
  if (version !== undefined) out.version = version;
  if (typeof b.description === 'string') out.description = b.description;
  return out;
}

export interface RampupInput {
  version: string;
  percentage: number;
  stabilityTag: StabilityTag;
}

function rampupsOf(v: unknown, problems: string[]): RampupInput[] {
  if (!Array.isArray(v) || v.length === 0) {
    problems.push('imageRampups must be a non-empty list of {imageVersion, rampupPercentage, stabilityTag}');
    return [];
  }
  const out: RampupInput[] = [];
  const seen = new Set<string>();
  v.forEach((r: unknown, i) => {
    const e = (r ?? {}) as Record<string, unknown>;
    const version = versionOf(e.imageVersion, problems, `imageRampups[${i}].imageVersion`, true);
    const pctRaw = str(e.rampupPercentage);
    const pct = pctRaw !== undefined && /^\d+$/.test(pctRaw) ? Number(pctRaw) : NaN;
    if (!(pct >= 0 && pct <= 100))
      problems.push(`imageRampups[${i}].rampupPercentage must be a whole number from 0 to 100, got "${pctRaw ?? ''}"`);
    const tag = (str(e.stabilityTag) ?? 'EXPERIMENTAL').toUpperCase();
    if (!isStabilityTag(tag))
      problems.push(`imageRampups[${i}].stabilityTag must be one of ${STABILITY_TAGS.join(', ')}, got "${str(e.stabilityTag)}"`);
    else if (tag === 'UNSTABLE' && pct > 0) problems.push(`imageRampups[${i}]: an UNSTABLE version must be at 0%, got ${pct}%`);
    if (version !== undefined && seen.has(version)) problems.push(`imageRampups[${i}].imageVersion ${version} is listed twice`);
    if (version !== undefined) seen.add(version);
    if (version !== undefined && pct >= 0 && pct <= 100 && isStabilityTag(tag)) out.push({ version, percentage: pct, stabilityTag: tag });
  });
  return out;
}

/** The percentages of a complete plan must add up to exactly 100. */
export function checkPlanTotal(rows: readonly { percentage: number }[]): void {
  const total = rows.reduce((s, r) => s + r.percentage, 0);
  if (total !== 100) fail([`rampup percentages must add up to 100, got ${total}`]);
}

const GUARD_SHAPE = 'rampDownGuard must be an object {minExecutions, maxExcessFailurePercent, windowMinutes} or null';

function wholeIn(v: unknown, field: string, min: number, max: number, problems: string[]): number | undefined {
  const raw = str(v);
  const n = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (n >= min && n <= max) return n;
  problems.push(`rampDownGuard.${field} must be a whole number from ${min} to ${max}, got "${raw ?? ''}"`);
  return undefined;
}

/** The automatic ramp-down guard of a plan body: undefined when absent, null when explicitly off. */
export function rampDownGuardOf(v: unknown, problems: string[]): RampDownGuard | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) {
    problems.push(GUARD_SHAPE);
    return undefined;
  }
  const g = v as Record<string, unknown>;
  const minExecutions = wholeIn(g.minExecutions, 'minExecutions', 1, 1_000_000, problems);
  const maxExcessFailurePercent = wholeIn(g.maxExcessFailurePercent, 'maxExcessFailurePercent', 0, 100, problems);
  const windowMinutes = wholeIn(g.windowMinutes, 'windowMinutes', 1, 43_200, problems);
  if (minExecutions === undefined || maxExcessFailurePercent === undefined || windowMinutes === undefined) return undefined;
  return { minExecutions, maxExcessFailurePercent, windowMs: windowMinutes * 60_000 };
}

/** The guard as the API shows it (window in minutes). */
export function rampDownGuardJson(g: RampDownGuard | null): Record<string, number> | null {
  return g
    ? { minExecutions: g.minExecutions, maxExcessFailurePercent: g.maxExcessFailurePercent, windowMinutes: g.windowMs / 60_000 }
    : null;
}

export interface CreatePlanRequest {
  planName: string;
  imageType: string;
  description: string;
  activatePlan: boolean;
  forceActivatePlan: boolean;
  rampDownGuard: RampDownGuard | null;
  rows: RampupInput[];
}

export function parseCreatePlan(body: unknown): CreatePlanRequest {
  const b = obj(body);
  const problems: string[] = [];
  const planName = str(b.planName);
  if (planName === undefined) problems.push('planName is required');
  const imageType = typeNameOf(b.imageType, problems);
  if (imageType === undefined) problems.push('imageType is required');
  const rows = rampupsOf(b.imageRampups, problems);
  const guard = rampDownGuardOf(b.rampDownGuard, problems);
  if (problems.length > 0) fail(problems);
  checkPlanTotal(rows);
  return {
    planName: planName!,
    imageType: imageType!,
    description: str(b.description) ?? '',
    activatePlan: b.activatePlan === undefined ? true : bool(b.activatePlan),
    forceActivatePlan: bool(b.forceActivatePlan),
    rampDownGuard: guard ?? null,
    rows,
  };
}

export interface UpdatePlanRequest {
  /** False when the request sets activatePlan or forceActivatePlan to false: the plan is deactivated. */
  keepActive: boolean;
  rows: RampupInput[];
  /** undefined: unchanged; null: turned off. */
  rampDownGuard?: RampDownGuard | null;
}

export function parseUpdatePlan(body: unknown): UpdatePlanRequest {
  const b = obj(body);
  const problems: string[] = [];
  const deactivate =
    (b.activatePlan !== undefined && !bool(b.activatePlan)) || (b.forceActivatePlan !== undefined && !bool(b.forceActivatePlan));
  const rows = b.imageRampups === undefined && (deactivate || b.rampDownGuard !== undefined) ? [] : rampupsOf(b.imageRampups, problems);
  const guard = rampDownGuardOf(b.rampDownGuard, problems);
  if (problems.length > 0) fail(problems);
  return { keepActive: !deactivate, rows, ...(guard === undefined ? {} : { rampDownGuard: guard }) };
}
