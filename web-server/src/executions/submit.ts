/**
 * Submitting a flow (AJAX executeFlow, REST, schedules): checks the caller, the options and
 * the parameters, then inserts the execution in READY with one job row per node, all in one
 * transaction. `concurrentOption=skip` checks for a live run of the flow under the project row's
 * lock, so two concurrent submits cannot both pass.
 */
import type { Knex } from 'knex';
import type { Clock } from '../../../common/clock.js';
import { defaultExecutionOptions, FAILURE_ACTIONS, type ExecutionOptions, type FailureAction } from '../../../common/control-api.js';
import { walkFlowNodes } from '../../../common/dsl/flow-walk.js';
import { CaissonError } from '../../../common/errors.js';
import { isAdmin, type Principal } from '../auth/principal.js';
import type { ProjectService } from '../projects/project-service.js';
import { findLiveProjectByName } from '../projects/projects-store.js';
import { resolveFlowParams } from './flow-params.js';
import { checkResourceRequests } from '../runtime/kubernetes/pod-resources.js';
import type { KubernetesSettings } from '../runtime/kubernetes/settings.js';

export type ResourceCaps = Pick<KubernetesSettings, 'userMax' | 'adminMax'>;
import { parseFlowRetryPolicy } from './flow-retry-policy.js';
import { findExecutionsOfFlowIn, insertExecution, insertJobs } from './executions-store.js';

export interface SubmitRequest {
  project: string | undefined;
  flow: string | undefined;
  /** JSON array string (Azkaban) or a list. */
  disabled?: string | string[] | undefined;
  failureAction?: string | undefined;
  concurrentOption?: string | undefined;
  flowOverrides?: Record<string, string>;
  successEmails?: string | undefined;
  failureEmails?: string | undefined;
  notifyFailureFirst?: string | undefined;
  notifyFailureLast?: string | undefined;
  source?: 'adhoc' | 'api' | 'scheduled';
  scheduleId?: number | null;
}

export interface Submitted {
  execId: number;
  project: string;
  flow: string;
}

const LIVE_STATUSES = ['READY', 'DISPATCHING', 'PREPARING', 'RUNNING', 'FAILED_FINISHING', 'KILLING'] as const;

function parseDisabled(raw: SubmitRequest['disabled']): string[] {
  if (raw === undefined || raw === '') return [];
  if (Array.isArray(raw)) return raw.map(String);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new CaissonError('INVALID_PARAMETER', `disabled must be a JSON array of job names, like ["job_a","job_b"]; got ${raw}`);
  }
  if (!Array.isArray(parsed))
    throw new CaissonError('INVALID_PARAMETER', `disabled must be a JSON array of job names, like ["job_a","job_b"]; got ${raw}`);
  return parsed.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
}

