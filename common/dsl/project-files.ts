/**
 * Which archive entries matter to the DSL, by name alone. Paths are archive-relative with `/`
 * separators (the archive layer has stripped a single top folder).
 *
 * Like Azkaban's FlowLoaderUtils.SuffixFilter, a file counts only when its name is longer than the
 * suffix and it is not hidden: Eclipse's `.project` file and macOS's `__MACOSX/._basic.flow` copies
 * are ignored.
 */
import type { ProjectFormat } from './model.js';

export const PROJECT_SUFFIX = '.project';
export const FLOW_SUFFIX = '.flow';
export const JOB_SUFFIX = '.job';

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function hasSuffix(path: string, suffix: string): boolean {
  const name = baseName(path);
  return !name.startsWith('.') && name.length > suffix.length && name.endsWith(suffix);
}

export function isProjectFile(path: string): boolean {
  return hasSuffix(path, PROJECT_SUFFIX);
}

export function isFlowFile(path: string): boolean {
  return hasSuffix(path, FLOW_SUFFIX);
}

export function isJobFile(path: string): boolean {
  return hasSuffix(path, JOB_SUFFIX);
}

/** True for a path directly at the archive root. */
export function isAtRoot(path: string): boolean {
  return !path.includes('/');
}

/** The flow a `.flow` file defines: its base name without `.flow`. */
export function flowNameOf(path: string): string {
  return baseName(path).slice(0, -FLOW_SUFFIX.length);
}

/**
 * Flow 2.0 when there is a `.project` file anywhere (whether it is valid and at the root is for
 * the parser to say), Flow 1.0 when there are `.job` files and no `.project`, otherwise none.
 */
export function detectProjectFormat(paths: readonly string[]): ProjectFormat {
  if (paths.some(isProjectFile)) return '2.0';
  if (paths.some(isJobFile)) return '1.0';
  return 'none';
}
