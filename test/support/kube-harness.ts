/**
 * A whole fake cluster for end-to-end tests of the Kubernetes runtime: the wire-level fake API
 * server, its kubelet mode running pods as local processes (the flow container from the sources),
 * the Mapping-driven proxy standing in for Ambassador, and a Caisson web server in kubernetes mode
 * using the real client against them. Images are registered the way an operator would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Dialect } from '../../common/db/knex.js';
import type { TestDatabase } from '../../common/db/test-database.js';
import { registerBuiltInImages } from '../../image-mgmt/src/bootstrap.js';
import { readJobtypeManifest } from '../../image-mgmt/src/jobtype-payloads.js';
import { FakeKubeApiServer } from './fake-kube/api-server.js';
import { IngressProxy } from './fake-kube/ingress-proxy.js';
import { FakeKubelet } from './fake-kube/kubelet.js';
import { validateObject } from './fake-kube/validate.js';
import type { ResourceName } from './fake-kube/types.js';
import { REPO_ROOT } from './projects.js';
import { ADMIN_PASSWORD, SOURCE_CONTAINER_COMMAND, startTestServer, type TestServer } from './test-server.js';
export { submitFlow, uploadProject } from './test-server.js';
import { findExecution, type ExecutionRow } from '../../web-server/src/executions/executions-store.js';
import type { DeferredRuntime } from '../../web-server/src/runtime/deferred-runtime.js';
import { KubernetesRuntime } from '../../web-server/src/runtime/kubernetes/kubernetes-runtime.js';
import type { CaissonServer } from '../../web-server/src/server.js';
import { waitFor } from './wait.js';

export const NAMESPACE = 'flows';
export const BASE_IMAGE = { path: 'registry.test/caisson/flow-container', version: '1.0.0' };
export const jobtypeImage = (type: string): { path: string; version: string } => ({
  path: `registry.test/caisson/jobtype-${type}`,
  version: readJobtypeManifest(path.join(REPO_ROOT, 'docker', 'jobtypes', type, 'payload')).version,
});
const SHIPPED_JOBTYPES = ['bash', 'python'];

export interface FakeCluster {
  api: FakeKubeApiServer;
  kubelet: FakeKubelet;
  proxy: IngressProxy;
  ingressUrl: string;
  workRoot: string;
  /** Every object ever created or replaced in the fake, re-validated (empty when all were valid). */
  invalidObjects(): string[];
  stop(): Promise<void>;
}

export async function startFakeCluster(options: { latencyMs?: number; kubelet?: boolean } = {}): Promise<FakeCluster> {
  const api = new FakeKubeApiServer({ latencyMs: options.latencyMs ?? 0, bookmarkIntervalMs: 1000 });
  await api.start();
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-kubelet-'));
  const images: Record<string, string> = {};
  for (const t of SHIPPED_JOBTYPES) {
    const img = jobtypeImage(t);
    images[`${img.path}:${img.version}`] = path.join(REPO_ROOT, 'docker', 'jobtypes', t, 'payload');
  }
  const baseRef = `${BASE_IMAGE.path}:${BASE_IMAGE.version}`;
  const kubelet = new FakeKubelet({
    store: api.store,
    images,
    appCommand: (image) =>
      image === baseRef ? { command: SOURCE_CONTAINER_COMMAND.executable, args: SOURCE_CONTAINER_COMMAND.args } : undefined,
    workRoot,
    killGraceMs: 1000,
    tickMs: 100,
  });
  if (options.kubelet !== false) kubelet.start();
  const proxy = new IngressProxy({ store: api.store, kubelet });
  const ingressUrl = await proxy.start();
  const seen: { resource: ResourceName; namespace: string; object: unknown }[] = [];
  const unsubscribe = api.store.subscribe((e) => {
    if (e.type !== 'DELETED')
      seen.push({ resource: e.resource, namespace: e.object.metadata.namespace, object: structuredClone(e.object) });
  });
  return {
    api,
    kubelet,
    proxy,
    ingressUrl,
    workRoot,
    invalidObjects: () =>
      seen.flatMap((s) =>
        validateObject(s.resource, s.namespace, s.object).map(
          (c) => `${s.resource}/${(s.object as { metadata: { name: string } }).metadata.name}: ${c.field}: ${c.message}`,
        ),
      ),
    async stop() {
      unsubscribe();
      // A test that failed before killing its server process must not leave it running.
      await Promise.all(
        [...spawned].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGKILL');
            }),
        ),
      );
      await kubelet.stop();
      await proxy.stop();
      await api.stop();
      fs.rmSync(workRoot, { recursive: true, force: true });
    },
  };
}

