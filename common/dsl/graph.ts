/**
 * Pure helpers over one level of a flow: nodes with names and the names they depend on.
 *
 * Edges run from parent to child (the order in which jobs run): `b` with `dependsOn: [a]` gives the
 * edge `a -> b`. Names are expected to be unique; a repeated name is ignored after its first
 * declaration, and dependencies on names that are not nodes are ignored (the DSL reports both).
 * Everything is iterative, so 10,000-node chains do not exhaust the stack, and deterministic:
 * ties are broken by declaration order.
 */
import { CaissonError } from '../errors.js';

export interface GraphNode {
  readonly name: string;
  readonly dependsOn: readonly string[];
}

interface IndexedGraph {
  names: string[];
  /** children[i]: indexes of the nodes that depend on node i, in declaration order, no repeats. */
  children: number[][];
  /** parents[i]: indexes of the nodes node i depends on, in the order written, no repeats. */
  parents: number[][];
}

function indexGraph(nodes: readonly GraphNode[]): IndexedGraph {
  const indexOf = new Map<string, number>();
  const kept: GraphNode[] = [];
  for (const node of nodes) {
    if (indexOf.has(node.name)) continue;
    indexOf.set(node.name, kept.length);
    kept.push(node);
  }
  const children: number[][] = kept.map(() => []);
  const parents: number[][] = kept.map((node) => {
    const seen = new Set<number>();
    for (const dep of node.dependsOn) {
      const p = indexOf.get(dep);
      if (p !== undefined) seen.add(p);
    }
    return [...seen];
  });
  parents.forEach((ps, child) => {
    for (const p of ps) children[p]?.push(child);
  });
  return { names: kept.map((n) => n.name), children, parents };
}

function at<T>(list: readonly T[], i: number): T {
  const value = list[i];
  if (value === undefined) throw new RangeError(`index ${i} out of range`);
  return value;
}

/** For each node, the names of the nodes that depend on it, in declaration order. */
export function childrenOf(nodes: readonly GraphNode[]): Map<string, string[]> {
  const g = indexGraph(nodes);
  return new Map(g.names.map((name, i) => [name, at(g.children, i).map((c) => at(g.names, c))]));
}

/** For each node, the names of the nodes it depends on (existing ones only, no repeats). */
export function parentsOf(nodes: readonly GraphNode[]): Map<string, string[]> {
  const g = indexGraph(nodes);
  return new Map(g.names.map((name, i) => [name, at(g.parents, i).map((p) => at(g.names, p))]));
}

/**
 * One dependency cycle per group of nodes that depend on each other (strongly connected
 * component), each as a path whose first and last element are equal: `['a', 'b', 'a']` for
 * `a -> b -> a`. Each cycle starts at the earliest-declared node of its group and is a shortest one
 * through that node; cycles are ordered by that node's declaration. A self-dependency is `['a', 'a']`.
 */
export function findCycles(nodes: readonly GraphNode[]): string[][] {
  const g = indexGraph(nodes);
  return stronglyConnected(g.children)
    .filter((component) => component.length > 1 || at(g.children, at(component, 0)).includes(at(component, 0)))
    .map((component) => Math.min(...component))
    .sort((a, b) => a - b)
    .map((start) => shortestCycleThrough(g.children, start).map((i) => at(g.names, i)));
}

/** The first cycle of {@link findCycles}, or null when the nodes form a DAG. */
export function findCycle(nodes: readonly GraphNode[]): string[] | null {
  return findCycles(nodes)[0] ?? null;
}

/**
 * Node names so that every node comes after the nodes it depends on. Among nodes that are ready at
 * the same time, the earlier-declared one comes first. Throws when there is a cycle.
 */
export function topologicalOrder(nodes: readonly GraphNode[]): string[] {
  const g = indexGraph(nodes);
  const waiting = g.parents.map((ps) => ps.length);
  const ready = new MinHeap();
  waiting.forEach((count, i) => {
    if (count === 0) ready.push(i);
  });
  const order: string[] = [];
  for (let i = ready.pop(); i !== undefined; i = ready.pop()) {
    order.push(at(g.names, i));
    for (const child of at(g.children, i)) {
      const left = at(waiting, child) - 1;
      waiting[child] = left;
      if (left === 0) ready.push(child);
    }
  }
  if (order.length < g.names.length) {
    const cycle = findCycle(nodes) ?? [];
    throw new CaissonError('INVALID_FLOW_YAML', `dependency cycle: ${cycle.join(' -> ')}`);
  }
  return order;
}

/** Tarjan's algorithm without recursion. */
function stronglyConnected(edges: readonly number[][]): number[][] {
  const index: number[] = edges.map(() => -1);
  const low: number[] = edges.map(() => 0);
  const onStack: boolean[] = edges.map(() => false);
  const stack: number[] = [];
  const components: number[][] = [];
  const frames: { v: number; next: number }[] = [];
  let counter = 0;

  const open = (v: number): void => {
    index[v] = counter;
    low[v] = counter;
    counter += 1;
    stack.push(v);
    onStack[v] = true;
    frames.push({ v, next: 0 });
  };

  for (let root = 0; root < edges.length; root += 1) {
    if (at(index, root) !== -1) continue;
    open(root);
    while (frames.length > 0) {
      const frame = at(frames, frames.length - 1);
      const out = at(edges, frame.v);
      if (frame.next < out.length) {
        const w = at(out, frame.next);
        frame.next += 1;
        if (at(index, w) === -1) open(w);
        else if (at(onStack, w)) low[frame.v] = Math.min(at(low, frame.v), at(index, w));
        continue;
      }
      frames.pop();
      const v = frame.v;
      if (at(low, v) === at(index, v)) {
        const component: number[] = [];
        let w: number;
        do {
          w = stack.pop() ?? v;
          onStack[w] = false;
          component.push(w);
        } while (w !== v);
        components.push(component);
      }
      const parent = frames[frames.length - 1];
      if (parent !== undefined) low[parent.v] = Math.min(at(low, parent.v), at(low, v));
    }
  }
  return components;
}

/** Breadth-first search from `start` back to itself; `start` must lie on a cycle. */
function shortestCycleThrough(edges: readonly number[][], start: number): number[] {
  const previous = new Map<number, number>();
  const queue: number[] = [start];
  for (let head = 0; head < queue.length; head += 1) {
    const v = at(queue, head);
    for (const w of at(edges, v)) {
      if (w === start) {
        // Walk back from v to start, then read the path forwards: start -> … -> v -> start.
        const back: number[] = [];
        for (let u = v; u !== start; u = previous.get(u) ?? start) back.push(u);
        return [start, ...back.reverse(), start];
      }
      if (!previous.has(w) && w !== start) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  throw new Error(`node ${start} is not on a cycle`);
}

/** A binary min-heap of node indexes (declaration order breaks ties in the topological order). */
class MinHeap {
  private readonly items: number[] = [];

  push(value: number): void {
    const items = this.items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (at(items, parent) <= value) break;
      items[i] = at(items, parent);
      i = parent;
    }
    items[i] = value;
  }

  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const smaller = right < items.length && at(items, right) < at(items, left) ? right : left;
      if (at(items, smaller) >= last) break;
      items[i] = at(items, smaller);
      i = smaller;
    }
    items[i] = last;
    return top;
  }
}
