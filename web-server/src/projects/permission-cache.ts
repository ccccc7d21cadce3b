/**
 * A short-lived, bounded cache of the grants a non-admin caller holds on a project (issue 7: a
 * status poller's permission check on every request). The key is everything the grants query reads
 * — project id, username and the caller's groups — so two callers never share an entry, and a
 * caller whose groups changed (the principal cache is cleared on group changes) misses. An entry
 * lives `ttlMs` by the service's clock; ProjectService drops a project's entries after every
 * permission change it commits, so this process never answers from grants older than its own
 * change. Another replica's change is seen here within `ttlMs`.
 */
import type { PermissionGrant } from './permissions.js';

export const DEFAULT_PERMISSION_CACHE_TTL_MS = 1000;
export const DEFAULT_PERMISSION_CACHE_ENTRIES = 10_000;

interface Entry {
  projectId: number;
  grants: readonly PermissionGrant[];
  until: number;
}

export class PermissionCache {
  private readonly entries = new Map<string, Entry>();
  private gen = 0;

  constructor(
    private readonly ttlMs: number = DEFAULT_PERMISSION_CACHE_TTL_MS,
    private readonly maxEntries: number = DEFAULT_PERMISSION_CACHE_ENTRIES,
  ) {}

  static keyOf(projectId: number, username: string, groups: readonly string[]): string {
    // NUL cannot occur in a username or group name; sorted groups: the grants do not depend on their order.
    return `${projectId}\u0000${username}\u0000${[...groups].sort().join('\u0000')}`;
  }

  /** The cached grants of `key` while they are fresh at `now`. */
  get(key: string, now: number): readonly PermissionGrant[] | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.grants;
  }

  /**
   * Changes with every invalidation. A lookup notes it before reading the database and passes it to
   * set(), so grants read before a change are not cached after it.
   */
  get generation(): number {
    return this.gen;
  }

  set(key: string, projectId: number, grants: readonly PermissionGrant[], now: number, generation: number): void {
    if (this.ttlMs <= 0 || this.maxEntries <= 0 || generation !== this.gen) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      // Oldest first: a Map iterates in insertion order.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    const frozen = Object.freeze(grants.map((g) => Object.freeze({ ...g, permissions: Object.freeze([...g.permissions]) })));
    this.entries.set(key, { projectId, grants: frozen as readonly PermissionGrant[], until: now + this.ttlMs });
  }

  /** Drops every entry of the project (after a change to its permissions). */
  invalidateProject(projectId: number): void {
    this.gen++;
    for (const [key, e] of this.entries) if (e.projectId === projectId) this.entries.delete(key);
  }

  clear(): void {
    this.gen++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