function parseEmails(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(/[,;\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function parseFailureAction(raw: string | undefined): FailureAction | undefined {
  if (raw === undefined || raw === '') return undefined;
  if ((FAILURE_ACTIONS as readonly string[]).includes(raw)) return raw as FailureAction;
  throw new CaissonError('INVALID_PARAMETER', `failureAction must be one of ${FAILURE_ACTIONS.join(', ')}; got "${raw}"`);
}

function parseConcurrentOption(raw: string | undefined): string {
  const v = raw === undefined || raw === '' ? 'skip' : raw;
  if (v === 'pipeline')
    throw new CaissonError('NOT_SUPPORTED', 'concurrentOption=pipeline is not supported yet; use skip (default) or ignore.');
  if (v === 'skip' || v === 'ignore' || v === 'concurrent') return v;
  throw new CaissonError('INVALID_PARAMETER', `concurrentOption must be skip, ignore or concurrent; got "${v}"`);
}

export interface SubmitDeps {
  db: Knex;
  clock: Clock;
  projects: ProjectService;
  /** Called after commit so the local queue processor dispatches at once. */
  nudge: () => void;
  /** Caps on `flow.container.*.request` (users and admins); beyond them a submit is refused. */
  resourceCaps?: ResourceCaps;
}

/** A submit checked and resolved, ready to insert (see {@link insertSubmission}). */
export interface PreparedSubmission {
  projectId: number;
  projectName: string;
  flowName: string;
  version: number;
  submitUser: string;
  priority: number;
  options: ExecutionOptions;
  params: Record<string, string>;
  nodes: { jobId: string; jobType: string; disabled: boolean }[];
  source: 'adhoc' | 'api' | 'scheduled';
  scheduleId: number | null;
}

/**
 * Checks the caller (`needed` on the project: EXECUTE for a submit, SCHEDULE for a schedule and
 * its fires), the flow, the options and the parameters, without writing anything.
 */
export async function prepareSubmission(
  deps: Pick<SubmitDeps, 'projects' | 'resourceCaps'>,
  caller: Principal,
  req: SubmitRequest,
  needed: 'EXECUTE' | 'SCHEDULE' = 'EXECUTE',
): Promise<PreparedSubmission> {
  const project = await deps.projects.requireProject(caller, req.project, needed);
  const { flow, version } = await deps.projects.getFlow(caller, project.name, req.flow);
  const disabled = parseDisabled(req.disabled);
  const nodes = [...walkFlowNodes(flow)];
  const known = new Set(nodes.map((n) => n.nestedId));
  const unknown = disabled.filter((d) => !known.has(d));
  if (unknown.length > 0) {
    throw new CaissonError(
      'INVALID_PARAMETER',
      `disabled names jobs that are not in flow ${flow.name}: ${unknown.join(', ')}. Known jobs: ${[...known].join(', ')}`,
    );
  }
  const failureAction = parseFailureAction(req.failureAction);
  const concurrentOption = parseConcurrentOption(req.concurrentOption);
  const { params, priority } = resolveFlowParams(flow.config, req.flowOverrides ?? {}, isAdmin(caller));
  if (deps.resourceCaps) checkResourceRequests(params, isAdmin(caller), deps.resourceCaps);
  const options: ExecutionOptions = {
    ...defaultExecutionOptions(),
    failureAction: failureAction ?? 'finishCurrent',
    failureActionOverride: failureAction !== undefined,
    concurrentOption,
    disabled,
    successEmails: parseEmails(req.successEmails),
    failureEmails: parseEmails(req.failureEmails),
    notifyFailureFirst: req.notifyFailureFirst === 'true',
    notifyFailureLast: req.notifyFailureLast === 'true',
  };
  // Flow parameters (submit overrides, param.override.*) win over the flow's config.
  const flowRetry = parseFlowRetryPolicy({ ...flow.config, ...params });
  if (flowRetry) options.flowRetry = flowRetry;
  const disabledSet = new Set(disabled);
  return {
    projectId: project.id,
    projectName: project.name,
    flowName: flow.name,
    version,
    submitUser: caller.username,
    priority,
    options,
    params,
    nodes: nodes.map((n) => ({ jobId: n.nestedId, jobType: n.node.type, disabled: disabledSet.has(n.nestedId) })),
    source: req.source ?? 'adhoc',
    scheduleId: req.scheduleId ?? null,
  };
}

/**
 * Inserts a prepared submit in READY with its job rows, inside the caller's transaction (so a
 * schedule fire commits together with its execution). `concurrentOption=skip` refuses with
 * CONFLICT while the flow has a live run.
 */
export async function insertSubmission(trx: Knex.Transaction, p: PreparedSubmission, now: number): Promise<number> {
  if (p.options.concurrentOption === 'skip') {
    // Serialises submits of one project: the check and the insert see the same live runs.
    await findLiveProjectByName(trx, p.projectName, { forUpdate: true });
    const live = await findExecutionsOfFlowIn(trx, p.projectId, p.flowName, LIVE_STATUSES);
    if (live.length > 0) {
      throw new CaissonError(
        'CONFLICT',
        `Error submitting flow ${p.flowName}. Flow ${p.flowName} is already running with exec id ${live[0]}. Skipping execution.`,
        {
          details: { execIds: live },
        },
      );
    }
  }
  const id = await insertExecution(trx, {
    projectId: p.projectId,
    projectVersion: p.version,
    flowId: p.flowName,
    priority: p.priority,
    submitUser: p.submitUser,
    submitTime: now,
    executionSource: p.source,
    scheduleId: p.scheduleId,
    options: p.options,
    flowParams: p.params,
  });
  await insertJobs(
    trx,
    id,
    p.nodes.map((n) => ({ jobId: n.jobId, jobType: n.jobType, status: n.disabled ? 'DISABLED' : 'READY' })),
    now,
  );
  return id;
}

export async function submitExecution(deps: SubmitDeps, caller: Principal, req: SubmitRequest): Promise<Submitted> {
  const prepared = await prepareSubmission(deps, caller, req);
  const now = deps.clock.now();
  const execId = await deps.db.transaction((trx) => insertSubmission(trx, prepared, now));
  deps.nudge();
  return { execId, project: prepared.projectName, flow: prepared.flowName };
}
