/**
 * A runtime whose code is loaded when it starts. The Kubernetes runtime pulls in
 * @kubernetes/client-node (thousands of generated modules, tens of MiB): a solo server never loads
 * it, and a Kubernetes one loads it once, in start(), where configuration errors are reported too.
 */
import type { ContainerDescription, ContainerRuntime, LaunchPlan, LaunchResult, RuntimeEvent, RuntimeInfo } from './container-runtime.js';

export class DeferredRuntime implements ContainerRuntime {
  private inner: ContainerRuntime | undefined;
  private readonly listeners = new Set<(e: RuntimeEvent) => void>();

  constructor(
    readonly name: ContainerRuntime['name'],
    private readonly load: () => Promise<ContainerRuntime>,
  ) {}

  /** The loaded runtime (after start). */
  get loaded(): ContainerRuntime | undefined {
    return this.inner;
  }

  private get runtime(): ContainerRuntime {
    if (!this.inner) throw new Error(`the ${this.name} runtime has not been started`);
    return this.inner;
  }

  async start(): Promise<void> {
    if (!this.inner) {
      const inner = await this.load();
      inner.onEvent((e) => {
        for (const l of this.listeners) l(e);
      });
      this.inner = inner;
    }
    await this.inner.start();
  }

  async stop(): Promise<void> {
    await this.inner?.stop();
  }

  launch(plan: LaunchPlan): Promise<LaunchResult> {
    return this.runtime.launch(plan);
  }

  stopContainer(execId: number, graceMs: number): Promise<void> {
    return this.runtime.stopContainer(execId, graceMs);
  }

  describe(execId: number): Promise<ContainerDescription | undefined> {
    return this.runtime.describe(execId);
  }

  reattach(execId: number, runtimeInfo: RuntimeInfo): Promise<void> {
    return this.runtime.reattach(execId, runtimeInfo);
  }

  cleanup(execId: number): Promise<void> {
    return this.runtime.cleanup(execId);
  }

  onEvent(listener: (e: RuntimeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
