/**
 * One Flow 2.0 `.flow` document → flow config and nodes, with every problem located in the file.
 *
 * Grammar (docs/createFlows.rst of azkaban/azkaban):
 *   flow: { config?: {key: scalar}, nodes: [node, …] }
 *   node: { name, type, dependsOn?: [name, …], config?: {key: scalar}, condition?, nodes? }
 * `nodes` on a node makes it an embedded flow and is allowed (and required) only with `type: flow`.
 * Names are unique per level and `dependsOn` refers to siblings only (NodeBeanLoader.validate
 * checks each level on its own). Nodes are named in messages by their id relative to the flow,
 * `outer:inner` inside embedded flows, as Azkaban's `nestedId`.
 */
import { isAlias, isMap, isNode, isScalar, isSeq } from 'yaml';
import type { Node as YamlNode, Pair, Scalar, YAMLMap } from 'yaml';
import type { Problem } from '../errors.js';
import { parseCondition } from './condition.js';
import { findCycles } from './graph.js';
import type { FlowNode } from './model.js';
import { checkNodeName } from './names.js';
import { locate, problemAt } from './safe-yaml.js';
import type { YamlSource } from './safe-yaml.js';

export interface FlowDocument {
  config: Record<string, string>;
  nodes: FlowNode[];
}

const FLOW_KEYS = ['config', 'nodes'] as const;
const NODE_KEYS = ['name', 'type', 'dependsOn', 'config', 'condition', 'nodes'] as const;
const FLOW_TYPE = 'flow';

/** One flow level: the file's top level or the inside of an embedded flow. */
interface Level {
  /** `flow "basic"` or `embedded flow "outer:inner"`. */
  label: string;
  /** Names of the embedded flows leading to this level ([] at the top). */
  path: string[];
}

interface DraftNode {
  node: FlowNode;
  /** Undefined when the node has no usable name; such a node takes no part in level checks. */
  name: string | undefined;
  ref: string;
  nameNode: YamlNode | undefined;
  deps: { name: string; at: YamlNode }[];
  /** The condition's value node, when the node has a non-empty condition. */
  conditionNode: YamlNode | undefined;
}

/** Reads a parsed flow file; never throws for bad input, returns the problems instead. */
export function readFlowDocument(source: YamlSource, flowName: string): { flow: FlowDocument; problems: Problem[] } {
  const reader = new FlowReader(source);
  const flow = reader.readRoot(flowName);
  return { flow, problems: reader.problems };
}

class FlowReader {
  readonly problems: Problem[] = [];

  constructor(private readonly source: YamlSource) {}

  readRoot(flowName: string): FlowDocument {
    const flow: FlowDocument = { config: {}, nodes: [] };
    const written = this.source.document.contents;
    const root = this.resolve(written);
    if (root === undefined || isNullScalar(root)) {
      this.report(undefined, 'flow file is empty; expected a mapping with a "nodes" list');
      return flow;
    }
    if (!isMap(root)) {
      this.report(written ?? undefined, `a flow file must be a mapping with a "nodes" list, found ${describe(root)}`);
      return flow;
    }
    const level: Level = { label: `flow ${quote(flowName)}`, path: [] };
    let nodesPair: Pair | undefined;
    for (const pair of root.items) {
      const key = keyText(pair);
      if (key === 'config') flow.config = this.readConfig(pair, level.label);
      else if (key === 'nodes') nodesPair = pair;
      else if (key === 'trigger') this.report(keyNode(pair), 'flow triggers ("trigger") are not supported');
      else this.report(keyNode(pair), `unknown key ${quote(key)} in ${level.label}; allowed keys: ${FLOW_KEYS.join(', ')}`);
    }
    if (nodesPair === undefined) this.report(root, `${level.label} is missing "nodes"`);
    else flow.nodes = this.readNodes(nodesPair, level);
    return flow;
  }

