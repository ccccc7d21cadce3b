/**
 * Which flow and node names Caisson accepts.
 *
 * Azkaban itself has no character rule for Flow 2.0 names: NodeBeanLoader.validate only refuses
 * duplicate names and undefined dependencies, DirectoryYamlFlowLoader takes names as written, and
 * the one regular expression (`[a-zA-Z][a-zA-Z_0-9|-]*` in ProjectManager.createProject) is for
 * project names. So that every project Azkaban accepts keeps working, Caisson refuses only what
 * would break its own addressing:
 * - `:` joins embedded flow names into ids like `outer:inner` (Azkaban's Constants.PATH_DELIMITER),
 * - `/` and `\` would turn a name into a path (job logs and working directories are per node),
 * - control characters, surrounding whitespace, `.` and `..` cannot be told apart in logs and URLs,
 * - more than 128 characters does not fit Azkaban's `flow_id VARCHAR(128)` column.
 */

export const MAX_NAME_LENGTH = 128;

// C0 controls, DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Returns why `name` cannot be a flow or node name, or null when it can. `label` starts the
 * message (`node name`, `flow name`).
 */
export function checkNodeName(name: string, label = 'name'): string | null {
  if (name === '') return `${label} must not be empty`;
  const shown = JSON.stringify(name);
  if (CONTROL_CHARACTER.test(name)) return `${label} ${shown} must not contain control characters`;
  if (name.trim() !== name) return `${label} ${shown} must not start or end with whitespace`;
  if (name.includes(':')) return `${label} ${shown} must not contain ':' (it joins embedded flow names, as in outer:inner)`;
  if (name.includes('/')) return `${label} ${shown} must not contain '/'`;
  if (name.includes('\\')) return `${label} ${shown} must not contain '\\'`;
  if (name === '.' || name === '..') return `${label} must not be "." or ".."`;
  const length = [...name].length;
  if (length > MAX_NAME_LENGTH) return `${label} is ${length} characters long; at most ${MAX_NAME_LENGTH} are allowed`;
  return null;
}
