/**
 * Resources of a flow pod: requests from the flow (`flow.container.*.request`) or the defaults,
 * limits = requests × the limit multiple, and the caps checked at submit (DESIGN §3 step 1, §7). Pure.
 */
import type { V1ResourceRequirements } from '@kubernetes/client-node';
import { CaissonError, type Problem } from '../../../../common/errors.js';
import { quantityValue, scaleQuantity } from '../../../../common/quantity.js';
import type { LaunchPlan } from '../container-runtime.js';
import type { KubernetesSettings, ResourceTriple } from './settings.js';

/** The flow parameters that request resources, by the resource they set. */
export const RESOURCE_PARAMETERS = {
  cpu: 'flow.container.cpu.request',
  memory: 'flow.container.memory.request',
  disk: 'flow.container.disk.request',
} as const satisfies Record<keyof ResourceTriple, string>;

const KUBERNETES_NAME: Record<keyof ResourceTriple, string> = { cpu: 'cpu', memory: 'memory', disk: 'ephemeral-storage' };
const ORDER: (keyof ResourceTriple)[] = ['cpu', 'memory', 'disk'];

/** The pod's requests: the plan's own where it sets them, else the defaults (trimmed quantity texts). */
export function effectiveRequests(
  plan: Pick<LaunchPlan, 'resources'>,
  settings: Pick<KubernetesSettings, 'defaultRequests'>,
): ResourceTriple {
  const pick = (k: keyof ResourceTriple): string => {
    const own = plan.resources[k]?.trim();
    const text = own ? own : settings.defaultRequests[k].trim();
    const v = quantityValue(text);
    if (v === undefined || !(v > 0)) throw new Error(`${KUBERNETES_NAME[k]} request "${text}" is not a positive Kubernetes quantity`);
    return text;
  };
  return { cpu: pick('cpu'), memory: pick('memory'), disk: pick('disk') };
}

/** Requests and limits of the app container; a multiple of 1 keeps each request's text as its limit. */
export function appContainerResources(
  plan: Pick<LaunchPlan, 'resources'>,
  settings: Pick<KubernetesSettings, 'defaultRequests' | 'limitMultiple'>,
): V1ResourceRequirements {
  const requested = effectiveRequests(plan, settings);
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  for (const k of ORDER) {
    requests[KUBERNETES_NAME[k]] = requested[k];
    limits[KUBERNETES_NAME[k]] = settings.limitMultiple === 1 ? requested[k] : scaleQuantity(requested[k], settings.limitMultiple);
  }
  return { requests, limits };
}

/** Small fixed resources of a jobtype init container (it only copies files). */
export function initContainerResources(): V1ResourceRequirements {
  return { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } };
}

/**
 * Checks the resource requests of a submit against the caps. A value that is not a positive quantity
 * is INVALID_PARAMETER (400). Above the user cap, a non-admin gets FORBIDDEN (403): it is a matter of
 * permission, an admin may do it — the same code as the other admin-only parameters. Above the admin
 * cap nobody may go (no silent clamp): INVALID_PARAMETER (400). Every problem is listed at once; the
 * code is INVALID_PARAMETER when any problem is one. An absent or empty parameter means the default.
 */
export function checkResourceRequests(
  params: Readonly<Record<string, string>>,
  isAdmin: boolean,
  caps: Pick<KubernetesSettings, 'userMax' | 'adminMax'>,
): void {
  const problems: Problem[] = [];
  let invalid = false;
  for (const k of ORDER) {
    const name = RESOURCE_PARAMETERS[k];
    const raw = params[name];
    if (raw === undefined || raw === '') continue;
    const value = quantityValue(raw);
    if (value === undefined || !(value > 0)) {
      invalid = true;
      problems.push({ message: `${name} must be a positive Kubernetes quantity such as ${example(k)}, got "${raw}".` });
      continue;
    }
    const userMax = caps.userMax[k];
    const adminMax = caps.adminMax[k];
    if (value > (quantityValue(adminMax) ?? Infinity)) {
      invalid = true;
      problems.push({
        message: isAdmin
          ? `${name}=${raw.trim()} is above the admin cap of ${adminMax}: nobody may request more.`
          : `${name}=${raw.trim()} is above the user cap of ${userMax} and the admin cap of ${adminMax}: nobody may request more.`,
      });
    } else if (!isAdmin && value > (quantityValue(userMax) ?? Infinity)) {
      problems.push({
        message: `${name}=${raw.trim()} is above the user cap of ${userMax}; only an admin may request more, up to ${adminMax}.`,
      });
    }
  }
  if (problems.length === 0) return;
  throw new CaissonError(invalid ? 'INVALID_PARAMETER' : 'FORBIDDEN', problems.map((p) => p.message).join(' '), { problems });
}

function example(k: keyof ResourceTriple): string {
  return k === 'cpu' ? '500m or 2' : k === 'memory' ? '512Mi or 4Gi' : '1Gi or 20Gi';
}