  private readNodes(pair: Pair, level: Level): FlowNode[] {
    const written = valueNode(pair);
    const value = this.resolve(written);
    if (value === undefined || isNullScalar(value)) {
      this.report(keyNode(pair), `"nodes" of ${level.label} must not be empty`);
      return [];
    }
    if (!isSeq(value)) {
      this.report(written, `"nodes" of ${level.label} must be a list, found ${describe(value)}`);
      return [];
    }
    if (value.items.length === 0) this.report(written, `"nodes" of ${level.label} must not be empty`);
    const drafts: DraftNode[] = [];
    for (const item of value.items) {
      const draft = this.readNode(asNode(item), level);
      if (draft !== undefined) drafts.push(draft);
    }
    this.checkLevel(drafts, level);
    return drafts.map((d) => d.node);
  }

  private readNode(written: YamlNode | undefined, level: Level): DraftNode | undefined {
    const map = this.resolve(written);
    if (!isMap(map)) {
      this.report(written, `each entry of "nodes" must be a mapping with "name" and "type", found ${describe(map)}`);
      return undefined;
    }
    const pairs = new Map<string, Pair>();
    const unknown: Pair[] = [];
    for (const pair of map.items) {
      const key = keyText(pair);
      if ((NODE_KEYS as readonly string[]).includes(key)) pairs.set(key, pair);
      else unknown.push(pair);
    }

    // name
    let name: string | undefined;
    let nameNode: YamlNode | undefined;
    const namePair = pairs.get('name');
    if (namePair === undefined) {
      this.report(map, 'a node is missing "name"');
    } else {
      nameNode = writtenValueOrKey(namePair);
      name = this.readText(namePair, '"name" of a node');
      const invalid = name === undefined ? null : checkNodeName(name, 'node name');
      if (invalid !== null) this.report(nameNode, invalid);
      if (name === '') name = undefined;
    }
    const id = [...level.path, name ?? '?'].join(':');
    const ref = name === undefined ? 'a node' : `node ${quote(id)}`;

    // type
    let type = '';
    const typePair = pairs.get('type');
    if (typePair === undefined) {
      this.report(map, `${ref} is missing "type"`);
    } else {
      const text = this.readText(typePair, `"type" of ${ref}`);
      if (text === '') this.report(writtenValueOrKey(typePair), `"type" of ${ref} must not be empty`);
      type = text ?? '';
    }

    const dependsOnPair = pairs.get('dependsOn');
    const deps = dependsOnPair === undefined ? [] : this.readDependsOn(dependsOnPair, ref);
    const configPair = pairs.get('config');
    const config = configPair === undefined ? {} : this.readConfig(configPair, ref);
    const conditionPair = pairs.get('condition');
    const condition = conditionPair === undefined ? undefined : this.readText(conditionPair, `"condition" of ${ref}`);
    const conditionNode = conditionPair === undefined ? undefined : this.resolve(valueNode(conditionPair));

    for (const pair of unknown) {
      this.report(keyNode(pair), `unknown key ${quote(keyText(pair))} in ${ref}; allowed keys: ${NODE_KEYS.join(', ')}`);
    }

    const node: FlowNode = { name: name ?? '', type, dependsOn: deps.map((d) => d.name), config };
    if (condition !== undefined && condition !== '') node.condition = condition;

    const nodesPair = pairs.get('nodes');
    if (type === FLOW_TYPE) {
      if (nodesPair === undefined) {
        this.report(map, `embedded flow ${quote(id)} is missing "nodes"`);
        node.nodes = [];
      } else {
        node.nodes = this.readNodes(nodesPair, { label: `embedded flow ${quote(id)}`, path: [...level.path, name ?? '?'] });
      }
    } else if (nodesPair !== undefined && typePair !== undefined && type !== '') {
      this.report(keyNode(nodesPair), `"nodes" is only allowed on nodes of type flow, but ${ref} has type ${quote(type)}`);
    }
    return { node, name, ref, nameNode, deps, conditionNode };
  }

