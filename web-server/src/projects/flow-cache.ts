/**
 * Parsed flow definitions by (project id, version, flow id). A stored flow never changes once its
 * version is uploaded (versions are only ever added), so an entry is never stale and needs no
 * invalidation; the cache is bounded, least recently used first out. Definitions are deep-frozen:
 * every caller shares the same object.
 */
import type { FlowDefinition } from '../../../common/dsl/model.js';

export const DEFAULT_FLOW_CACHE_ENTRIES = 1000;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

export class FlowCache {
  private readonly entries = new Map<string, FlowDefinition>();

  constructor(private readonly maxEntries: number = DEFAULT_FLOW_CACHE_ENTRIES) {}

  private static keyOf(projectId: number, version: number, flowId: string): string {
    return `${projectId}\u0000${version}\u0000${flowId}`;
  }

  get(projectId: number, version: number, flowId: string): FlowDefinition | undefined {
    const key = FlowCache.keyOf(projectId, version, flowId);
    const flow = this.entries.get(key);
    if (flow !== undefined) {
      // Most recently used last: a Map iterates in insertion order.
      this.entries.delete(key);
      this.entries.set(key, flow);
    }
    return flow;
  }

  /** Keeps `flow` (frozen in place) and returns it. */
  set(projectId: number, version: number, flowId: string, flow: FlowDefinition): FlowDefinition {
    if (this.maxEntries <= 0) return deepFreeze(flow);
    const key = FlowCache.keyOf(projectId, version, flowId);
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, deepFreeze(flow));
    return flow;
  }

  get size(): number {
    return this.entries.size;
  }
}
