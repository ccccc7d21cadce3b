/**
 * The kubelet mode of the fake Kubernetes API server: runs the pods it finds in the store as local
 * process groups, like a kubelet on one node, and reports their status through the store the way a
 * real kubelet does (phases, conditions, container states and their reasons). Container paths under
 * volume mounts become local directories; the flow container's control port becomes a free local
 * port that `endpointOf` hands to the ingress stand-in. Faults are injected by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../web-server/src/log.js';
import { POD_PATHS } from '../../../web-server/src/runtime/kubernetes/settings.js';
import { CONTAINER_MARKER_ENV, killContainerProcesses } from '../../../web-server/src/runtime/process/container-reaper.js';
import { readProcStatSync } from '../../../web-server/src/runtime/process/proc-table.js';
import type { FakeKubeStore, KubeObject, StoreEvent } from './types.js';

export interface FakeKubeletOptions {
  store: FakeKubeStore;
  /** Image reference → local directory holding what the image's payload path (`/caisson/jobtype`) holds. */
  images: Record<string, string>;
  /** How to run an app image locally (its entrypoint); undefined when the image has none. */
  appCommand: (image: string) => { command: string; args: string[] } | undefined;
  /** Pod directories go to `<workRoot>/<namespace>/<pod>`. */
  workRoot: string;
  /** Time between SIGTERM and SIGKILL when containers are killed. Default 2000 ms. */
  killGraceMs?: number;
  /** Period of the checks a waiting pod repeats (scheduling, image pulls, secrets, probes). Default 200 ms. */
  tickMs?: number;
  /** Name of the one node. Default `caisson-fake-node`. */
  nodeName?: string;
}

export interface Endpoint {
  host: string;
  port: number;
}

// ---------------------------------------------------------------------------------------------
// Pod spec and status shapes (only the fields the kubelet reads or writes)

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}

interface Probe {
  httpGet?: { path?: string; port: number | string };
  tcpSocket?: { port: number | string };
}

interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: { secretRef?: { name: string; optional?: boolean }; prefix?: string }[];
  ports?: { containerPort: number; name?: string }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
  readinessProbe?: Probe;
  imagePullPolicy?: string;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

interface PodSpec {
  containers?: ContainerSpec[];
  initContainers?: ContainerSpec[];
  volumes?: { name: string }[];
  activeDeadlineSeconds?: number;
  terminationGracePeriodSeconds?: number;
}

type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; reason: string; message?: string; startedAt: string; finishedAt: string; containerID?: string } };

interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  restartCount: number;
  started: boolean;
  state: ContainerState;
  lastState: Record<string, never>;
}

interface Condition {
  type: string;
  status: 'True' | 'False';
  lastProbeTime: null;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
}

/** Why a pod stopped before its containers finished on their own. */
type Halt = { kind: 'deleted' } | { kind: 'stopped' } | { kind: 'evicted'; message: string } | { kind: 'nodeLost' } | { kind: 'deadline' };

interface ExitOverride {
  exitCode: number;
  reason: string;
  message?: string;
}

interface Proc {
  container: string;
  child: ChildProcess;
  pid: number;
  port: number | undefined;
  alive: boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  override?: ExitOverride;
  /** Settles once what the container left behind (its jobs, in their own sessions) has been killed. */
  reaped?: Promise<unknown>;
}

interface PodRun {
  ns: string;
  name: string;
  uid: string;
  spec: PodSpec;
  labels: Record<string, string>;
  dir: string;
  volumes: Map<string, string>;
  scheduled: boolean;
  unschedulableMessage?: string;
  startTime?: string;
  init: ContainerStatus[];
  apps: ContainerStatus[];
  conditions: Map<string, Condition>;
  halt?: Halt;
  /** No status writes any more (the pod is deleted, or the kubelet stopped). */
  silent: boolean;
  procs: Map<string, Proc>;
  /** Declared containerPort → local port of the container declaring it. */
  ports: Map<number, { container: string; port: number }>;
  written: string;
  wakers: Set<() => void>;
  deadlineTimer?: NodeJS.Timeout;
  done: Promise<void>;
}

const HOST_IP = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// Pure helpers