  private readDependsOn(pair: Pair, ref: string): { name: string; at: YamlNode }[] {
    const written = valueNode(pair);
    const value = this.resolve(written);
    if (value === undefined || isNullScalar(value)) return [];
    if (!isSeq(value)) {
      this.report(written, `"dependsOn" of ${ref} must be a list of node names, found ${describe(value)}`);
      return [];
    }
    const deps: { name: string; at: YamlNode }[] = [];
    for (const item of value.items) {
      const itemNode = asNode(item);
      const resolved = this.resolve(itemNode);
      const text = isScalar(resolved) ? scalarText(resolved) : undefined;
      if (text === undefined || text === '' || itemNode === undefined) {
        this.report(itemNode ?? written, `each entry of "dependsOn" of ${ref} must be a node name, found ${describe(resolved)}`);
      } else if (!deps.some((d) => d.name === text)) {
        // Azkaban tolerates a repeated parent; it is the same edge.
        deps.push({ name: text, at: itemNode });
      }
    }
    return deps;
  }

  private readConfig(pair: Pair, ownerLabel: string): Record<string, string> {
    const written = valueNode(pair);
    const value = this.resolve(written);
    if (value === undefined || isNullScalar(value)) return {};
    if (!isMap(value)) {
      this.report(written, `"config" of ${ownerLabel} must be a mapping, found ${describe(value)}`);
      return {};
    }
    const entries = new Map<string, string>();
    for (const entry of value.items) {
      const key = keyText(entry);
      const entryValue = this.resolve(valueNode(entry));
      if (entries.has(key)) {
        this.report(keyNode(entry), `config key ${quote(key)} of ${ownerLabel} is given twice`);
      } else if (entryValue === undefined) {
        entries.set(key, '');
      } else if (isScalar(entryValue)) {
        entries.set(key, scalarText(entryValue) ?? '');
      } else {
        this.report(
          valueNode(entry),
          `config value ${quote(key)} of ${ownerLabel} must be a string, number or boolean, found ${describe(entryValue)}`,
        );
      }
    }
    // fromEntries defines own properties, so a key like "__proto__" stays an ordinary key.
    return Object.fromEntries(entries);
  }

  /** A scalar field as text; reports and returns undefined when it is a mapping or a list. */
  private readText(pair: Pair, what: string): string | undefined {
    const written = valueNode(pair);
    const value = this.resolve(written);
    if (value === undefined) return '';
    if (!isScalar(value)) {
      this.report(written, `${what} must be a string, found ${describe(value)}`);
      return undefined;
    }
    return scalarText(value) ?? '';
  }

  /** Unique names, known siblings as parents, no self-dependency, no cycles. */
  private checkLevel(drafts: readonly DraftNode[], level: Level): void {
    const first = new Map<string, DraftNode>();
    for (const draft of drafts) {
      if (draft.name === undefined) continue;
      const earlier = first.get(draft.name);
      if (earlier === undefined) {
        first.set(draft.name, draft);
        continue;
      }
      const line = this.lineOf(earlier.nameNode);
      const where = line === undefined ? '' : `; it is first defined on line ${line}`;
      this.report(draft.nameNode, `duplicate node name ${quote(draft.name)} in ${level.label}${where}`);
    }

    const graph: { name: string; dependsOn: string[] }[] = [];
    for (const draft of drafts) {
      const valid: string[] = [];
      for (const dep of draft.deps) {
        if (dep.name === draft.name) this.report(dep.at, `${draft.ref} depends on itself`);
        else if (!first.has(dep.name))
          this.report(dep.at, `${draft.ref} depends on ${quote(dep.name)}, which is not a node of ${level.label}`);
        else valid.push(dep.name);
      }
      if (draft.name !== undefined && first.get(draft.name) === draft) graph.push({ name: draft.name, dependsOn: valid });
    }

    const cycles = findCycles(graph);
    for (const cycle of cycles) {
      const start = first.get(cycle[0] ?? '');
      const ids = cycle.map((n) => [...level.path, n].join(':'));
      this.report(start?.nameNode, `dependency cycle: ${ids.join(' -> ')}`);
    }
    if (cycles.length === 0) this.checkConditions(drafts, graph, level);
  }

