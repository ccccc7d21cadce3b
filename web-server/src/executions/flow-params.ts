/**
 * Flow parameters of a submit: `param.override.<name>` from the flow's config, overridden by the
 * submit's own values, with the admin-only and system-variable checks of DESIGN §3 step 1 / §7.
 * Pure.
 */
import { CaissonError } from '../../../common/errors.js';
import { JOB_OUTPUT_PROP_FILE } from '../../../common/control-api.js';

const ADMIN_ONLY_EXACT = new Set([
  'flowPriority',
  'allow.image.test.version',
  'enable.dev.pod',
  'disable.pod.cleanup',
  'java.enable.debug',
]);

export function isAdminOnlyParameter(name: string): boolean {
  return ADMIN_ONLY_EXACT.has(name) || name.startsWith('azkaban.flow') || name.startsWith('azkaban.job');
}

const PARAM_OVERRIDE_PREFIX = 'param.override.';
const POD_ENV_PREFIX = 'pod.env.var.';

export interface ResolvedParams {
  params: Record<string, string>;
  priority: number;
}

export const DEFAULT_PRIORITY = 5;

/**
 * Merges the flow's `param.override.*` with the submit's overrides (the submit wins) and checks
 * them. `isAdmin` callers may set admin-only parameters; nobody may replace a system variable.
 */
export function resolveFlowParams(
  flowConfig: Readonly<Record<string, string>>,
  submitted: Readonly<Record<string, string>>,
  isAdmin: boolean,
): ResolvedParams {
  const fromDsl: Record<string, string> = {};
  for (const [k, v] of Object.entries(flowConfig)) {
    if (k.startsWith(PARAM_OVERRIDE_PREFIX) && k.length > PARAM_OVERRIDE_PREFIX.length) fromDsl[k.slice(PARAM_OVERRIDE_PREFIX.length)] = v;
  }
  if (!isAdmin) {
    const refusedDsl = Object.keys(fromDsl).filter(isAdminOnlyParameter).sort();
    if (refusedDsl.length > 0) {
      throw new CaissonError(
        'FORBIDDEN',
        `Only admins may set ${refusedDsl.join(', ')}: the flow's config sets ${refusedDsl.map((k) => PARAM_OVERRIDE_PREFIX + k).join(', ')}. Remove it, or ask an admin to run the flow.`,
      );
    }
    const refused = Object.keys(submitted).filter(isAdminOnlyParameter).sort();
    if (refused.length > 0) throw new CaissonError('FORBIDDEN', `Only admins may set ${refused.join(', ')}.`);
  }
  const params = { ...fromDsl, ...submitted };
  for (const k of Object.keys(params)) {
    if (!k.startsWith(POD_ENV_PREFIX)) continue;
    const name = k.slice(POD_ENV_PREFIX.length);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new CaissonError('INVALID_PARAMETER', `${k}: "${name}" is not a valid environment variable name.`);
    if (name.startsWith('CAISSON_') || name === JOB_OUTPUT_PROP_FILE) {
      throw new CaissonError('INVALID_PARAMETER', `${k}: ${name} is a system variable of the flow container and cannot be set by a flow.`);
    }
  }
  let priority = DEFAULT_PRIORITY;
  if (params.flowPriority !== undefined) {
    if (!/^-?\d+$/.test(params.flowPriority.trim()))
      throw new CaissonError('INVALID_PARAMETER', `flowPriority must be a whole number (higher runs first), got "${params.flowPriority}".`);
    priority = Number(params.flowPriority.trim());
  }
  return { params, priority };
}

/** The `pod.env.var.<NAME>` parameters as an environment. */
export function podEnvFrom(params: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (k.startsWith(POD_ENV_PREFIX)) env[k.slice(POD_ENV_PREFIX.length)] = v;
  return env;
}
