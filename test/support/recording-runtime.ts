/**
 * A ContainerRuntime for tests (our own seam): records every launch, can fail chosen executions
 * transiently N times or permanently, can add launch latency, and is idempotent by execution id
 * (a second launch of the same id adopts the container). `afterLaunch` runs between a successful
 * launch and the dispatcher's next step (to stage a cancel racing the launch, say).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RuntimeError,
  type ContainerDescription,
  type ContainerRuntime,
  type LaunchPlan,
  type LaunchResult,
  type RuntimeEvent,
} from '../../web-server/src/runtime/container-runtime.js';

export class RecordingRuntime implements ContainerRuntime {
  readonly name = 'process' as const;
  /** Every launch call per execution id, failed ones included. */
  readonly launchCalls = new Map<number, number>();
  /** Successful launches, in order. */
  readonly launched: LaunchPlan[] = [];
  readonly stopped: number[] = [];
  readonly cleaned: number[] = [];
  /** Milliseconds each launch takes, or a function of the plan. */
  latencyMs: number | ((plan: LaunchPlan) => number) = 0;
  afterLaunch: ((plan: LaunchPlan) => Promise<void> | void) | undefined;
  private readonly containers = new Set<number>();
  private readonly transientFailures = new Map<number, { left: number; message: string }>();
  private readonly permanentFailures = new Map<number, string>();
  private readonly listeners = new Set<(e: RuntimeEvent) => void>();
  private readonly waiters: { test: () => boolean; resolve: () => void }[] = [];

  /** The next `times` launches of `execId` fail with a transient RuntimeError. */
  failTransiently(execId: number, times: number, message = 'the API server answered 503'): void {
    this.transientFailures.set(execId, { left: times, message });
  }

  /** Every launch of `execId` fails with a permanent RuntimeError. */
  failPermanently(execId: number, message = 'the image reference is invalid'): void {
    this.permanentFailures.set(execId, message);
  }

  /** Execution ids launched more than once (any entry is a duplicate dispatch). */
  duplicates(): number[] {
    return [...this.launchCalls].filter(([, n]) => n > 1).map(([id]) => id);
  }

  hasContainer(execId: number): boolean {
    return this.containers.has(execId);
  }

  /** Resolves once `execId` has been launched successfully. */
  whenLaunched(execId: number): Promise<void> {
    return this.when(() => this.launched.some((p) => p.execId === execId));
  }

  /** Resolves once `n` successful launches happened. */
  whenLaunchCount(n: number): Promise<void> {
    return this.when(() => this.launched.length >= n);
  }

  private when(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  private notify(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.test()) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async launch(plan: LaunchPlan): Promise<LaunchResult> {
    const { execId } = plan;
    this.launchCalls.set(execId, (this.launchCalls.get(execId) ?? 0) + 1);
    const latency = typeof this.latencyMs === 'function' ? this.latencyMs(plan) : this.latencyMs;
    if (latency > 0) await sleep(latency);
    const transient = this.transientFailures.get(execId);
    if (transient && transient.left > 0) {
      transient.left--;
      throw new RuntimeError(transient.message, true);
    }
    const permanent = this.permanentFailures.get(execId);
    if (permanent !== undefined) throw new RuntimeError(permanent, false);
    const adopted = this.containers.has(execId);
    this.containers.add(execId);
    this.launched.push(plan);
    if (this.afterLaunch) await this.afterLaunch(plan);
    this.notify();
    return { runtimeInfo: { runtime: 'recording', container: `rec-${execId}` }, adopted };
  }

  async stopContainer(execId: number): Promise<void> {
    this.stopped.push(execId);
    this.containers.delete(execId);
  }

  async describe(execId: number): Promise<ContainerDescription | undefined> {
    return this.containers.has(execId)
      ? { execId, state: 'running', runtimeInfo: { runtime: 'recording', container: `rec-${execId}` } }
      : undefined;
  }

  async reattach(): Promise<void> {}

  async cleanup(execId: number): Promise<void> {
    this.cleaned.push(execId);
    this.containers.delete(execId);
  }

  onEvent(listener: (e: RuntimeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