  /** Each condition parses, and refers only to nodes of its level that its node depends on. */
  private checkConditions(drafts: readonly DraftNode[], graph: readonly { name: string; dependsOn: string[] }[], level: Level): void {
    const parentsOf = new Map(graph.map((g) => [g.name, g.dependsOn]));
    for (const draft of drafts) {
      const text = draft.node.condition;
      if (text === undefined) continue;
      const parsed = parseCondition(text);
      if (!parsed.ok) {
        this.problems.push(
          this.conditionProblem(draft.conditionNode, parsed.offset, `invalid condition of ${draft.ref}: ${parsed.message}`),
        );
        continue;
      }
      const ancestors = ancestorsOf(draft.name ?? '', parentsOf);
      for (const reference of parsed.condition.references) {
        const message = !parentsOf.has(reference.job)
          ? `condition of ${draft.ref} refers to job ${quote(reference.job)}, which is not a node of ${level.label}`
          : !ancestors.has(reference.job)
            ? `condition of ${draft.ref} refers to job ${quote(reference.job)}, which ${draft.ref} does not depend on`
            : undefined;
        if (message !== undefined) this.problems.push(this.conditionProblem(draft.conditionNode, reference.offset, message));
      }
    }
  }

  /**
   * A problem at `offset` inside a condition: the exact line and column when the condition is
   * written on one line (plain or quoted), else the start of the value.
   */
  private conditionProblem(node: YamlNode | undefined, offset: number, message: string): Problem {
    const range = node?.range;
    if (node === undefined || range === undefined || range === null || !isScalar(node)) return problemAt(this.source, node, message);
    const written = this.source.text.slice(range[0], range[1]);
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
    if (written.includes('\n') || (node.type !== 'PLAIN' && !quoted) || (quoted && written.includes('\\'))) {
      return problemAt(this.source, node, message);
    }
    return { message, file: this.source.file, ...locate(this.source.lineCounter, range[0] + (quoted ? 1 : 0) + offset) };
  }

  private resolve(node: YamlNode | undefined | null): YamlNode | undefined {
    if (node === undefined || node === null) return undefined;
    if (isAlias(node)) return node.resolve(this.source.document);
    return node;
  }

  private report(node: YamlNode | undefined, message: string): void {
    this.problems.push(problemAt(this.source, node, message));
  }

  private lineOf(node: YamlNode | undefined): number | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : locate(this.source.lineCounter, offset).line;
  }
}

/** Every node `name` depends on, directly or not (the level has no cycles). */
function ancestorsOf(name: string, parentsOf: ReadonlyMap<string, readonly string[]>): Set<string> {
  const seen = new Set<string>();
  const stack = [...(parentsOf.get(name) ?? [])];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(parentsOf.get(next) ?? []));
  }
  return seen;
}

function asNode(value: unknown): YamlNode | undefined {
  return isNode(value) ? value : undefined;
}

function keyNode(pair: Pair): YamlNode | undefined {
  return asNode(pair.key);
}

function valueNode(pair: Pair): YamlNode | undefined {
  return asNode(pair.value);
}

/** The value node, or the key when the value is not written at all (`name:`), to point at. */
function writtenValueOrKey(pair: Pair): YamlNode | undefined {
  const value = valueNode(pair);
  const range = value?.range;
  if (value === undefined || (range !== undefined && range !== null && range[0] === range[1])) return keyNode(pair);
  return value;
}

function keyText(pair: Pair): string {
  const key = pair.key;
  return isScalar(key) ? (scalarText(key) ?? '') : '';
}

function isNullScalar(node: YamlNode): boolean {
  return isScalar(node) && node.value === null;
}

/**
 * A scalar as Azkaban-style property text: strings as they are, numbers and booleans as written
 * (`1.0` stays "1.0", `0x1F` stays "0x1F"). Undefined for an empty value.
 */
function scalarText(scalar: Scalar): string | undefined {
  const value: unknown = scalar.value;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return scalar.source ?? String(value);
  return undefined;
}

function describe(node: YamlNode | YAMLMap | undefined): string {
  if (node === undefined) return 'an empty value';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const value: unknown = node.value;
    if (value === null) return 'an empty value';
    if (typeof value === 'string') return 'a string';
    if (typeof value === 'number' || typeof value === 'bigint') return 'a number';
    if (typeof value === 'boolean') return 'a boolean';
  }
  return 'a value';
}

function quote(text: string): string {
  return JSON.stringify(text);
}
