/**
 * The launch plan of an execution (what the runtime needs to start its container): jobtypes found
 * by walking the DAG, the container's environment with its token, resources and user variables.
 */
import type { Knex } from 'knex';
import { CONTAINER_ENV } from '../../../common/control-api.js';
import { collectJobTypes } from '../../../common/dsl/flow-walk.js';
import { CaissonError } from '../../../common/errors.js';
import type { LaunchPlan } from '../runtime/container-runtime.js';
import type { ExecTokens } from './exec-token.js';
import { loadFlowOf } from './execution-plan.js';
import type { ExecutionRow } from './executions-store.js';
import { podEnvFrom } from './flow-params.js';
import { recordImageResolution } from '../../../image-mgmt/src/version-set-store.js';
import { loadVersionSetEntries, resolveAndStoreVersionSet, type ResolutionSettings } from '../../../image-mgmt/src/version-resolver.js';

/** Jobtypes the flow container runs itself; every other type needs a jobtype image. */
export const BUILT_IN_JOBTYPES: ReadonlySet<string> = new Set(['command', 'noop', 'flow']);

export interface LaunchPlanDeps {
  db: Knex;
  tokens: ExecTokens;
  /** URL flow containers use to reach this server. */
  apiUrl: () => string;
  clusterName: string;
  /** Jobtypes this runtime can provide without image management (ignored when `images` is set). */
  availableJobTypes: ReadonlySet<string>;
  /** Image management (issue 4): resolve the version set at dispatch and record it on the execution. */
  images?: { settings: ResolutionSettings; now: () => number };
}

export async function buildLaunchPlan(deps: LaunchPlanDeps, exec: ExecutionRow): Promise<LaunchPlan> {
  if (!exec.tokenNonce) throw new CaissonError('INTERNAL', `Execution ${exec.execId} has no token: it was not claimed.`);
  const { projectName, flow } = await loadFlowOf(deps.db, exec);
  const jobTypes = collectJobTypes(flow)
    .map((t) => t.toLowerCase())
    .filter((t) => !BUILT_IN_JOBTYPES.has(t));
  let versionSetId = exec.versionSetId;
  let jobtypeImages: LaunchPlan['jobtypeImages'];
  if (deps.images) {
    // A retried or taken-over dispatch keeps the version set recorded by the first attempt.
    if (versionSetId === null) {
      const resolved = await resolveAndStoreVersionSet(
        deps.db,
        deps.images.settings,
        { projectId: exec.projectId, projectName, flowId: exec.flowId, jobTypes, flowParams: exec.flowParams },
        deps.images.now(),
      );
      versionSetId = resolved.versionSetId;
      await recordImageResolution(
        deps.db,
        exec.execId,
        versionSetId,
        resolved.images.map((i) => ({
          imageType: i.imageType,
          version: i.version,
          reason: i.reason,
          why: i.why,
          ...(i.repinned ? { repinned: true } : {}),
        })),
      );
    }
    const entries = (await loadVersionSetEntries(deps.db, versionSetId)) ?? {};
    jobtypeImages = Object.entries(entries)
      .filter(([type]) => type !== deps.images!.settings.baseImageType && jobTypes.includes(type))
      .map(([imageType, e]) => ({ imageType, path: e.path, version: e.version }));
  }
  const missing = deps.images ? [] : jobTypes.filter((t) => !deps.availableJobTypes.has(t));
  if (missing.length > 0) {
    throw new CaissonError(
      'INVALID_PROJECT',
      `unknown jobtype ${missing.map((t) => `"${t}"`).join(', ')}: no jobtype image is available for it (built in: command, noop, flow)`,
    );
  }
  const env: Record<string, string> = {
    ...podEnvFrom(exec.flowParams),
    [CONTAINER_ENV.execId]: String(exec.execId),
    [CONTAINER_ENV.apiUrl]: deps.apiUrl(),
    [CONTAINER_ENV.token]: deps.tokens.tokenFor(exec.tokenNonce),
    [CONTAINER_ENV.cluster]: deps.clusterName,
  };
  if (versionSetId !== null) env[CONTAINER_ENV.versionSetId] = String(versionSetId);
  const resources: LaunchPlan['resources'] = {};
  const p = exec.flowParams;
  if (p['flow.container.cpu.request']) resources.cpu = p['flow.container.cpu.request'];
  if (p['flow.container.memory.request']) resources.memory = p['flow.container.memory.request'];
  if (p['flow.container.disk.request']) resources.disk = p['flow.container.disk.request'];
  return {
    execId: exec.execId,
    projectName,
    flowId: exec.flowId,
    jobTypes,
    env,
    resources,
    versionSetId,
    ...(jobtypeImages ? { jobtypeImages } : {}),
  };
}