function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** Whether `ref` parses as a container image reference (`[domain/]repo[:tag][@digest]`), as the kubelet checks it. */
export function isValidImageReference(ref: string): boolean {
  if (ref === '' || ref !== ref.trim() || /\s/.test(ref)) return false;
  let rest = ref;
  const at = rest.indexOf('@');
  if (at >= 0) {
    if (!DIGEST.test(rest.slice(at + 1))) return false;
    rest = rest.slice(0, at);
  }
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    if (!TAG.test(rest.slice(colon + 1))) return false;
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  // The first component is a registry when it looks like a host (docker/distribution's rule).
  const hasDomain = slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first);
  if (hasDomain && !DOMAIN.test(first)) return false;
  const repository = hasDomain ? rest.slice(slash + 1) : rest;
  return repository.length <= 255 && REPOSITORY.test(repository);
}

/** Replaces container paths (a rule's `from` and anything below it) by local paths, respecting path boundaries. */
export function pathRewriter(rules: { from: string; to: string }[]): (text: string) => string {
  const map = new Map<string, string>();
  for (const r of rules) {
    const from = r.from.replace(/\/+$/, '');
    if (from.startsWith('/') && from !== '' && !map.has(from)) map.set(from, r.to.replace(/\/+$/, ''));
  }
  if (map.size === 0) return (text) => text;
  const alternatives = [...map.keys()].sort((a, b) => b.length - a.length).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(`(?<![\\w.~/-])(?:${alternatives.join('|')})(?=$|[^\\w.~-])`, 'g');
  return (text) => text.replace(pattern, (m) => map.get(m) ?? m);
}

/** Kubernetes' `$(VAR)` expansion in env values, command and args (`$$` escapes; unknown names stay). */
function expandReferences(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && Object.hasOwn(vars, name) ? (vars[name] ?? m) : m,
  );
}

function secretValue(secret: KubeObject, key: string): string | undefined {
  const stringData = secret.stringData as Record<string, string> | undefined;
  if (stringData && Object.hasOwn(stringData, key)) return stringData[key];
  const data = secret.data as Record<string, string> | undefined;
  if (data && Object.hasOwn(data, key)) return Buffer.from(data[key] ?? '', 'base64').toString('utf8');
  return undefined;
}

function secretKeys(secret: KubeObject): string[] {
  return [
    ...new Set([
      ...Object.keys((secret.data as object | undefined) ?? {}),
      ...Object.keys((secret.stringData as object | undefined) ?? {}),
    ]),
  ];
}

