/**
 * A short-lived, bounded cache of authenticated principals (issue 7: a status poller authenticates
 * on every request). An entry lives `ttlMs` by the service's clock and never past the expiry of the
 * session or token it came from; the service clears it on every change that could revoke access in
 * this process (logout, password, disabling, groups, token revocation). Another replica's change is
 * seen here within `ttlMs`.
 */
import type { Principal } from './principal.js';

interface Entry {
  principal: Principal;
  until: number;
}

export class PrincipalCache {
  private readonly entries = new Map<string, Entry>();
  private gen = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** A copy of the cached principal of `key` while it is fresh at `now`. */
  get(key: string, now: number): Principal | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return { ...e.principal, groups: [...e.principal.groups] };
  }

  /**
   * Changes with every delete or clear. A lookup notes it before reading the database and passes it
   * to set(), so a principal read before a revocation is not cached after it.
   */
  get generation(): number {
    return this.gen;
  }

  /** Keeps `principal` for ttlMs from `now`, and not past `expiresAt` (null: no expiry of its own). */
  set(key: string, principal: Principal, now: number, expiresAt: number | null, generation: number): void {
    if (this.ttlMs <= 0 || generation !== this.gen) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      // Oldest first: a Map iterates in insertion order.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    const until = Math.min(now + this.ttlMs, expiresAt ?? Number.POSITIVE_INFINITY);
    this.entries.set(key, { principal: { ...principal, groups: [...principal.groups] }, until });
  }

  delete(key: string): void {
    this.gen++;
    this.entries.delete(key);
  }

  clear(): void {
    this.gen++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
