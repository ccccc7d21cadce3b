/**
 * A Flow 1.0 project (Azkaban's `.job` and `.properties` files) → the same flow model as Flow 2.0,
 * or one INVALID_PROJECT error listing every problem. Pure.
 *
 * Azkaban's rules (DirectoryFlowLoader, docs/createFlows.rst "Creating Flows (Flow 1.0)"):
 * - every `.job` file anywhere in the archive is a job named after the file; names are unique across
 *   the whole project;
 * - `dependencies=a,b` lists the jobs that run first; `type` is the jobtype (it may come from a
 *   `.properties` file); `condition` is a conditional-flow expression as in Flow 2.0;
 * - `.properties` files are shared by the jobs of their directory and every directory below it, a
 *   nearer directory winning (files of one directory are merged in name order, a later one winning);
 *   they rank below every other property source (FlowNode.inherited);
 * - each job that no other job depends on is a flow named after it, made of that job and everything
 *   it depends on;
 * - `type=flow` with `flow.name=X` embeds flow X (an end job's name) as an embedded flow.
 */
import type { Problem } from '../errors.js';
import { parseCondition } from './condition.js';
import { findCycles } from './graph.js';
import { javaPropertiesToRecord, parseJavaProperties, type PropertyEntry } from './java-properties.js';
import type { FlowDefinition, FlowNode, ParsedProject } from './model.js';
import { checkNodeName } from './names.js';
import { problemsError, sortProblems } from './problem-list.js';
import { baseName, isJobFile, JOB_SUFFIX } from './project-files.js';

export const PROPERTIES_SUFFIX = '.properties';
const FLOW_TYPE = 'flow';
const FLOW_NAME_KEY = 'flow.name';
/** Keys that shape the graph rather than configure the job; they are not part of `config`. */
const STRUCTURE_KEYS = ['type', 'dependencies', 'condition'];

interface JobFile {
  name: string;
  file: string;
  entries: PropertyEntry[];
  props: Record<string, string>;
  inherited: Record<string, string>;
  type: string;
  dependsOn: string[];
}

export function isPropertiesFile(path: string): boolean {
  const name = baseName(path);
  return !name.startsWith('.') && name.length > PROPERTIES_SUFFIX.length && name.endsWith(PROPERTIES_SUFFIX);
}

function dirOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/**
 * Parses a Flow 1.0 project. `files` maps archive-relative paths (`/` separators) to UTF-8 text;
 * entries other than `.job` and `.properties` files are ignored.
 */
