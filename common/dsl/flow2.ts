/**
 * A Flow 2.0 project (the text of its `.project` and `.flow` files) → plain, sorted flow data, or
 * one error listing every problem of every file.
 *
 * The error's code is INVALID_PROJECT when the project's structure is wrong (no or several
 * `.project` files, wrong `azkaban-flow-version`, no flows, two flows with one name) and
 * INVALID_FLOW_YAML when only the contents of flow files are. Structure problems come first;
 * the others follow by file, line and column.
 */
import { isAlias, isMap, isNode, isScalar } from 'yaml';
import type { Problem } from '../errors.js';
import { readFlowDocument } from './flow2-document.js';
import type { FlowDefinition, ParsedProject } from './model.js';
import { checkNodeName } from './names.js';
import { problemsError, sortProblems } from './problem-list.js';
import { flowNameOf, isAtRoot, isFlowFile, isProjectFile } from './project-files.js';
import { problemAt, readYaml } from './safe-yaml.js';
import type { YamlSource } from './safe-yaml.js';

export { detectProjectFormat } from './project-files.js';
export { collectJobTypes, walkFlowNodes } from './flow-walk.js';
export type { FlowNodeVisit } from './flow-walk.js';

export const FLOW_VERSION_KEY = 'azkaban-flow-version';

/**
 * Parses a Flow 2.0 project. `files` maps archive-relative paths (`/` separators, top folder
 * stripped) to UTF-8 text; entries other than `.project` and `.flow` files are ignored.
 */
export function parseFlow2Project(files: ReadonlyMap<string, string>): ParsedProject {
  const structure: Problem[] = [];
  const contents: Problem[] = [];
  const paths = [...files.keys()].sort();
  const text = (path: string): string => files.get(path) ?? '';

  const projectFile = checkProjectFile(paths, text, structure);

  const flowPaths = paths.filter(isFlowFile);
  if (flowPaths.length === 0) structure.push({ message: 'no .flow files in the project; a Flow 2.0 project needs at least one' });
  const definedBy = new Map<string, string>();
  for (const path of flowPaths) {
    const name = flowNameOf(path);
    const invalid = checkNodeName(name, 'flow name');
    if (invalid !== null) structure.push({ message: invalid, file: path });
    const earlier = definedBy.get(name);
    if (earlier === undefined) definedBy.set(name, path);
    else structure.push({ message: `flow ${JSON.stringify(name)} is already defined by ${earlier}`, file: path });
  }

  const flows: FlowDefinition[] = [];
  for (const file of flowPaths) {
    const read = readYaml(text(file), file);
    if (!read.ok) {
      contents.push(...read.problems);
      continue;
    }
    const name = flowNameOf(file);
    const { flow, problems } = readFlowDocument(read.source, name);
    contents.push(...problems);
    flows.push({ name, file, format: '2.0', config: flow.config, nodes: flow.nodes });
  }

  if (structure.length > 0 || contents.length > 0) {
    const problems = [...sortProblems(structure), ...sortProblems(contents)];
    throw problemsError(structure.length > 0 ? 'INVALID_PROJECT' : 'INVALID_FLOW_YAML', problems);
  }
  flows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { format: '2.0', projectFile: projectFile ?? '', flows };
}

/** Finds the one root `.project` file and checks its version; returns its path when there is one. */
function checkProjectFile(paths: readonly string[], text: (path: string) => string, problems: Problem[]): string | undefined {
  const all = paths.filter(isProjectFile);
  const atRoot = all.filter(isAtRoot);
  if (atRoot.length === 0) {
    const nested = all.length === 0 ? '' : ` (found ${all.join(', ')} in a folder; move it to the root)`;
    problems.push({
      message: `no .project file at the archive root; a Flow 2.0 project needs one containing ${FLOW_VERSION_KEY}: 2.0${nested}`,
    });
    return undefined;
  }
  if (atRoot.length > 1) {
    problems.push({ message: `more than one .project file at the archive root (${atRoot.join(', ')}); exactly one is allowed` });
    return undefined;
  }
  const file = atRoot[0] ?? '';
  const read = readYaml(text(file), file);
  if (!read.ok) problems.push(...read.problems);
  else checkFlowVersion(read.source, problems);
  return file;
}

function checkFlowVersion(source: YamlSource, problems: Problem[]): void {
  const root = source.document.contents;
  const expected = `${FLOW_VERSION_KEY}: 2.0`;
  if (root === null || (isScalar(root) && root.value === null)) {
    problems.push({ message: `.project file is empty; it must contain ${expected}`, file: source.file });
    return;
  }
  if (!isMap(root)) {
    problems.push(problemAt(source, root, `a .project file must be a mapping containing ${expected}`));
    return;
  }
  const pair = root.items.find((p) => isScalar(p.key) && p.key.value === FLOW_VERSION_KEY);
  if (pair === undefined) {
    problems.push(problemAt(source, root, `${FLOW_VERSION_KEY} is missing; a Flow 2.0 project declares ${expected}`));
    return;
  }
  const value = isAlias(pair.value) ? pair.value.resolve(source.document) : pair.value;
  if (isScalar(value) && (value.value === 2 || value.value === '2.0')) return;
  if (value === null || value === undefined || (isScalar(value) && value.value === null)) {
    problems.push(problemAt(source, isNode(pair.key) ? pair.key : root, `${FLOW_VERSION_KEY} has no value; expected 2.0`));
  } else if (!isScalar(value)) {
    problems.push(problemAt(source, value, `${FLOW_VERSION_KEY} must be 2.0, found ${isMap(value) ? 'a mapping' : 'a list'}`));
  } else {
    const [start, end] = value.range ?? [0, 0];
    const written = source.text.slice(start, end).trim();
    problems.push(problemAt(source, value, `unsupported ${FLOW_VERSION_KEY} ${written}; expected 2.0`));
  }
}
