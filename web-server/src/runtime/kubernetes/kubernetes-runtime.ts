/**
 * The production runtime (DESIGN §2–3): one disposable pod per execution, with its token Secret,
 * its Service and its Ambassador route, through @kubernetes/client-node only.
 *
 * - launch is idempotent: names derive from the cluster and execution id; a 409 on an object whose
 *   labels show it is this execution's is adopted, anything else is refused. After the pod exists,
 *   the Secret, Service and Mapping get an ownerReference to it so Kubernetes removes them with it.
 * - One replica at a time (a lease row) watches the pods, turns pod phases into POD_PHASE_CHANGED
 *   events and failures into `stopped` events with a specific reason (pod-failures.ts), and sweeps:
 *   pods of final or unknown executions are deleted, live executions whose pod is gone are ended.
 */
import type { V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import type { Knex } from 'knex';
import type { Clock } from '../../../../common/clock.js';
import { CaissonError } from '../../../../common/errors.js';
import { FLOW_ACTIVE_STATUSES, isFlowFinal } from '../../../../common/status.js';
import { findExecution, listExecutionsIn } from '../../executions/executions-store.js';
import { LeaderLease } from '../../leases/leader-lease.js';
import type { Logger } from '../../log.js';
import {
  RuntimeError,
  type ContainerDescription,
  type ContainerRuntime,
  type LaunchPlan,
  type LaunchResult,
  type RuntimeEvent,
  type RuntimeInfo,
} from '../container-runtime.js';
import { KubeApiError, mergePatch, type KubeApi } from './kube-api.js';
import { controlUrlFor, executionObjectNames, isOurs, LABELS, podSelectorFor } from './names.js';
import { REQUIRED_PERMISSIONS } from './permissions.js';
import { assessPod, podDeletedReason, podPhaseSummary, type PodWatchMemo } from './pod-failures.js';
import { buildExecutionObjects, ownerReferenceTo } from './pod-spec.js';
import { PodWatch } from './pod-watch.js';
import type { KubernetesSettings } from './settings.js';

export const KEEP_ANNOTATION = 'caisson.io/disable-pod-cleanup';
export const EXPIRES_ANNOTATION = 'caisson.io/expires-at';

const MAPPINGS = { group: 'getambassador.io', version: 'v3alpha1', plural: 'mappings' } as const;

export interface KubernetesRuntimeOptions {
  api: KubeApi;
  settings: KubernetesSettings;
  db: Knex;
  clock: Clock;
  log: Logger;
  /** This replica's name, the holder of the watch lease. */
  holder: string;
  /** How often the leader re-judges the pods it knows (grace deadlines); default 500 ms. */
  assessIntervalMs?: number;
  /** Refuse to start when a permission is missing (default true). */
  requirePermissions?: boolean;
}

interface Tracked {
  execId: number;
  pod: V1Pod;
  memo: PodWatchMemo;
  phaseKey: string;
  /** When a `stopped` event was last sent for this pod (it is sent again while the execution lives). */
  stoppedSentAt?: number;
  stoppedSends?: number;
}

type ObjectKind = 'Secret' | 'Pod' | 'Service' | 'Mapping';

export class KubernetesRuntime implements ContainerRuntime {
  readonly name = 'kubernetes' as const;
  private readonly listeners = new Set<(e: RuntimeEvent) => void>();
  private readonly lease: LeaderLease;
  private readonly watch: PodWatch;
  private readonly tracked = new Map<string, Tracked>();
  /** Pods deleted under a live execution: when to judge it (after the final-report grace). */
  private readonly gone = new Map<number, { due: number; reason: string }>();
  private assessTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;
  private readonly log: Logger;

  constructor(private readonly o: KubernetesRuntimeOptions) {
    this.log = o.log.child({ component: 'kubernetes-runtime' });
    this.watch = new PodWatch({
      api: o.api,
      labelSelector: podSelectorFor(o.settings.clusterName),
      log: this.log,
      onUpsert: (pod) => this.onPod(pod),
      onDelete: (pod) => this.onPodDeleted(pod),
    });
    this.lease = new LeaderLease({
      db: o.db,
      clock: o.clock,
      log: this.log,
      name: `k8s-watch:${o.settings.clusterName}`,
      holder: o.holder,
      durationMs: o.settings.leaseDurationMs,
      onAcquired: () => this.lead(),
      onLost: () => this.follow(),
    });
  }

  get isLeader(): boolean {
    return this.lease.isLeader;
  }

  /** Lists made by the pod watch (tests: a relist after 410). */
  get watchLists(): number {
    return this.watch.lists;
  }

  async start(): Promise<void> {
    const missing = await this.missingPermissions();
    if (missing.length > 0) {
      const text = `the Kubernetes service account cannot ${missing.join(', ')} in namespace ${this.o.settings.namespace}; grant them (docs/kubernetes.md, RBAC)`;
      if (this.o.requirePermissions ?? true) throw new CaissonError('INVALID_CONFIG', `Missing Kubernetes permissions: ${text}.`);
      this.log.error(`Missing Kubernetes permissions: ${text}.`);
    }
    this.lease.start();
  }

  async stop(): Promise<void> {
    await this.lease.stop();
    await this.follow();
    await this.o.api.stop();
  }

  /** Every permission of REQUIRED_PERMISSIONS the API denies, as `verb group/resource`. */
  async missingPermissions(): Promise<string[]> {
    const { api, settings } = this.o;
    const checks = REQUIRED_PERMISSIONS.filter((p) => !p.onlyFor || p.onlyFor === settings.ingressMode).flatMap((p) =>
      p.verbs.map((verb) => ({ group: p.group, resource: p.resource, verb })),
    );
    const denied: string[] = [];
    await Promise.all(
      checks.map(async (c) => {
        const review = await api.call('review', 'selfsubjectaccessreviews', () =>
          api.authz.createSelfSubjectAccessReview({
            body: {
              apiVersion: 'authorization.k8s.io/v1',
              kind: 'SelfSubjectAccessReview',
              spec: { resourceAttributes: { namespace: settings.namespace, group: c.group, resource: c.resource, verb: c.verb } },
            },
          }),
        );
        if (!review.status?.allowed) denied.push(`${c.verb} ${c.group ? `${c.resource}.${c.group}` : c.resource}`);
      }),
    );
    return denied.sort();
  }

  // ---- launching ----

  async launch(plan: LaunchPlan): Promise<LaunchResult> {
    const { api, settings } = this.o;
    const ns = settings.namespace;
    let objects: ReturnType<typeof buildExecutionObjects>;
    try {
      objects = buildExecutionObjects(plan, settings);
    } catch (e) {
      throw new RuntimeError(`cannot build the pod of execution ${plan.execId}: ${(e as Error).message}`, false, { cause: e });
    }
    if (plan.keepAfterFinish) {
      objects.pod.metadata = { ...objects.pod.metadata, annotations: { ...objects.pod.metadata?.annotations, [KEEP_ANNOTATION]: 'true' } };
    }
    try {
      await this.createOrAdopt('Secret', plan.execId, objects.secret.metadata!, () =>
        api.core.createNamespacedSecret({ namespace: ns, body: objects.secret }),
      );
      const podResult = await this.createOrAdopt('Pod', plan.execId, objects.pod.metadata!, () =>
        api.core.createNamespacedPod({ namespace: ns, body: objects.pod }),
      );
      const pod = podResult.object as V1Pod;
      await this.createOrAdopt('Service', plan.execId, objects.service.metadata!, () =>
        api.core.createNamespacedService({ namespace: ns, body: objects.service }),
      );
      if (objects.mapping) {
        const mapping = objects.mapping;
        await this.createOrAdopt('Mapping', plan.execId, mapping.metadata, () =>
          api.custom.createNamespacedCustomObject({ ...MAPPINGS, namespace: ns, body: mapping, fieldValidation: 'Strict' }),
        );
      }
      await this.adoptDependents(plan.execId, pod, podResult.object !== undefined && podResult.adopted);
      const names = executionObjectNames(settings.clusterName, plan.execId);
      const runtimeInfo: RuntimeInfo = {
        runtime: 'kubernetes',
        namespace: ns,
        podName: names.pod,
        podUid: pod.metadata?.uid ?? null,
        routeUrl: controlUrlFor(settings, settings.clusterName, plan.execId),
      };
      if (podResult.adopted) this.log.info({ execId: plan.execId, pod: names.pod }, `Adopted the existing pod ${names.pod}.`);
      return { runtimeInfo, adopted: podResult.adopted };
    } catch (e) {
      if (e instanceof RuntimeError) throw e;
      if (e instanceof KubeApiError) {
        throw new RuntimeError(e.failure.message, e.failure.transient, { cause: e });
      }
      throw e;
    }
  }

  private async createOrAdopt(
    kind: ObjectKind,
    execId: number,
    meta: V1ObjectMeta,
    create: () => Promise<unknown>,
  ): Promise<{ object: unknown; adopted: boolean }> {
    const { api } = this.o;
    const verbResource = kind === 'Mapping' ? 'mappings' : `${kind.toLowerCase()}s`;
    try {
      return { object: await api.call('create', verbResource, create), adopted: false };
    } catch (e) {
      if (!(e instanceof KubeApiError)) throw e;
      if (e.code === 409) {
        const existing = await this.read(kind, meta.name!);
        const labels = (existing as { metadata?: V1ObjectMeta } | undefined)?.metadata?.labels;
        if (existing && isOurs(labels, this.o.settings.clusterName, execId)) return { object: existing, adopted: true };
        throw new RuntimeError(
          `a ${kind} named ${meta.name} already exists in namespace ${this.o.settings.namespace} and is not Caisson's for execution ${execId}; remove it or use another CAISSON_CLUSTER_NAME`,
          false,
        );
      }
      if (e.code === 422 || e.code === 400) {
        throw new RuntimeError(`the Kubernetes API refused the ${kind} ${meta.name}: ${e.failure.message}`, false, { cause: e });
      }
      if (e.code === 403) {
        throw new RuntimeError(`the Kubernetes API forbids creating the ${kind} ${meta.name}: ${e.failure.message}`, false, { cause: e });
      }
      throw e;
    }
  }

  private async read(kind: ObjectKind, name: string): Promise<unknown> {
    const { api } = this.o;
    const namespace = api.namespace;
    try {
      switch (kind) {
        case 'Secret':
          return await api.call('get', 'secrets', () => api.core.readNamespacedSecret({ name, namespace }));
        case 'Pod':
          return await api.call('get', 'pods', () => api.core.readNamespacedPod({ name, namespace }));
        case 'Service':
          return await api.call('get', 'services', () => api.core.readNamespacedService({ name, namespace }));
        case 'Mapping':
          return await api.call('get', 'mappings', () => api.custom.getNamespacedCustomObject({ ...MAPPINGS, namespace, name }));
      }
    } catch (e) {
      if (e instanceof KubeApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  /** Gives the Secret, Service and Mapping an ownerReference to the pod (skipped when they have it). */
  private async adoptDependents(execId: number, pod: V1Pod, podAdopted: boolean): Promise<void> {
    const { api, settings } = this.o;
    const names = executionObjectNames(settings.clusterName, execId);
    const ref = ownerReferenceTo(pod);
    const body = { metadata: { ownerReferences: [ref] } };
    const namespace = api.namespace;
    const needs = async (kind: ObjectKind, name: string): Promise<boolean> => {
      if (!podAdopted) return true;
      const obj = (await this.read(kind, name)) as { metadata?: V1ObjectMeta } | undefined;
      return obj !== undefined && !(obj.metadata?.ownerReferences ?? []).some((r) => r.uid === ref.uid);
    };
    if (await needs('Secret', names.secret)) {
      await api.call('patch', 'secrets', () => api.core.patchNamespacedSecret({ name: names.secret, namespace, body }, mergePatch()));
    }
    if (await needs('Service', names.service)) {
      await api.call('patch', 'services', () => api.core.patchNamespacedService({ name: names.service, namespace, body }, mergePatch()));
    }
    if (settings.ingressMode === 'mapping' && (await needs('Mapping', names.mapping))) {
      await api.call('patch', 'mappings', () =>
        api.custom.patchNamespacedCustomObject({ ...MAPPINGS, namespace, name: names.mapping, body }, mergePatch()),
      );
    }
  }

  // ---- stopping, describing, cleaning up ----

  async stopContainer(execId: number, graceMs: number): Promise<void> {
    const names = executionObjectNames(this.o.settings.clusterName, execId);
    await this.deletePod(names.pod, Math.ceil(graceMs / 1000));
  }

  private async deletePod(name: string, gracePeriodSeconds?: number): Promise<boolean> {
    const { api } = this.o;
    try {
      await api.call('delete', 'pods', () =>
        api.core.deleteNamespacedPod({
          name,
          namespace: api.namespace,
          ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
          propagationPolicy: 'Background',
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof KubeApiError && e.code === 404) return false;
      throw e;
    }
  }

  async describe(execId: number): Promise<ContainerDescription | undefined> {
    const names = executionObjectNames(this.o.settings.clusterName, execId);
    const pod = (await this.read('Pod', names.pod)) as V1Pod | undefined;
    if (!pod) return undefined;
    const phase = pod.status?.phase ?? 'Pending';
    const app = pod.status?.containerStatuses?.find((c) => c.name === 'flow-container');
    const state: ContainerDescription['state'] =
      phase === 'Pending'
        ? 'starting'
        : phase === 'Running'
          ? 'running'
          : phase === 'Succeeded' || phase === 'Failed'
            ? 'exited'
            : 'unknown';
    return {
      execId,
      state,
      runtimeInfo: { runtime: 'kubernetes', namespace: this.o.api.namespace, podName: names.pod, phase },
      ...(app?.state?.terminated ? { exitCode: app.state.terminated.exitCode } : {}),
    };
  }

  /** The watch covers every pod of the cluster; nothing to do per execution. */
  async reattach(): Promise<void> {}

  /**
   * Removes the execution's pod and, explicitly, its Secret, Service and Mapping (they also go with
   * the pod through their ownerReference). A pod marked `disable.pod.cleanup` is kept: it gets an
   * expiry annotation, and the sweep deletes it once the retention has passed.
   */
  async cleanup(execId: number): Promise<void> {
    const { api, settings, clock } = this.o;
    const names = executionObjectNames(settings.clusterName, execId);
    const pod = (await this.read('Pod', names.pod)) as V1Pod | undefined;
    const annotations = pod?.metadata?.annotations ?? {};
    if (pod && annotations[KEEP_ANNOTATION] === 'true') {
      if (!annotations[EXPIRES_ANNOTATION]) {
        const expiresAt = new Date(clock.now() + settings.podRetentionMs).toISOString();
        await api.call('patch', 'pods', () =>
          api.core.patchNamespacedPod(
            { name: names.pod, namespace: api.namespace, body: { metadata: { annotations: { [EXPIRES_ANNOTATION]: expiresAt } } } },
            mergePatch(),
          ),
        );
        this.log.info({ execId, pod: names.pod, expiresAt }, `Keeping pod ${names.pod} until ${expiresAt} (disable.pod.cleanup).`);
      }
      return;
    }
    await this.deleteAll(execId);
  }

  private async deleteAll(execId: number): Promise<void> {
    const { api, settings } = this.o;
    const names = executionObjectNames(settings.clusterName, execId);
    const namespace = api.namespace;
    const ignoreMissing = (e: unknown) => {
      if (e instanceof KubeApiError && e.code === 404) return;
      throw e;
    };
    await this.deletePod(names.pod);
    await api.call('delete', 'services', () => api.core.deleteNamespacedService({ name: names.service, namespace })).catch(ignoreMissing);
    await api.call('delete', 'secrets', () => api.core.deleteNamespacedSecret({ name: names.secret, namespace })).catch(ignoreMissing);
    if (settings.ingressMode === 'mapping') {
      await api
        .call('delete', 'mappings', () => api.custom.deleteNamespacedCustomObject({ ...MAPPINGS, namespace, name: names.mapping }))
        .catch(ignoreMissing);
    }
  }

  onEvent(listener: (e: RuntimeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: RuntimeEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error({ err, execId: e.execId }, 'a runtime event listener failed');
      }
    }
  }

  // ---- the leader: watch, judge, sweep ----

  private lead(): void {
    this.watch.start();
    const every = this.o.assessIntervalMs ?? 500;
    this.assessTimer = setInterval(() => this.assessAll(), every);
    this.assessTimer.unref();
    this.sweepTimer = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = this.sweep()
        .catch((err: unknown) => this.log.warn({ err }, 'the pod sweep failed; it runs again shortly'))
        .finally(() => (this.sweeping = undefined));
    }, this.o.settings.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  private async follow(): Promise<void> {
    if (this.assessTimer) clearInterval(this.assessTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.assessTimer = this.sweepTimer = undefined;
    await this.watch.stop();
    await this.sweeping;
    this.tracked.clear();
    this.gone.clear();
    this.terminatedSent.clear();
  }

  private execIdOf(pod: V1Pod): number | undefined {
    const raw = pod.metadata?.labels?.[LABELS.executionId];
    const id = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
    return id !== undefined && id > 0 ? id : undefined;
  }

  private onPod(pod: V1Pod): void {
    const name = pod.metadata?.name;
    const execId = this.execIdOf(pod);
    if (!name || execId === undefined) return;
    const t = this.tracked.get(name) ?? { execId, pod, memo: {}, phaseKey: '' };
    t.pod = pod;
    this.tracked.set(name, t);
    this.gone.delete(execId);
    const summary = podPhaseSummary(pod);
    const key = JSON.stringify(summary);
    if (key !== t.phaseKey) {
      t.phaseKey = key;
      const { phase, ...detail } = summary;
      this.emit({ type: 'phase', execId, at: this.o.clock.now(), phase, detail: { pod: name, ...detail } });
    }
    this.assess(t);
  }

  private onPodDeleted(pod: V1Pod): void {
    const name = pod.metadata?.name;
    const execId = this.execIdOf(pod);
    if (!name || execId === undefined) return;
    this.tracked.delete(name);
    this.terminatedSent.delete(name);
    this.emit({ type: 'phase', execId, at: this.o.clock.now(), phase: 'Deleted', detail: { pod: name } });
    // A final report (or the server's own stop) may still be on its way: judge after the grace.
    const reason = podDeletedReason(false).reason ?? 'the pod was deleted';
    this.gone.set(execId, { due: this.o.clock.now() + this.o.settings.finalReportGraceMs, reason });
  }

  private assessAll(): void {
    for (const t of this.tracked.values()) this.assess(t);
    const now = this.o.clock.now();
    for (const [execId, { due, reason }] of [...this.gone]) {
      if (now < due) continue;
      this.gone.delete(execId);
      // The control ends it KILLED when a cancel was asked, and leaves a final execution alone.
      this.emit({ type: 'stopped', execId, at: now, reason });
    }
  }

  private assess(t: Tracked): void {
    const now = this.o.clock.now();
    const { settings } = this.o;
    const { assessment, memo } = assessPod(t.pod, t.memo, now, {
      imagePullGraceMs: settings.imagePullGraceMs,
      pendingTimeoutMs: settings.pendingTimeoutMs,
    });
    t.memo = memo;
    let reason: string | undefined;
    if (assessment.action === 'stop') reason = assessment.reason;
    else if (assessment.action === 'await-final-report') {
      if (t.stoppedSentAt === undefined && now < assessment.since + settings.finalReportGraceMs) {
        // Lets a finished execution be cleaned up at once; an unfinished one waits for the grace.
        this.emitTerminatedOnce(t, now);
        return;
      }
      reason = assessment.reason;
    }
    if (reason === undefined) return;
    // Sent again, backing off, while the pod exists: the execution may still have been DISPATCHING.
    if (t.stoppedSentAt !== undefined && now - t.stoppedSentAt < Math.min(60_000, 500 * 2 ** (t.stoppedSends ?? 0))) return;
    t.stoppedSentAt = now;
    t.stoppedSends = (t.stoppedSends ?? 0) + 1;
    this.emit({ type: 'stopped', execId: t.execId, at: now, reason });
  }

  private readonly terminatedSent = new Set<string>();

  private emitTerminatedOnce(t: Tracked, now: number): void {
    const name = t.pod.metadata?.name ?? '';
    if (this.terminatedSent.has(name)) return;
    this.terminatedSent.add(name);
    this.emit({ type: 'terminated', execId: t.execId, at: now });
  }

  /**
   * Deletes pods whose execution is final (past a kept pod's expiry) or unknown, and ends the live
   * executions whose pod is gone, after the final-report grace (`ended` lists those judged now).
   * Executions are read before pods are listed, so a pod created after the read cannot be mistaken
   * for a missing one.
   */
  async sweep(): Promise<{ deleted: number[]; ended: number[] }> {
    const { api, db, clock, settings } = this.o;
    const live = (
      await listExecutionsIn(
        db,
        FLOW_ACTIVE_STATUSES.filter((s) => s !== 'READY' && s !== 'DISPATCHING'),
      )
    ).filter((e) => e.runtimeInfo?.runtime === 'kubernetes');
    const list = await api.call('list', 'pods', () =>
      api.core.listNamespacedPod({ namespace: api.namespace, labelSelector: podSelectorFor(settings.clusterName) }),
    );
    const podsByExec = new Map<number, V1Pod>();
    for (const pod of list.items) {
      const id = this.execIdOf(pod);
      if (id !== undefined) podsByExec.set(id, pod);
    }
    const deleted: number[] = [];
    const now = clock.now();
    for (const [execId, pod] of podsByExec) {
      const exec = await findExecution(db, execId);
      if (exec && !isFlowFinal(exec.status)) continue;
      const annotations = pod.metadata?.annotations ?? {};
      if (exec && annotations[KEEP_ANNOTATION] === 'true') {
        const expires = Date.parse(annotations[EXPIRES_ANNOTATION] ?? '');
        if (!Number.isFinite(expires)) {
          await this.cleanup(execId); // sets the expiry
          continue;
        }
        if (now < expires) continue;
      }
      await this.deleteAll(execId);
      deleted.push(execId);
      this.log.info(
        { execId, pod: pod.metadata?.name },
        exec ? 'Swept the pod of a finished execution.' : 'Swept a pod with no execution.',
      );
    }
    const ended: number[] = [];
    for (const exec of live) {
      if (podsByExec.has(exec.execId)) continue;
      // Judged like a deletion the watch saw, after the final-report grace; if the watch sees the
      // deletion meanwhile (it may lag the list), its reason is kept.
      if (this.gone.has(exec.execId)) continue;
      ended.push(exec.execId);
      this.gone.set(exec.execId, {
        due: now + settings.finalReportGraceMs,
        reason: 'the pod of the execution is gone (found by the cleanup sweep)',
      });
    }
    return { deleted, ended };
  }
}
