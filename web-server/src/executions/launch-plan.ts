/**
 * The launch plan of an execution (what the runtime needs to start its container): jobtypes found
 * by walking the DAG, the container's environment with its token, resources and user variables.
 */
import type { Knex } from 'knex';
import { CONTAINER_ENV } from '../../../common/control-api.js';
import { collectJobTypes } from '../../../common/dsl/flow-walk.js';
import { flowMaxRunningOf } from '../../../common/dsl/timeouts.js';
import { CaissonError } from '../../../common/errors.js';
import type { LaunchPlan } from '../runtime/container-runtime.js';
import type { ExecTokens } from './exec-token.js';
import type { ExecutionRow } from './executions-store.js';
import { podEnvFrom } from './flow-params.js';
import { findVersionSets, recordImageResolutions } from '../../../image-mgmt/src/version-set-store.js';
import { resolveAndStoreVersionSets, type ResolutionSettings } from '../../../image-mgmt/src/version-resolver.js';
import { parseVersionSetBody, type VersionSetEntry } from '../../../image-mgmt/src/version-set.js';
import type { FlowDefinition } from '../../../common/dsl/model.js';
import { Coalescer, type ItemOutcome } from '../queue/coalescer.js';
import { findFlow, findProjectById } from '../projects/projects-store.js';

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

/** What a launch plan reads from the database: the flow, and with image management its version set. */
interface LaunchInputs {
  projectName: string;
  flow: FlowDefinition;
  jobTypes: string[];
  versionSetId: number | null;
  /** The version set's entries (image management only). */
  entries?: Record<string, VersionSetEntry>;
}

type ImagesDeps = NonNullable<LaunchPlanDeps['images']>;

/**
 * Launch plans of executions dispatched together are read together: one coalescer per database
 * and resolution settings gathers the calls that arrive in the same turn of the event loop (or
 * while the previous batch is read) and reads each distinct flow, the image tables and version
 * sets once, and records the resolutions in one statement.
 */
const coalescers = new WeakMap<
  Knex,
  Map<ImagesDeps['settings'] | undefined, Coalescer<{ exec: ExecutionRow; images?: ImagesDeps }, LaunchInputs>>
>();

function coalescerFor(db: Knex, images: ImagesDeps | undefined): Coalescer<{ exec: ExecutionRow; images?: ImagesDeps }, LaunchInputs> {
  let bySettings = coalescers.get(db);
  if (!bySettings) coalescers.set(db, (bySettings = new Map()));
  let c = bySettings.get(images?.settings);
  if (!c) {
    c = new Coalescer((items) =>
      loadLaunchInputs(
        db,
        items[0]?.images,
        items.map((i) => i.exec),
      ),
    );
    bySettings.set(images?.settings, c);
  }
  return c;
}

