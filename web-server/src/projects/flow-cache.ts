/**
 * Parsed flow definitions by (project id, version, flow id). A stored flow never changes once its
 * version is uploaded (versions are only ever added), so an entry is never stale and needs no
 * invalidation; the cache is bounded, least recently used first out. Definitions are deep-frozen:
 * every caller shares the same object.
 */
import type { FlowDefinition } from '../../../common/dsl/model.js';
import { LruMap } from '../../../common/lru.js';

export const DEFAULT_FLOW_CACHE_ENTRIES = 1000;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

export class FlowCache {
  private readonly entries: LruMap<string, FlowDefinition>;

  constructor(maxEntries: number = DEFAULT_FLOW_CACHE_ENTRIES) {
    this.entries = new LruMap(maxEntries);
  }

  private static keyOf(projectId: number, version: number, flowId: string): string {
    return `${projectId}\u0000${version}\u0000${flowId}`;
  }

  get(projectId: number, version: number, flowId: string): FlowDefinition | undefined {
    return this.entries.get(FlowCache.keyOf(projectId, version, flowId));
  }

  /** Keeps `flow` (frozen in place) and returns it. */
  set(projectId: number, version: number, flowId: string, flow: FlowDefinition): FlowDefinition {
    this.entries.set(FlowCache.keyOf(projectId, version, flowId), deepFreeze(flow));
    return flow;
  }

  get size(): number {
    return this.entries.size;
  }
}