/** Registers the flow-container image and the shipped jobtype images as ACTIVE versions, as an operator would. */
export async function registerClusterImages(tdb: TestDatabase): Promise<void> {
  await registerBuiltInImages(
    tdb.db,
    [
      { imageType: 'caisson-base', path: BASE_IMAGE.path, version: BASE_IMAGE.version, description: 'flow container' },
      ...SHIPPED_JOBTYPES.map((t) => ({ imageType: t, ...jobtypeImage(t), description: `${t} jobtype` })),
    ],
    Date.now(),
  );
}

/** The settings of a web server in kubernetes mode on the fake cluster, with short graces for tests. */
function kubeModeEnv(cluster: FakeCluster): Record<string, string> {
  return {
    CAISSON_RUNTIME: 'kubernetes',
    CAISSON_K8S_NAMESPACE: NAMESPACE,
    CAISSON_CLUSTER_NAME: 'ci',
    CAISSON_INGRESS_URL: cluster.ingressUrl,
    CAISSON_K8S_LEASE_DURATION: '1500ms',
    CAISSON_K8S_FINAL_REPORT_GRACE: '1s',
    CAISSON_K8S_SWEEP_INTERVAL: '1s',
  };
}

const FINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED'];

/** Waits until the execution is final; resolves to its row. */
export function waitForFinal(tdb: TestDatabase, execId: number, ms = 40_000): Promise<ExecutionRow> {
  return waitFor(
    `execution ${execId} to end`,
    async () => {
      const e = await findExecution(tdb.db, execId);
      return e && FINAL_STATUSES.includes(e.status) ? e : undefined;
    },
    ms,
    50,
  );
}

/** The Kubernetes runtime of a started server (its code is loaded at start). */
export function kubeRuntimeOf(server: CaissonServer): KubernetesRuntime {
  const loaded = (server.runtime as DeferredRuntime).loaded;
  if (!(loaded instanceof KubernetesRuntime)) throw new Error('the server does not run the Kubernetes runtime');
  return loaded;
}

/** A Caisson web server in kubernetes mode against the fake cluster. */
export async function startKubeServer(
  dialect: Dialect,
  cluster: FakeCluster,
  env: Record<string, string> = {},
  reuse?: { tdb: TestDatabase; dataDir: string },
): Promise<TestServer> {
  return startTestServer(
    dialect,
    {
      ...kubeModeEnv(cluster),
      ...env,
    },
    reuse,
    { kubeConfig: cluster.api.kubeConfig(NAMESPACE), beforeStart: registerClusterImages },
  );
}

export interface ServerProcess {
  url: string;
  pid: number;
  /** Ends the process at once (SIGKILL): nothing is released, as when a node dies. */
  kill(): Promise<void>;
}

/** Server processes spawned and not yet exited: killed when the cluster stops, and when the test run exits. */
const spawned = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of spawned) c.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * A Caisson web server in kubernetes mode as a separate process (`web-server/src/main.ts` from the
 * sources), reading the fake cluster from a KUBECONFIG file: it can be killed for real.
 */
export async function spawnKubeServer(
  cluster: FakeCluster,
  tdb: TestDatabase,
  dataDir: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const kubeconfig = path.join(dataDir, `kubeconfig-${port}.yaml`);
  await cluster.api.writeKubeconfig(kubeconfig, NAMESPACE);
  const child = spawn(
    SOURCE_CONTAINER_COMMAND.executable,
    [SOURCE_CONTAINER_COMMAND.args[0]!, SOURCE_CONTAINER_COMMAND.args[1]!, path.join(REPO_ROOT, 'web-server', 'src', 'main.ts')],
    {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        KUBECONFIG: kubeconfig,
        CAISSON_PORT: String(port),
        CAISSON_DATA_DIR: dataDir,
        CAISSON_DATABASE_URL: tdb.url,
        CAISSON_ADMIN_PASSWORD: ADMIN_PASSWORD,
        CAISSON_PASSWORD_HASH_COST: '4',
        CAISSON_LOG_LEVEL: 'warn',
        CAISSON_HEARTBEAT_INTERVAL: '1s',
        CAISSON_LOG_SHIP_INTERVAL: '200ms',
        ...kubeModeEnv(cluster),
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `the server process on port ${port} to answer`,
    async () => {
      if (child.exitCode !== null) throw new Error(`the server process exited with ${child.exitCode}: ${stderr.slice(-2000)}`);
      return (await fetch(`${url}/healthz`).catch(() => undefined))?.ok ? true : undefined;
    },
    60_000,
    100,
  );
  return {
    url,
    pid: child.pid!,
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