function qosClass(spec: PodSpec): string {
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const any = containers.some((c) => Object.keys(c.resources?.requests ?? {}).length + Object.keys(c.resources?.limits ?? {}).length > 0);
  if (!any) return 'BestEffort';
  const guaranteed = containers.every((c) =>
    ['cpu', 'memory'].every((r) => {
      const limit = c.resources?.limits?.[r];
      const request = c.resources?.requests?.[r] ?? limit;
      return limit !== undefined && request === limit;
    }),
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? os.constants.signals[signal] : undefined;
  return n === undefined ? 1 : 128 + n;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST_IP, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function probeOnce(probe: Probe, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (probe.httpGet) {
      const req = http.get({ host: HOST_IP, port, path: probe.httpGet.path ?? '/', timeout: 1000 }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    } else {
      const socket = net.connect({ host: HOST_IP, port });
      socket.setTimeout(1000, () => socket.destroy());
      socket.on('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
      socket.on('close', () => resolve(false));
    }
  });
}

function waitingStatus(c: ContainerSpec, reason: string): ContainerStatus {
  return {
    name: c.name,
    image: c.image,
    imageID: '',
    ready: false,
    restartCount: 0,
    started: false,
    state: { waiting: { reason } },
    lastState: {},
  };
}

// ---------------------------------------------------------------------------------------------
// The kubelet

export class FakeKubelet {
  /** Set to make new pods unschedulable (a string is the scheduler's message); they wait until it is cleared. */
  unschedulable: boolean | string = false;
  /** Errors of the kubelet itself (never of the pods); tests may assert it stays empty. */
  readonly errors: unknown[] = [];

  private readonly store: FakeKubeStore;
  private readonly images: Record<string, string>;
  private readonly appCommand: FakeKubeletOptions['appCommand'];
  private readonly workRoot: string;
  private readonly killGraceMs: number;
  private readonly tickMs: number;
  readonly nodeName: string;

  private readonly runs = new Map<string, PodRun>();
  private readonly allRuns = new Set<PodRun>();
  private readonly failedPulls = new Set<string>();
  private readonly failedInits = new Map<string, number>();
  private unsubscribe: (() => void) | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: FakeKubeletOptions) {
    this.store = options.store;
    this.images = options.images;
    this.appCommand = options.appCommand;
    this.workRoot = options.workRoot;
    this.killGraceMs = options.killGraceMs ?? 2000;
    this.tickMs = options.tickMs ?? 200;
    this.nodeName = options.nodeName ?? 'caisson-fake-node';
  }

  /** Watches the store and runs the pods already there and every pod created from now on. */
  start(): void {
    if (this.unsubscribe || this.stopping) return;
    this.unsubscribe = this.store.subscribe((e) => this.onEvent(e));
    for (const pod of this.store.list('pods', undefined).items) this.admit(pod);
  }

  /** Kills every process it started (SIGTERM, then SIGKILL after the grace) and waits for them. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.unsubscribe?.();
      this.unsubscribe = undefined;
      for (const run of this.allRuns) this.halt(run, { kind: 'stopped' });
      await Promise.all([...this.allRuns].map((r) => r.done));
      await Promise.all([...this.allRuns].flatMap((r) => [...r.procs.values()].map((p) => p.reaped)));
    })();
    return this.stopping;
  }

  /** Where the container of a running pod that declares `containerPort` listens locally. */
  endpointOf(namespace: string, podName: string, containerPort: number): Endpoint | undefined {
    const run = this.runs.get(`${namespace}/${podName}`);
    const mapped = run?.ports.get(containerPort);
    if (!run || !mapped || run.halt) return undefined;
    return run.procs.get(mapped.container)?.alive ? { host: HOST_IP, port: mapped.port } : undefined;
  }

  /** What a container wrote to stdout and stderr so far ('' when it never ran). */
  logsOf(namespace: string, podName: string, container: string): string {
    try {
      return fs.readFileSync(path.join(this.podDir(namespace, podName), `${container}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  /** Process id (and process group id) of a container that is running now. */
  pidOf(namespace: string, podName: string, container?: string): number | undefined {
    const run = this.runs.get(`${namespace}/${podName}`);
    if (!run) return undefined;
    for (const proc of run.procs.values()) if (proc.alive && (container === undefined || proc.container === container)) return proc.pid;
    return undefined;
  }

  podDir(namespace: string, podName: string): string {
    return path.join(this.workRoot, namespace, podName);
  }

  volumeDir(namespace: string, podName: string, volume: string): string {
    return path.join(this.podDir(namespace, podName), 'volumes', volume);
  }

  // --- fault injection ---

  /** Pulls of `image` fail (ErrImagePull / ImagePullBackOff) until called again with `fail` false. */
  failImagePull(image: string, fail = true): void {
    if (fail) this.failedPulls.add(image);
    else this.failedPulls.delete(image);
  }

  /** Init containers named `containerName` exit with `exitCode` instead of running (undefined clears it). */
  failInit(containerName: string, exitCode: number | undefined): void {
    if (exitCode === undefined) this.failedInits.delete(containerName);
    else this.failedInits.set(containerName, exitCode);
  }

  /** The kernel's OOM killer takes the app container: SIGKILL, terminated OOMKilled 137, pod Failed. */
  async oomKill(namespace: string, podName: string, container?: string): Promise<void> {
    await this.killContainer(namespace, podName, container, { exitCode: 137, reason: 'OOMKilled' });
  }

  /** The app container exits with `exitCode` (its process is killed and that code reported). */
  async crash(namespace: string, podName: string, exitCode: number, container?: string): Promise<void> {
    await this.killContainer(namespace, podName, container, { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' });
  }

  /** Node-pressure eviction: containers killed, pod Failed with reason Evicted. */
  async evict(namespace: string, podName: string, message?: string): Promise<void> {
    const run = this.runOf(namespace, podName);
    this.halt(run, {
      kind: 'evicted',
      message: message ?? 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 48Mi. ',
    });
    await run.done;
  }

  /** The node stops answering: its processes die, the pod turns Unknown with reason NodeLost, Ready False. */
  async loseNode(namespace: string, podName: string): Promise<void> {
    const run = this.runOf(namespace, podName);
    this.halt(run, { kind: 'nodeLost' });
    await run.done;
  }

  // --- store events ---

  private onEvent(e: StoreEvent): void {
    if (e.resource === 'secrets') {
      for (const run of this.allRuns) this.wake(run);
      return;
    }
    if (e.resource !== 'pods') return;
    const pod = e.object;
    const run = this.runs.get(`${pod.metadata.namespace}/${pod.metadata.name}`);
    const same = run !== undefined && run.uid === pod.metadata.uid;
    if (e.type === 'DELETED' || pod.metadata.deletionTimestamp) {
      const grace = pod.metadata.deletionGracePeriodSeconds;
      if (same) this.halt(run, { kind: 'deleted' }, typeof grace === 'number' ? grace * 1000 : undefined);
      return;
    }
    if (!same) this.admit(pod);
  }

  private admit(pod: KubeObject): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (this.stopping || pod.metadata.deletionTimestamp) return;
    if (this.runs.get(key)?.uid === pod.metadata.uid) return;
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return;
    const spec = (pod.spec ?? {}) as PodSpec;
    const hasInit = (spec.initContainers ?? []).length > 0;
    const run: PodRun = {
      ns: pod.metadata.namespace,
      name: pod.metadata.name,
      uid: pod.metadata.uid,
      spec,
      labels: pod.metadata.labels ?? {},
      dir: this.podDir(pod.metadata.namespace, pod.metadata.name),
      volumes: new Map(),
      scheduled: false,
      init: (spec.initContainers ?? []).map((c) => waitingStatus(c, 'PodInitializing')),
      apps: (spec.containers ?? []).map((c) => waitingStatus(c, hasInit ? 'PodInitializing' : 'ContainerCreating')),
      conditions: new Map(),
      silent: false,
      procs: new Map(),
      ports: new Map(),
      written: '',
      wakers: new Set(),
      done: Promise.resolve(),
    };
    this.runs.set(key, run);
    this.allRuns.add(run);
    run.done = this.runPod(run).catch((err: unknown) => {
      this.errors.push(err);
    });
  }

  // --- the pod's life ---

  private async runPod(run: PodRun): Promise<void> {
    // Never write to the store from inside its listener loop: other watchers must see ADDED first.
    await new Promise((r) => setImmediate(r));
    try {
      if (!(await this.schedule(run))) return;
      this.prepareVolumes(run);
      for (const [i, c] of (run.spec.initContainers ?? []).entries()) {
        if (!(await this.runInitContainer(run, c, i))) return;
      }
      for (const [i, c] of (run.spec.containers ?? []).entries()) {
        if (!(await this.startAppContainer(run, c, i))) break;
      }
      await Promise.all([...run.procs.values()].map((p) => p.exited));
      // Exit handlers run before this continuation; give them their turn.
      await new Promise((r) => setImmediate(r));
    } finally {
      if (run.deadlineTimer) clearTimeout(run.deadlineTimer);
      await Promise.all([...run.procs.values()].map((p) => p.exited));
      this.publish(run);
    }
  }

  private async schedule(run: PodRun): Promise<boolean> {
    while (this.unschedulable !== false) {
      if (run.halt) return false;
      run.unschedulableMessage =
        typeof this.unschedulable === 'string' ? this.unschedulable : '0/1 nodes are available: 1 Insufficient memory.';
      this.publish(run);
      await this.pause(run);
    }
    if (run.halt) return false;
    run.scheduled = true;
    run.unschedulableMessage = undefined;
    run.startTime = timestamp();
    const deadline = run.spec.activeDeadlineSeconds;
    if (typeof deadline === 'number' && deadline > 0) {
      run.deadlineTimer = setTimeout(() => this.halt(run, { kind: 'deadline' }), deadline * 1000);
    }
    if (!run.silent) {
      try {
        this.store.update('pods', run.ns, run.name, (obj) => {
          if (obj.metadata.uid === run.uid) (obj.spec as Record<string, unknown>).nodeName = this.nodeName;
        });
      } catch {
        // Deleted meanwhile; the DELETED event halts the run.
      }
    }
    this.publish(run);
    return true;
  }

  private prepareVolumes(run: PodRun): void {
    fs.rmSync(path.join(run.dir, 'volumes'), { recursive: true, force: true });
    for (const v of run.spec.volumes ?? []) {
      // emptyDir becomes a directory; other kinds are accepted and stay empty.
      const dir = path.join(run.dir, 'volumes', v.name);
      fs.mkdirSync(dir, { recursive: true });
      run.volumes.set(v.name, dir);
    }
  }

  /** Waits until the image can be "pulled", reporting InvalidImageName, ErrImagePull/ImagePullBackOff meanwhile. */
  private async pullImage(run: PodRun, c: ContainerSpec, status: ContainerStatus): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (run.halt) return false;
      const image = c.image ?? '';
      if (!isValidImageReference(image)) {
        status.state = {
          waiting: {
            reason: 'InvalidImageName',
            message: `Failed to apply default image tag "${image}": couldn't parse image name "${image}": invalid reference format`,
          },
        };
      } else if (!this.failedPulls.has(image) && (Object.hasOwn(this.images, image) || this.appCommand(image) !== undefined)) {
        const repository = image.replace(/@.*$/, '').replace(/:[^:/]*$/, '');
        status.imageID = `docker-pullable://${repository}@sha256:${createHash('sha256').update(image).digest('hex')}`;
        return true;
      } else if ((c.imagePullPolicy ?? '') === 'Never') {
        status.state = {
          waiting: { reason: 'ErrImageNeverPull', message: `Container image "${image}" is not present with pull policy of Never` },
        };
      } else if (attempt % 2 === 0) {
        status.state = {
          waiting: {
            reason: 'ErrImagePull',
            message: `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${image}: not found`,
          },
        };
      } else {
        status.state = { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } };
      }
      this.publish(run);
      await this.pause(run);
    }
  }

  /** Resolves the container's environment, reporting CreateContainerConfigError until its secrets exist. */
  private async resolveEnv(run: PodRun, c: ContainerSpec, status: ContainerStatus): Promise<Record<string, string> | undefined> {
    for (;;) {
      if (run.halt) return undefined;
      const resolved = this.tryResolveEnv(run, c);
      if (typeof resolved !== 'string') return resolved;
      status.state = { waiting: { reason: 'CreateContainerConfigError', message: resolved } };
      this.publish(run);
      await this.pause(run);
    }
  }

  private tryResolveEnv(run: PodRun, c: ContainerSpec): Record<string, string> | string {
    const env: Record<string, string> = {};
    for (const from of c.envFrom ?? []) {
      if (!from.secretRef) continue;
      const secret = this.store.get('secrets', run.ns, from.secretRef.name);
      if (!secret) {
        if (from.secretRef.optional) continue;
        return `secret "${from.secretRef.name}" not found`;
      }
      for (const key of secretKeys(secret)) env[`${from.prefix ?? ''}${key}`] = secretValue(secret, key) ?? '';
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const secret = this.store.get('secrets', run.ns, ref.name);
        const value = secret ? secretValue(secret, ref.key) : undefined;
        if (value !== undefined) env[e.name] = value;
        else if (!ref.optional)
          return secret ? `couldn't find key ${ref.key} in Secret ${run.ns}/${ref.name}` : `secret "${ref.name}" not found`;
      } else if (e.valueFrom?.configMapKeyRef) {
        // The fake serves no ConfigMaps.
        if (!e.valueFrom.configMapKeyRef.optional) return `configmap "${e.valueFrom.configMapKeyRef.name}" not found`;
      } else if (e.valueFrom?.fieldRef) {
        env[e.name] = this.fieldValue(run, e.valueFrom.fieldRef.fieldPath);
      } else {
        env[e.name] = expandReferences(e.value ?? '', env);
      }
    }
    return env;
  }

  private fieldValue(run: PodRun, fieldPath: string): string {
    const label = /^metadata\.labels\['(.+)'\]$/.exec(fieldPath);
    if (label) return run.labels[label[1] ?? ''] ?? '';
    const values: Record<string, string> = {
      'metadata.name': run.name,
      'metadata.namespace': run.ns,
      'metadata.uid': run.uid,
      'spec.nodeName': this.nodeName,
      'status.podIP': HOST_IP,
      'status.hostIP': HOST_IP,
    };
    return values[fieldPath] ?? '';
  }

  private rewriterFor(run: PodRun, c: ContainerSpec): (text: string) => string {
    const rules: { from: string; to: string }[] = [];
    for (const m of c.volumeMounts ?? []) {
      const dir = run.volumes.get(m.name);
      if (dir === undefined) continue;
      const to = m.subPath ? path.join(dir, m.subPath) : dir;
      fs.mkdirSync(to, { recursive: true });
      rules.push({ from: m.mountPath, to });
    }
    const payload = Object.hasOwn(this.images, c.image) ? this.images[c.image] : undefined;
    if (payload !== undefined) rules.push({ from: POD_PATHS.jobtypePayload, to: path.resolve(payload) });
    return pathRewriter(rules);
  }

  private async runInitContainer(run: PodRun, c: ContainerSpec, index: number): Promise<boolean> {
    const status = run.init[index];
    if (!status) return false;
    if (!(await this.pullImage(run, c, status))) return false;
    const env = await this.resolveEnv(run, c, status);
    if (!env) return false;
    const injected = this.failedInits.get(c.name);
    const proc = await this.launch(
      run,
      c,
      status,
      env,
      injected === undefined ? undefined : { command: '/bin/sh', args: ['-c', `exit ${injected}`] },
      false,
    );
    if (!proc) return false;
    await proc.exited;
    await new Promise((r) => setImmediate(r));
    const state = status.state;
    return 'terminated' in state && state.terminated.exitCode === 0 && !run.halt;
  }

  private async startAppContainer(run: PodRun, c: ContainerSpec, index: number): Promise<boolean> {
    const status = run.apps[index];
    if (!status) return false;
    if (!(await this.pullImage(run, c, status))) return false;
    const env = await this.resolveEnv(run, c, status);
    if (!env) return false;
    const proc = await this.launch(run, c, status, env, undefined, true);
    return proc !== undefined && !run.halt;
  }

  /** Starts a container's process group; its exit is recorded in `status`. Undefined when it could not start. */
  private async launch(
    run: PodRun,
    c: ContainerSpec,
    status: ContainerStatus,
    containerEnv: Record<string, string>,
    replacement: { command: string; args: string[] } | undefined,
    isApp: boolean,
  ): Promise<Proc | undefined> {
    const rewrite = this.rewriterFor(run, c);
    const env: Record<string, string> = {};
    for (const name of ['PATH', 'HOME']) {
      const v = process.env[name];
      if (v !== undefined) env[name] = v;
    }
    env.HOSTNAME = run.name;
    for (const [k, v] of Object.entries(containerEnv)) env[k] = rewrite(v);
    // Stands in for the container's pid namespace: every process it starts inherits this marker,
    // so what it leaves behind when it dies can be found and killed (as solo mode does).
    const marker = randomBytes(12).toString('hex');
    env[CONTAINER_MARKER_ENV] = marker;
    let port: number | undefined;
    if (isApp) {
      port = await freeLocalPort();
      env.CAISSON_CONTROL_HOST = HOST_IP;
      env.CAISSON_CONTROL_PORT = String(port);
    }
    if (run.halt) return undefined;

    const expand = (s: string): string => rewrite(expandReferences(s, env));
    // `command` replaces the image's entrypoint (appCommand); `args` follow either.
    let command: string;
    let args: string[];
    const entrypoint = c.command && c.command.length > 0 ? undefined : this.appCommand(c.image);
    if (replacement) {
      ({ command, args } = replacement);
    } else if (c.command && c.command.length > 0) {
      command = expand(c.command[0] ?? '');
      args = [...c.command.slice(1), ...(c.args ?? [])].map(expand);
    } else if (entrypoint) {
      command = entrypoint.command;
      args = [...entrypoint.args, ...(c.args ?? []).map(expand)];
    } else {
      this.recordTerminated(run, status, { exitCode: 128, reason: 'StartError', message: 'no command specified' }, timestamp());
      return undefined;
    }

    const workVolume = (c.volumeMounts ?? []).find((m) => m.mountPath.replace(/\/+$/, '') === POD_PATHS.work);
    const candidates = [c.workingDir ? rewrite(c.workingDir) : undefined, workVolume ? rewrite(POD_PATHS.work) : undefined, run.dir];
    const cwd = candidates.find((d): d is string => d !== undefined && fs.existsSync(d)) ?? run.dir;

    fs.mkdirSync(run.dir, { recursive: true });
    const log = fs.openSync(path.join(run.dir, `${c.name}.log`), 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', log, log] });
    } finally {
      fs.closeSync(log);
    }
    const startedAt = timestamp();
    const containerID = `containerd://${randomBytes(32).toString('hex')}`;
    if (child.pid === undefined) {
      const err = await new Promise<Error>((resolve) => child.once('error', resolve));
      this.recordTerminated(run, status, { exitCode: 128, reason: 'StartError', message: `failed to start: ${err.message}` }, startedAt);
      return undefined;
    }
    const pid = child.pid;
    const startTicks = readProcStatSync(pid)?.startTicks ?? 0;
    const proc: Proc = {
      container: c.name,
      child,
      pid,
      port,
      alive: true,
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    };
    child.on('error', () => undefined);
    run.procs.set(c.name, proc);
    if (port !== undefined) {
      for (const p of c.ports ?? []) run.ports.set(p.containerPort, { container: c.name, port });
    }
    status.containerID = containerID;
    status.started = true;
    status.ready = isApp && !c.readinessProbe;
    status.state = { running: { startedAt } };
    this.publish(run);
    if (isApp && c.readinessProbe) void this.probeUntilReady(run, c, proc, status);

    void proc.exited.then(({ code, signal }) => {
      proc.alive = false;
      // A container's processes die with it, as in its own pid namespace.
      signalGroup(pid, 'SIGKILL');
      proc.reaped = killContainerProcesses({ roots: [], marker, startTicks }, 0, silentLogger).catch(() => 0);
      if (run.halt?.kind === 'nodeLost') return;
      const override = proc.override;
      const exitCode = override?.exitCode ?? exitCodeOf(code, signal);
      const reason = override?.reason ?? (exitCode === 0 ? 'Completed' : 'Error');
      this.recordTerminated(run, status, { exitCode, reason, message: override?.message }, startedAt, containerID);
    });
    return proc;
  }

  private recordTerminated(run: PodRun, status: ContainerStatus, end: ExitOverride, startedAt: string, containerID?: string): void {
    status.ready = false;
    status.started = false;
    status.state = {
      terminated: {
        exitCode: end.exitCode,
        reason: end.reason,
        ...(end.message !== undefined ? { message: end.message } : {}),
        startedAt,
        finishedAt: timestamp(),
        ...(containerID !== undefined ? { containerID } : {}),
      },
    };
    this.publish(run);
  }

  private async probeUntilReady(run: PodRun, c: ContainerSpec, proc: Proc, status: ContainerStatus): Promise<void> {
    const probe = c.readinessProbe ?? {};
    const target = probe.httpGet?.port ?? probe.tcpSocket?.port;
    const declared = typeof target === 'number' ? target : c.ports?.find((p) => p.name === target)?.containerPort;
    const port = declared === undefined ? undefined : run.ports.get(declared)?.port;
    if (port === undefined || (!probe.httpGet && !probe.tcpSocket)) {
      status.ready = true;
      this.publish(run);
      return;
    }
    while (proc.alive && !run.halt) {
      if (await probeOnce(probe, port)) {
        if (proc.alive && !run.halt) {
          status.ready = true;
          this.publish(run);
        }
        return;
      }
      await this.pause(run);
    }
  }

  // --- stopping pods ---

  private runOf(namespace: string, podName: string): PodRun {
    const run = this.runs.get(`${namespace}/${podName}`);
    if (!run) throw new Error(`the kubelet runs no pod ${namespace}/${podName}`);
    return run;
  }

  private async killContainer(namespace: string, podName: string, container: string | undefined, end: ExitOverride): Promise<void> {
    const run = this.runOf(namespace, podName);
    const appNames = new Set((run.spec.containers ?? []).map((c) => c.name));
    const proc = [...run.procs.values()].find(
      (p) => p.alive && appNames.has(p.container) && (container === undefined || p.container === container),
    );
    if (!proc) throw new Error(`pod ${namespace}/${podName} has no running container${container ? ` ${container}` : ''}`);
    proc.override = end;
    signalGroup(proc.pid, 'SIGKILL');
    await proc.exited;
    await new Promise((r) => setImmediate(r));
  }

  /** Stops the pod: SIGTERM to its containers, SIGKILL after the grace (the pod's, the deletion's, or killGraceMs, whichever is least). */
  private halt(run: PodRun, halt: Halt, graceMs?: number): void {
    if (halt.kind === 'deleted' || halt.kind === 'stopped') run.silent = true;
    if (!run.halt) run.halt = halt;
    if (run.deadlineTimer) clearTimeout(run.deadlineTimer);
    this.wake(run);
    const grace =
      halt.kind === 'nodeLost'
        ? 0
        : Math.min(this.killGraceMs, graceMs ?? Infinity, (run.spec.terminationGracePeriodSeconds ?? Infinity) * 1000);
    for (const proc of run.procs.values()) if (proc.alive) void this.killProc(proc, grace);
  }

  private async killProc(proc: Proc, graceMs: number): Promise<void> {
    signalGroup(proc.pid, graceMs <= 0 ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => signalGroup(proc.pid, 'SIGKILL'), Math.max(graceMs, 0));
    await proc.exited;
    clearTimeout(timer);
  }

  // --- waiting ---

  private pause(run: PodRun): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        run.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.tickMs);
      run.wakers.add(done);
    });
  }

  private wake(run: PodRun): void {
    for (const w of [...run.wakers]) w();
  }

  // --- status ---

  private publish(run: PodRun): void {
    if (run.silent) return;
    const status = this.composeStatus(run);
    const json = JSON.stringify(status);
    if (json === run.written) return;
    const current = this.store.get('pods', run.ns, run.name);
    if (!current || current.metadata.uid !== run.uid) return;
    run.written = json;
    try {
      this.store.update('pods', run.ns, run.name, (obj) => {
        obj.status = JSON.parse(json) as unknown;
      });
    } catch {
      // Deleted meanwhile; the DELETED event silences the run.
    }
  }

  private condition(run: PodRun, type: string, ok: boolean, reason?: string, message?: string): Condition {
    const status = ok ? 'True' : 'False';
    const previous = run.conditions.get(type);
    const c: Condition = {
      type,
      status,
      lastProbeTime: null,
      lastTransitionTime: previous && previous.status === status ? previous.lastTransitionTime : timestamp(),
      ...(reason !== undefined ? { reason } : {}),
      ...(message !== undefined ? { message } : {}),
    };
    run.conditions.set(type, c);
    return c;
  }

  private composeStatus(run: PodRun): Record<string, unknown> {
    const qos = qosClass(run.spec);
    if (!run.scheduled) {
      const conditions = run.unschedulableMessage
        ? [this.condition(run, 'PodScheduled', false, 'Unschedulable', run.unschedulableMessage)]
        : [];
      return { phase: 'Pending', conditions, qosClass: qos };
    }
    const exitOf = (s: ContainerStatus): number | undefined => ('terminated' in s.state ? s.state.terminated.exitCode : undefined);
    const initFailed = run.init.some((s) => (exitOf(s) ?? 0) !== 0);
    const initialized = run.init.every((s) => exitOf(s) === 0);
    let phase: string;
    if (run.halt?.kind === 'nodeLost') phase = 'Unknown';
    else if (run.halt?.kind === 'evicted' || run.halt?.kind === 'deadline' || initFailed) phase = 'Failed';
    else if (!initialized || run.apps.some((s) => 'waiting' in s.state)) phase = 'Pending';
    else if (run.apps.some((s) => 'running' in s.state)) phase = 'Running';
    else phase = run.apps.every((s) => exitOf(s) === 0) ? 'Succeeded' : 'Failed';

    const unready = run.apps.filter((s) => !s.ready).map((s) => s.name);
    const incomplete = run.init.filter((s) => exitOf(s) !== 0).map((s) => s.name);
    let readyReason: string | undefined;
    let readyMessage: string | undefined;
    if (phase === 'Succeeded') readyReason = 'PodCompleted';
    else if (unready.length > 0) {
      readyReason = 'ContainersNotReady';
      readyMessage = `containers with unready status: [${unready.join(' ')}]`;
    }
    const containersReady = readyReason === undefined;
    const nodeLostMessage = `Node ${this.nodeName} which was running pod ${run.name} is unresponsive`;
    const conditions: Condition[] = [];
    if (run.halt?.kind === 'evicted')
      conditions.push(this.condition(run, 'DisruptionTarget', true, 'TerminationByKubelet', run.halt.message));
    conditions.push(
      initialized || phase === 'Succeeded'
        ? this.condition(run, 'Initialized', true, phase === 'Succeeded' && run.init.length > 0 ? 'PodCompleted' : undefined)
        : this.condition(
            run,
            'Initialized',
            false,
            'ContainersNotInitialized',
            `containers with incomplete status: [${incomplete.join(' ')}]`,
          ),
      // A lost node's pod turns unready; its container statuses (and ContainersReady) keep their last known values.
      run.halt?.kind === 'nodeLost'
        ? this.condition(run, 'Ready', false, 'NodeLost', nodeLostMessage)
        : this.condition(run, 'Ready', containersReady, readyReason, readyMessage),
      this.condition(run, 'ContainersReady', containersReady, readyReason, readyMessage),
      this.condition(run, 'PodScheduled', true),
    );

    const status: Record<string, unknown> = {
      phase,
      conditions,
      hostIP: HOST_IP,
      hostIPs: [{ ip: HOST_IP }],
      podIP: HOST_IP,
      podIPs: [{ ip: HOST_IP }],
      startTime: run.startTime,
      ...(run.init.length > 0 ? { initContainerStatuses: run.init } : {}),
      containerStatuses: run.apps,
      qosClass: qos,
    };
    if (run.halt?.kind === 'evicted') Object.assign(status, { reason: 'Evicted', message: run.halt.message });
    if (run.halt?.kind === 'deadline') {
      Object.assign(status, { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' });
    }
    if (run.halt?.kind === 'nodeLost') Object.assign(status, { reason: 'NodeLost', message: nodeLostMessage });
    return status;
  }
}
