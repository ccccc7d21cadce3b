/** The image-management vocabulary: version states, ownership roles, stability tags. Pure. */

export const VERSION_STATES = ['NEW', 'ACTIVE', 'STABLE', 'UNSTABLE', 'DEPRECATED', 'TEST'] as const;
export type VersionState = (typeof VERSION_STATES)[number];

export const OWNER_ROLES = ['ADMIN', 'MEMBER', 'GUEST'] as const;
export type OwnerRole = (typeof OWNER_ROLES)[number];

export const STABILITY_TAGS = ['EXPERIMENTAL', 'STABLE', 'UNSTABLE'] as const;
export type StabilityTag = (typeof STABILITY_TAGS)[number];

export const DEPLOYABLES = ['IMAGE', 'JAR', 'TAR'] as const;
export type Deployable = (typeof DEPLOYABLES)[number];

/** States an `image.<type>.version` override may name (TEST only with `allow.image.test.version`). */
export const OVERRIDABLE_STATES: ReadonlySet<VersionState> = new Set(['NEW', 'ACTIVE', 'STABLE']);

/** States a pinned version set or a ramp-up plan may still hand out. */
export const RUNNABLE_STATES: ReadonlySet<VersionState> = new Set(['NEW', 'ACTIVE', 'STABLE', 'TEST']);

/** The caller of an image-management operation, as the web server authenticated it. */
export interface ImageCaller {
  username: string;
  /** Global Caisson ADMIN role. */
  isAdmin: boolean;
  groups: readonly string[];
}

export interface ImageVersion {
  id: number;
  typeId: number;
  imageType: string;
  path: string;
  version: string;
  state: VersionState;
  releaseTag: string | null;
  digest: string | null;
  description: string;
  createdBy: string;
  createdAt: number;
  modifiedBy: string;
  modifiedAt: number;
}

export interface RampupRow {
  version: string;
  versionId: number;
  percentage: number;
  stabilityTag: StabilityTag;
}

export function isVersionState(s: string): s is VersionState {
  return (VERSION_STATES as readonly string[]).includes(s);
}

export function isOwnerRole(s: string): s is OwnerRole {
  return (OWNER_ROLES as readonly string[]).includes(s);
}

export function isStabilityTag(s: string): s is StabilityTag {
  return (STABILITY_TAGS as readonly string[]).includes(s);
}

/** Image type names are compared case-insensitively and stored lower-case (DESIGN §5). */
export function normalizeTypeName(name: string): string {
  return name.trim().toLowerCase();
}