export function parseFlow1Project(files: ReadonlyMap<string, string>): ParsedProject {
  const problems: Problem[] = [];
  const paths = [...files.keys()].sort();
  const text = (path: string): string => files.get(path) ?? '';

  const shared = new Map<string, Record<string, string>>();
  for (const path of paths.filter(isPropertiesFile)) {
    const dir = dirOf(path);
    shared.set(dir, { ...(shared.get(dir) ?? {}), ...javaPropertiesToRecord(parseJavaProperties(text(path))) });
  }
  const inheritedAt = (dir: string): Record<string, string> => {
    const chain: string[] = [''];
    const parts = dir === '' ? [] : dir.split('/');
    for (let i = 1; i <= parts.length; i += 1) chain.push(parts.slice(0, i).join('/'));
    return Object.assign({}, ...chain.map((d) => shared.get(d) ?? {})) as Record<string, string>;
  };

  const jobs = new Map<string, JobFile>();
  const jobPaths = paths.filter(isJobFile);
  if (jobPaths.length === 0) problems.push({ message: 'no .job files in the project; a Flow 1.0 project needs at least one' });
  for (const file of jobPaths) {
    const name = baseName(file).slice(0, -JOB_SUFFIX.length);
    const invalid = checkNodeName(name, 'job name');
    if (invalid !== null) {
      problems.push({ message: invalid, file });
      continue;
    }
    const earlier = jobs.get(name);
    if (earlier !== undefined) {
      problems.push({ message: `job ${JSON.stringify(name)} is already defined by ${earlier.file}`, file });
      continue;
    }
    const entries = parseJavaProperties(text(file));
    const props = javaPropertiesToRecord(entries);
    const inherited = inheritedAt(dirOf(file));
    const type = (props.type ?? inherited.type ?? '').trim();
    if (type === '')
      problems.push({ message: `job ${JSON.stringify(name)} has no type; set type=… in its .job file or a .properties file`, file });
    const dependsOn = [
      ...new Set(
        (props.dependencies ?? '')
          .split(',')
          .map((d) => d.trim())
          .filter((d) => d !== ''),
      ),
    ];
    jobs.set(name, { name, file, entries, props, inherited, type, dependsOn });
  }

  const lineOf = (job: JobFile, key: string): number | undefined => job.entries.filter((e) => e.key === key).at(-1)?.line;
  const at = (job: JobFile, key: string, message: string): Problem => {
    const line = lineOf(job, key);
    return line === undefined ? { message, file: job.file } : { message, file: job.file, line };
  };

  for (const job of jobs.values()) {
    for (const dep of job.dependsOn) {
      if (dep === job.name) problems.push(at(job, 'dependencies', `job ${JSON.stringify(job.name)} depends on itself`));
      else if (!jobs.has(dep)) {
        problems.push(
          at(job, 'dependencies', `job ${JSON.stringify(job.name)} depends on ${JSON.stringify(dep)}, which is not a job of the project`),
        );
      }
    }
  }
  const graph = [...jobs.values()].map((j) => ({ name: j.name, dependsOn: j.dependsOn.filter((d) => d !== j.name && jobs.has(d)) }));
  const cycles = findCycles(graph);
  for (const cycle of cycles) {
    const start = jobs.get(cycle[0] ?? '');
    problems.push({ message: `dependency cycle: ${cycle.join(' -> ')}`, ...(start === undefined ? {} : { file: start.file }) });
  }

  const parentsOf = new Map(graph.map((g) => [g.name, g.dependsOn]));
  const ancestorsOf = (name: string): Set<string> => {
    const seen = new Set<string>();
    const stack = [...(parentsOf.get(name) ?? [])];
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(parentsOf.get(next) ?? []));
    }
    return seen;
  };

  const hasChildren = new Set(graph.flatMap((g) => g.dependsOn));
  const flowNames = new Set([...jobs.keys()].filter((n) => !hasChildren.has(n)));

  if (cycles.length === 0) {
    for (const job of jobs.values()) {
      const condition = job.props.condition;
      if (condition !== undefined && condition.trim() !== '') {
        const parsed = parseCondition(condition);
        if (!parsed.ok) problems.push(at(job, 'condition', `invalid condition of job ${JSON.stringify(job.name)}: ${parsed.message}`));
        else {
          const ancestors = ancestorsOf(job.name);
          for (const ref of parsed.condition.references) {
            if (!jobs.has(ref.job)) {
              problems.push(
                at(
                  job,
                  'condition',
                  `condition of job ${JSON.stringify(job.name)} refers to job ${JSON.stringify(ref.job)}, which is not a job of the project`,
                ),
              );
            } else if (!ancestors.has(ref.job)) {
              problems.push(
                at(
                  job,
                  'condition',
                  `condition of job ${JSON.stringify(job.name)} refers to job ${JSON.stringify(ref.job)}, which job ${JSON.stringify(job.name)} does not depend on`,
                ),
              );
            }
          }
        }
      }
      if (job.type === FLOW_TYPE) {
        const target = (job.props[FLOW_NAME_KEY] ?? '').trim();
        if (target === '') problems.push(at(job, 'type', `job ${JSON.stringify(job.name)} has type=flow but no ${FLOW_NAME_KEY}`));
        else if (!flowNames.has(target)) {
          problems.push(
            at(
              job,
              FLOW_NAME_KEY,
              `job ${JSON.stringify(job.name)} embeds flow ${JSON.stringify(target)}, which is not a flow of the project (a flow is a job no other job depends on)`,
            ),
          );
        }
      }
    }
  }

  const flows: FlowDefinition[] = [];
  if (problems.length === 0) {
    const build = new FlowBuilder(jobs, ancestorsOf, problems);
    for (const name of [...flowNames].sort()) {
      const nodes = build.nodesOf(name, []);
      flows.push({ name, file: jobs.get(name)?.file ?? '', format: '1.0', config: {}, nodes });
    }
  }
  if (problems.length > 0) throw problemsError('INVALID_PROJECT', sortProblems(problems));
  return { format: '1.0', projectFile: '', flows };
}

class FlowBuilder {
  constructor(
    private readonly jobs: ReadonlyMap<string, JobFile>,
    private readonly ancestorsOf: (name: string) => Set<string>,
    private readonly problems: Problem[],
  ) {}

  /** The nodes of flow `end`: it and every job it depends on, by name. `stack`: flows being built. */
  nodesOf(end: string, stack: readonly string[]): FlowNode[] {
    const names = [...this.ancestorsOf(end), end].sort();
    return names.map((name) => this.nodeOf(name, [...stack, end]));
  }

  private nodeOf(name: string, stack: readonly string[]): FlowNode {
    const job = this.jobs.get(name);
    if (job === undefined) throw new RangeError(`no job "${name}"`);
    const config = Object.fromEntries(Object.entries(job.props).filter(([k]) => !STRUCTURE_KEYS.includes(k)));
    const node: FlowNode = { name, type: job.type, dependsOn: job.dependsOn, config };
    const condition = job.props.condition?.trim();
    if (condition !== undefined && condition !== '') node.condition = condition;
    if (Object.keys(job.inherited).length > 0) node.inherited = job.inherited;
    if (job.type === FLOW_TYPE) {
      const target = (job.props[FLOW_NAME_KEY] ?? '').trim();
      if (stack.includes(target)) {
        const message = `flow ${JSON.stringify(target)} embeds itself: ${[...stack.slice(stack.indexOf(target)), target].join(' -> ')}`;
        if (!this.problems.some((p) => p.message === message)) this.problems.push({ message, file: job.file });
        node.nodes = [];
      } else {
        node.nodes = this.nodesOf(target, stack);
      }
    }
    return node;
  }
}