/** The launch inputs of a batch of claimed executions; an error that concerns one execution is its own. */
async function loadLaunchInputs(
  db: Knex,
  images: ImagesDeps | undefined,
  execs: readonly ExecutionRow[],
): Promise<ItemOutcome<LaunchInputs>[]> {
  const flowKey = (e: ExecutionRow): string => JSON.stringify([e.projectId, e.projectVersion, e.flowId]);
  const distinctFlows = new Map(execs.map((e) => [flowKey(e), e] as const));
  // Each distinct project and flow once, the reads side by side.
  const [projectNames, flows] = await Promise.all([
    Promise.all([...new Set(execs.map((e) => e.projectId))].map(async (id) => [id, (await findProjectById(db, id))?.name] as const)).then(
      (entries) => new Map(entries),
    ),
    Promise.all(
      [...distinctFlows].map(async ([key, e]) => {
        const stored = await findFlow(db, e.projectId, e.projectVersion, e.flowId);
        return [key, stored ? (JSON.parse(stored.definition) as FlowDefinition) : undefined] as const;
      }),
    ).then((entries) => new Map(entries)),
  ]);
  const outcomes: ItemOutcome<LaunchInputs>[] = execs.map((e) => {
    const projectName = projectNames.get(e.projectId);
    const flow = flows.get(flowKey(e));
    if (projectName === undefined || !flow) {
      return { error: new CaissonError('FLOW_NOT_FOUND', `Flow ${e.flowId} of project version ${e.projectVersion} is gone.`) };
    }
    const jobTypes = collectJobTypes(flow)
      .map((t) => t.toLowerCase())
      .filter((t) => !BUILT_IN_JOBTYPES.has(t));
    return { value: { projectName, flow, jobTypes, versionSetId: e.versionSetId } };
  });
  if (!images) return outcomes;

  // A retried or taken-over dispatch keeps the version set recorded by the first attempt.
  const toResolve = execs.flatMap((e, i) => {
    const o = outcomes[i]!;
    return 'value' in o && o.value.versionSetId === null ? [{ i, e, inputs: o.value }] : [];
  });
  const resolved = await resolveAndStoreVersionSets(
    db,
    images.settings,
    toResolve.map(({ e, inputs }) => ({
      projectId: e.projectId,
      projectName: inputs.projectName,
      flowId: e.flowId,
      jobTypes: inputs.jobTypes,
      flowParams: e.flowParams,
    })),
    images.now(),
  );
  const records: Parameters<typeof recordImageResolutions>[1][number][] = [];
  toResolve.forEach(({ i, e, inputs }, k) => {
    const r = resolved[k]!;
    if (r instanceof CaissonError) {
      outcomes[i] = { error: r };
      return;
    }
    inputs.versionSetId = r.versionSetId;
    inputs.entries = parseVersionSetBody(r.json);
    records.push({
      execId: e.execId,
      versionSetId: r.versionSetId,
      resolution: r.images.map((img) => ({
        imageType: img.imageType,
        version: img.version,
        reason: img.reason,
        why: img.why,
        ...(img.repinned ? { repinned: true } : {}),
      })),
    });
  });
  await recordImageResolutions(db, records);

  const recorded = outcomes.flatMap((o) =>
    'value' in o && o.value.entries === undefined && o.value.versionSetId !== null ? [o.value] : [],
  );
  const sets = new Map((await findVersionSets(db, [...new Set(recorded.map((r) => r.versionSetId!))])).map((v) => [v.id, v] as const));
  for (const r of recorded) {
    const set = sets.get(r.versionSetId!);
    r.entries = set ? parseVersionSetBody(set.body) : {};
  }
  return outcomes;
}

export async function buildLaunchPlan(deps: LaunchPlanDeps, exec: ExecutionRow): Promise<LaunchPlan> {
  if (!exec.tokenNonce) throw new CaissonError('INTERNAL', `Execution ${exec.execId} has no token: it was not claimed.`);
  const { projectName, flow, jobTypes, versionSetId, entries } = await coalescerFor(deps.db, deps.images).submit({
    exec,
    ...(deps.images ? { images: deps.images } : {}),
  });
  let jobtypeImages: LaunchPlan['jobtypeImages'];
  let baseImage: LaunchPlan['baseImage'];
  if (deps.images) {
    const all = entries ?? {};
    jobtypeImages = Object.entries(all)
      .filter(([type]) => type !== deps.images!.settings.baseImageType && jobTypes.includes(type))
      .map(([imageType, e]) => ({ imageType, path: e.path, version: e.version }));
    const base = all[deps.images.settings.baseImageType];
    if (base) baseImage = { imageType: deps.images.settings.baseImageType, path: base.path, version: base.version };
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
  const maxRunning = flowMaxRunningOf(p, flow.config);
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
    ...(baseImage ? { baseImage } : {}),
    ...(maxRunning.ms !== undefined ? { maxRunningMs: maxRunning.ms } : {}),
    keepAfterFinish: p['disable.pod.cleanup']?.trim().toLowerCase() === 'true',
  };
}
