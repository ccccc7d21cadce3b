/**
 * A wire-level fake of the Kubernetes API server for tests: real HTTP and real JSON on loopback,
 * so the real `@kubernetes/client-node` talks to it. Serves pods, services, secrets (core/v1) and
 * Ambassador mappings (getambassador.io/v3alpha1) with create/get/list/watch/patch/update/delete,
 * SelfSubjectAccessReviews against a deny list, Status error bodies like the real server's, and
 * test hooks: fault injection, latency, a request log, ending every watch, and history compaction.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify as stringifyYaml } from 'yaml';
import { KubeApiError } from './types.js';
import type { KubeObject, ResourceName, StoreEvent } from './types.js';
import { createFakeKubeStore, notFoundError, objectMatcher, qualifiedResource, RESOURCE_KINDS, validationError } from './store.js';
import type { DeleteOptions, FakeKubeStoreWithControls, StoreEventWithPrevious } from './store.js';

export type KubeVerb = 'create' | 'get' | 'list' | 'watch' | 'patch' | 'update' | 'delete';

export interface RequestLogEntry {
  verb: KubeVerb;
  /** `pods`, `services`, `secrets`, `mappings`, `selfsubjectaccessreviews`, `namespaces`. */
  resource: string;
  /** Undefined for all-namespaces lists and watches. */
  namespace: string | undefined;
  name: string | undefined;
  /** HTTP status answered; 0 when the connection was dropped on purpose. */
  status: number;
  /** Epoch milliseconds when the request arrived. */
  at: number;
  /** Content type of a PATCH. */
  patchType?: string;
  /** DeleteOptions of a DELETE (body and query merged). */
  deleteOptions?: DeleteOptions;
}

export interface InjectedFault {
  verb?: KubeVerb;
  resource?: string;
  namespace?: string;
  name?: string;
  /** HTTP status to answer (ignored with dropConnection). */
  status?: number;
  /** Status reason; derived from the status code when absent. */
  reason?: string;
  message?: string;
  causes?: { field?: string; message: string; reason?: string }[];
  /** Sent as Retry-After (and details.retryAfterSeconds); 429 defaults to 1. */
  retryAfterSeconds?: number;
  /** How many matching requests get the fault. Default 1; Infinity for all. */
  times?: number;
  /** Destroy the socket instead of answering (the client sees a connection error). */
  dropConnection?: boolean;
  /** For a watch: answer 200 and send the Status as a single ERROR event, as the server does for 410. */
  asWatchEvent?: boolean;
}

export interface Permission {
  /** API group, '' for core; '*' or absent matches any. */
  group?: string;
  /** '*' or absent matches any. */
  resource?: string;
  /** '*' or absent matches any. */
  verb?: string;
}

export interface FakeKubeApiServerOptions {
  store?: FakeKubeStoreWithControls;
  /** Interval of BOOKMARK events on watches that ask for them. Default 60000. */
  bookmarkIntervalMs?: number;
  /** Delay before each request is served. Default 0. */
  latencyMs?: number;
  /** Bearer token the server requires. Default 'fake-kube-token'. */
  token?: string;
  /** Service account named in Forbidden messages. Default system:serviceaccount:default:caisson. */
  userName?: string;
}

type Route =
  | { kind: 'resource'; resource: ResourceName; namespace: string | undefined; name: string | undefined }
  | { kind: 'ssar' }
  | { kind: 'namespace'; name: string }
  | { kind: 'version' };

const CORE_RESOURCES = new Set<string>(['pods', 'services', 'secrets']);
const MERGE_PATCH = 'application/merge-patch+json';
const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function parseRoute(pathname: string): Route | undefined {
  const parts = pathname
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  const [p0, p1, p2, p3, p4, p5, p6] = parts;
  if (parts.length === 1 && p0 === 'version') return { kind: 'version' };
  if (p0 === 'api' && p1 === 'v1') {
    if (parts.length === 3 && p2 && CORE_RESOURCES.has(p2))
      return { kind: 'resource', resource: p2 as ResourceName, namespace: undefined, name: undefined };
    if (p2 === 'namespaces' && p3 !== undefined) {
      if (parts.length === 4) return { kind: 'namespace', name: p3 };
      if ((parts.length === 5 || parts.length === 6) && p4 && CORE_RESOURCES.has(p4)) {
        return { kind: 'resource', resource: p4 as ResourceName, namespace: p3, name: p5 };
      }
    }
    return undefined;
  }
  if (p0 === 'apis' && p1 === 'authorization.k8s.io' && p2 === 'v1' && p3 === 'selfsubjectaccessreviews' && parts.length === 4)
    return { kind: 'ssar' };
  if (p0 === 'apis' && p1 === 'getambassador.io' && p2 === 'v3alpha1') {
    if (parts.length === 4 && p3 === 'mappings') return { kind: 'resource', resource: 'mappings', namespace: undefined, name: undefined };
    if (p3 === 'namespaces' && p4 !== undefined && p5 === 'mappings' && (parts.length === 6 || parts.length === 7)) {
      return { kind: 'resource', resource: 'mappings', namespace: p4, name: p6 };
    }
  }
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (isPlainObject(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const POD_MUTABLE_FIELDS =
  'spec.containers[*].image, spec.initContainers[*].image, spec.activeDeadlineSeconds, spec.tolerations (only additions to existing tolerations), spec.terminationGracePeriodSeconds';

/** The API server's rule that a pod's spec is immutable but for a few fields. */
function podSpecChangeForbidden(before: unknown, after: unknown): boolean {
  const strip = (spec: unknown): unknown => {
    if (!isPlainObject(spec)) return spec;
    const s = structuredClone(spec);
    delete s.activeDeadlineSeconds;
    delete s.tolerations;
    delete s.terminationGracePeriodSeconds;
    for (const list of ['containers', 'initContainers']) {
      const containers = s[list];
      if (Array.isArray(containers)) for (const c of containers) if (isPlainObject(c)) delete c.image;
    }
    return s;
  };
  return stableStringify(strip(before)) !== stableStringify(strip(after));
}

function statusBody(err: KubeApiError, group?: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: err.message,
    reason: err.reason,
  };
  if (err.details || err.retryAfterSeconds !== undefined) {
    const details: Record<string, unknown> = { ...err.details };
    if (group) details.group = group;
    if (err.retryAfterSeconds !== undefined) details.retryAfterSeconds = err.retryAfterSeconds;
    body.details = details;
  }
  body.code = err.code;
  return body;
}

interface OpenWatch {
  end(): void;
}

/** The fake API server. `start()` listens on a free loopback port and resolves to its URL. */
export class FakeKubeApiServer {
  readonly store: FakeKubeStoreWithControls;
  readonly token: string;
  /** Delay before each request is served; settable at any time. */
  latencyMs: number;
  /** Interval of BOOKMARK events for watches that allow them; settable (applies to watches opened later). */
  bookmarkIntervalMs: number;
  readonly requestLog: RequestLogEntry[] = [];

  private readonly userName: string;
  private faults: (InjectedFault & { remaining: number })[] = [];
  private denied: Permission[] = [];
  private readonly watches = new Set<OpenWatch>();
  private server: Server | undefined;
  private baseUrl: string | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: FakeKubeApiServerOptions = {}) {
    this.store = options.store ?? createFakeKubeStore();
    this.token = options.token ?? 'fake-kube-token';
    this.latencyMs = options.latencyMs ?? 0;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
    this.userName = options.userName ?? 'system:serviceaccount:default:caisson';
  }

  /** The server's URL (after start). */
  get url(): string {
    if (!this.baseUrl) throw new Error('FakeKubeApiServer is not started');
    return this.baseUrl;
  }

  async start(): Promise<string> {
    if (this.baseUrl) return this.baseUrl;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.sendError(res, new KubeApiError(500, 'InternalError', `Internal error occurred: ${String(err)}`));
        else res.destroy();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}`;
    return this.baseUrl;
  }

  /** Ends every watch and closes the server; idempotent. */
  stop(): Promise<void> {
    if (!this.server) return Promise.resolve();
    this.stopping ??= (async () => {
      const server = this.server;
      this.endAllWatches();
      if (server) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      }
    })();
    return this.stopping;
  }

  /** A KubeConfig for the real client pointing at this server (plain http, token user). */
  kubeConfig(namespace = 'default'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake-kube', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake-kube-user', token: this.token }],
      contexts: [{ name: 'fake-kube', cluster: 'fake-kube', user: 'fake-kube-user', namespace }],
      currentContext: 'fake-kube',
    });
    return kc;
  }

  /** Writes a kubeconfig YAML file pointing at this server (for code that reads KUBECONFIG). */
  async writeKubeconfig(file: string, namespace = 'default'): Promise<void> {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake-kube', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake-kube-user', user: { token: this.token } }],
      contexts: [{ name: 'fake-kube', context: { cluster: 'fake-kube', user: 'fake-kube-user', namespace } }],
      'current-context': 'fake-kube',
    };
    await writeFile(file, stringifyYaml(config), 'utf8');
  }

  /** The next matching request(s) get this fault instead of being served. */
  inject(fault: InjectedFault): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Replaces the deny list: matching SelfSubjectAccessReviews answer allowed=false and matching requests get 403. */
  denyPermissions(permissions: Permission[]): void {
    this.denied = [...permissions];
  }

  clearLog(): void {
    this.requestLog.length = 0;
  }

  /** Closes every open watch from the server side (clients see their watch end normally). */
  endAllWatches(): void {
    for (const w of [...this.watches]) w.end();
  }

  /** Forgets the change history: resuming a watch from an older resourceVersion gets 410 Expired. */
  compact(): void {
    this.store.compact();
  }

  // -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const rawBody = await readBody(req);
    if (this.latencyMs > 0) await delay(this.latencyMs);
    const url = new URL(req.url ?? '/', 'http://fake-kube');
    const route = parseRoute(url.pathname);

    if (req.headers.authorization !== `Bearer ${this.token}`) {
      this.sendError(res, new KubeApiError(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (!route) {
      this.sendError(res, new KubeApiError(404, 'NotFound', 'the server could not find the requested resource', {}));
      return;
    }
    if (route.kind === 'version') {
      sendJson(res, 200, { major: '1', minor: '30', gitVersion: 'v1.30.0-fake', platform: 'linux/amd64' });
      return;
    }
    if (route.kind === 'namespace') {
      const entry = this.logEntry('get', 'namespaces', undefined, route.name, at);
      if (req.method !== 'GET')
        return this.fail(
          res,
          entry,
          new KubeApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
        );
      const namespace = {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: route.name },
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      };
      return this.succeed(res, entry, 200, namespace);
    }
    if (route.kind === 'ssar') {
      const entry = this.logEntry('create', 'selfsubjectaccessreviews', undefined, undefined, at);
      if (req.method !== 'POST')
        return this.fail(
          res,
          entry,
          new KubeApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
        );
      if (this.applyFault(req, res, entry, false)) return;
      const body = parseJson(rawBody);
      if (!isPlainObject(body))
        return this.fail(res, entry, new KubeApiError(400, 'BadRequest', 'the body of the request was not valid JSON'));
      return this.succeed(res, entry, 201, this.reviewAccess(body));
    }

    const { resource, namespace, name } = route;
    const query = url.searchParams;
    const isWatch = query.get('watch') === 'true' || query.get('watch') === '1';
    const verb = verbOf(req.method ?? 'GET', name !== undefined, isWatch);
    let body: unknown;
    if ((verb === 'create' || verb === 'patch' || verb === 'update' || verb === 'delete') && rawBody.length > 0) {
      body = parseJson(rawBody);
      if (body === INVALID_JSON) {
        const entry = this.logEntry(verb ?? 'get', resource, namespace, name, at);
        return this.fail(res, entry, new KubeApiError(400, 'BadRequest', 'the body of the request could not be decoded as JSON'), resource);
      }
    }
    const targetName =
      verb === 'create' && isPlainObject(body) && isPlainObject(body.metadata) && typeof body.metadata.name === 'string'
        ? body.metadata.name
        : name;
    const entry = this.logEntry(verb ?? 'get', resource, namespace, targetName, at);
    if (!verb || (namespace === undefined && verb !== 'list' && verb !== 'watch')) {
      return this.fail(
        res,
        entry,
        new KubeApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
        resource,
      );
    }
    if (this.applyFault(req, res, entry, isWatch, resource)) return;
    const forbidden = this.forbidden(verb, resource, namespace, targetName);
    if (forbidden) return this.fail(res, entry, forbidden, resource);

    try {
      switch (verb) {
        case 'get': {
          const obj = this.store.get(resource, namespace ?? '', name ?? '');
          if (!obj) throw notFoundError(resource, name ?? '');
          return this.succeed(res, entry, 200, obj);
        }
        case 'list': {
          const list = this.store.list(
            resource,
            namespace,
            query.get('labelSelector') ?? undefined,
            query.get('fieldSelector') ?? undefined,
          );
          const { apiVersion, listKind } = RESOURCE_KINDS[resource];
          return this.succeed(res, entry, 200, {
            apiVersion,
            kind: listKind,
            metadata: { resourceVersion: list.resourceVersion },
            items: list.items,
          });
        }
        case 'watch':
          return this.serveWatch(res, entry, resource, namespace, query);
        case 'create':
          if (body === undefined) throw new KubeApiError(400, 'BadRequest', 'the body of the request is empty');
          return this.succeed(res, entry, 201, this.store.create(resource, namespace ?? '', body));
        case 'patch':
          entry.patchType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
          return this.succeed(res, entry, 200, this.patch(resource, namespace ?? '', name ?? '', entry.patchType, body));
        case 'update':
          return this.succeed(res, entry, 200, this.replace(resource, namespace ?? '', name ?? '', body));
        case 'delete': {
          const options = deleteOptionsOf(body, query);
          entry.deleteOptions = options;
          const gone = this.store.delete(resource, namespace ?? '', name ?? '', options);
          if (!gone) throw notFoundError(resource, name ?? '');
          if (resource === 'pods' || resource === 'services') return this.succeed(res, entry, 200, gone);
          const group = RESOURCE_KINDS[resource].group;
          const details = { name: gone.metadata.name, kind: resource, uid: gone.metadata.uid, ...(group ? { group } : {}) };
          return this.succeed(res, entry, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details });
        }
      }
    } catch (err) {
      if (err instanceof KubeApiError) return this.fail(res, entry, err, resource);
      throw err;
    }
  }

  private patch(resource: ResourceName, namespace: string, name: string, contentType: string, patch: unknown): KubeObject {
    if (contentType !== MERGE_PATCH && contentType !== STRATEGIC_MERGE_PATCH) {
      throw new KubeApiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${MERGE_PATCH}, ${STRATEGIC_MERGE_PATCH}`,
      );
    }
    if (!isPlainObject(patch)) throw new KubeApiError(400, 'BadRequest', 'the body of a merge patch must be a JSON object');
    const current = this.store.get(resource, namespace, name);
    if (!current) throw notFoundError(resource, name);
    const next = applyMergePatch(current, patch) as KubeObject;
    return this.storeChanged(resource, namespace, current, next, false);
  }

  private replace(resource: ResourceName, namespace: string, name: string, body: unknown): KubeObject {
    if (!isPlainObject(body) || !isPlainObject(body.metadata))
      throw new KubeApiError(400, 'BadRequest', 'the body of an update must be an object with metadata');
    const current = this.store.get(resource, namespace, name);
    if (!current) throw notFoundError(resource, name);
    const next = structuredClone(body) as KubeObject;
    if (!next.metadata.resourceVersion) {
      throw validationFailure(
        resource,
        name,
        'metadata.resourceVersion',
        'Invalid value: 0x0: must be specified for an update',
        'FieldValueInvalid',
      );
    }
    if (resource === 'pods') next.status = current.status;
    return this.storeChanged(resource, namespace, current, next, true);
  }

  /** Checks a patched or replaced object the way the API server does, then stores it. */
  private storeChanged(resource: ResourceName, namespace: string, current: KubeObject, next: KubeObject, isUpdate: boolean): KubeObject {
    const name = current.metadata.name;
    if (!isPlainObject(next.metadata)) throw validationFailure(resource, name, 'metadata', 'Required value', 'FieldValueRequired');
    if (next.metadata.name !== undefined && next.metadata.name !== name) {
      throw new KubeApiError(
        400,
        'BadRequest',
        `the name of the object (${String(next.metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    if (next.metadata.namespace !== undefined && next.metadata.namespace !== namespace) {
      throw new KubeApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    const kind = RESOURCE_KINDS[resource];
    if (
      (next.kind !== undefined && next.kind !== kind.kind) ||
      (isUpdate && next.apiVersion !== undefined && next.apiVersion !== kind.apiVersion)
    ) {
      throw new KubeApiError(
        400,
        'BadRequest',
        `${String(next.kind)} in version "${String(next.apiVersion)}" cannot be handled as a ${kind.kind}`,
      );
    }
    if (next.metadata.resourceVersion !== undefined && next.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw new KubeApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${qualifiedResource(resource)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, kind: resource },
      );
    }
    next.metadata = { ...next.metadata, name, namespace, uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp };
    next.apiVersion = kind.apiVersion;
    next.kind = kind.kind;
    const invalid = validationError(resource, namespace, next);
    if (invalid) throw invalid;
    if (resource === 'pods' && podSpecChangeForbidden(current.spec, next.spec)) {
      throw validationFailure(
        resource,
        name,
        'spec',
        `Forbidden: pod updates may not change fields other than ${POD_MUTABLE_FIELDS}`,
        'FieldValueForbidden',
      );
    }
    return this.store.update(resource, namespace, name, (obj) => {
      for (const key of Object.keys(obj)) delete obj[key];
      Object.assign(obj, structuredClone(next));
    });
  }

  private serveWatch(
    res: ServerResponse,
    entry: RequestLogEntry,
    resource: ResourceName,
    namespace: string | undefined,
    query: URLSearchParams,
  ): void {
    const matches = objectMatcher(query.get('labelSelector') ?? undefined, query.get('fieldSelector') ?? undefined);
    const rvParam = query.get('resourceVersion') ?? '';
    if (rvParam !== '' && !/^\d+$/.test(rvParam)) throw new KubeApiError(400, 'BadRequest', `invalid resource version: ${rvParam}`);
    const timeoutParam = query.get('timeoutSeconds');
    const timeoutSeconds = timeoutParam === null ? undefined : Number(timeoutParam);
    if (timeoutSeconds !== undefined && !(Number.isFinite(timeoutSeconds) && timeoutSeconds >= 0)) {
      throw new KubeApiError(400, 'BadRequest', `invalid timeoutSeconds: ${timeoutParam}`);
    }
    const bookmarks = query.get('allowWatchBookmarks') === 'true' || query.get('allowWatchBookmarks') === '1';

    entry.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const send = (type: string, object: unknown): void => {
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const { apiVersion, kind } = RESOURCE_KINDS[resource];

    const deliver = (e: StoreEventWithPrevious): void => {
      if (e.resource !== resource) return;
      if (namespace !== undefined && e.object.metadata.namespace !== namespace) return;
      const now = matches(e.object);
      const was = e.previous ? matches(e.previous) : now;
      if (e.type === 'MODIFIED') {
        if (now && was) send('MODIFIED', e.object);
        else if (now) send('ADDED', e.object);
        else if (was) send('DELETED', e.object);
      } else if (now) {
        send(e.type, e.object);
      }
    };

    if (rvParam === '' || rvParam === '0') {
      for (const obj of this.store.list(resource, namespace).items) if (matches(obj)) send('ADDED', obj);
    } else {
      const changes = this.store.changesSince(resource, Number(rvParam));
      if (!changes) {
        const expired = new KubeApiError(410, 'Expired', `too old resource version: ${rvParam} (${this.store.resourceVersion})`);
        send('ERROR', statusBody(expired));
        res.end();
        return;
      }
      for (const change of changes) deliver(change);
    }

    const timers: NodeJS.Timeout[] = [];
    let unsubscribe: () => void = () => undefined;
    const watch: OpenWatch = {
      end: () => {
        cleanup();
        if (!res.writableEnded) res.end();
      },
    };
    const cleanup = (): void => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      this.watches.delete(watch);
    };
    unsubscribe = this.store.subscribe((e: StoreEvent) => deliver(e));
    this.watches.add(watch);
    if (bookmarks && this.bookmarkIntervalMs > 0) {
      timers.push(
        setInterval(
          () => send('BOOKMARK', { apiVersion, kind, metadata: { resourceVersion: String(this.store.resourceVersion) } }),
          this.bookmarkIntervalMs,
        ),
      );
    }
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) timers.push(setTimeout(() => watch.end(), timeoutSeconds * 1000));
    res.once('close', cleanup);
  }

  private reviewAccess(review: Record<string, unknown>): Record<string, unknown> {
    const spec = isPlainObject(review.spec) ? review.spec : {};
    const attrs = isPlainObject(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
    let status: Record<string, unknown> = { allowed: true, reason: 'allowed by the fake API server' };
    if (attrs) {
      const group = typeof attrs.group === 'string' ? attrs.group : '';
      const resource = typeof attrs.resource === 'string' ? attrs.resource : '';
      const verb = typeof attrs.verb === 'string' ? attrs.verb : '';
      if (this.isDenied(group, resource, verb)) {
        status = { allowed: false, reason: `the fake API server denies ${verb} on ${group === '' ? resource : `${resource}.${group}`}` };
      }
    }
    return { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: { creationTimestamp: null }, spec, status };
  }

  private isDenied(group: string, resource: string, verb: string): boolean {
    const matches = (pattern: string | undefined, value: string): boolean => pattern === undefined || pattern === '*' || pattern === value;
    return this.denied.some((p) => matches(p.group, group) && matches(p.resource, resource) && matches(p.verb, verb));
  }

  private forbidden(
    verb: KubeVerb,
    resource: ResourceName,
    namespace: string | undefined,
    name: string | undefined,
  ): KubeApiError | undefined {
    const group = RESOURCE_KINDS[resource].group;
    if (!this.isDenied(group, resource, verb)) return undefined;
    const qualified = qualifiedResource(resource);
    const scope = namespace === undefined ? 'at the cluster scope' : `in the namespace "${namespace}"`;
    const subject = name === undefined || verb === 'create' ? qualified : `${qualified} "${name}"`;
    return new KubeApiError(
      403,
      'Forbidden',
      `${subject} is forbidden: User "${this.userName}" cannot ${verb} resource "${resource}" in API group "${group}" ${scope}`,
      { ...(name !== undefined ? { name } : {}), kind: resource },
    );
  }

  /** Answers the request with a matching injected fault; true when it did. */
  private applyFault(
    req: IncomingMessage,
    res: ServerResponse,
    entry: RequestLogEntry,
    isWatch: boolean,
    resource?: ResourceName,
  ): boolean {
    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.verb === undefined || f.verb === entry.verb) &&
        (f.resource === undefined || f.resource === entry.resource) &&
        (f.namespace === undefined || f.namespace === entry.namespace) &&
        (f.name === undefined || f.name === entry.name),
    );
    if (!fault) return false;
    fault.remaining--;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    if (fault.dropConnection) {
      entry.status = 0;
      req.socket.destroy();
      return true;
    }
    const code = fault.status ?? 500;
    const reason = fault.reason ?? (code === 409 && entry.verb === 'create' ? 'AlreadyExists' : (REASONS[code] ?? 'Unknown'));
    const retryAfter = fault.retryAfterSeconds ?? (code === 429 ? 1 : undefined);
    const what = resource ? qualifiedResource(resource) : entry.resource;
    const message = fault.message ?? defaultMessage(code, reason, what, entry.name);
    const details = {
      ...(entry.name !== undefined ? { name: entry.name } : {}),
      kind: entry.resource,
      ...(fault.causes ? { causes: fault.causes } : {}),
    };
    const err = new KubeApiError(code, reason, message, details, retryAfter);
    if (isWatch && fault.asWatchEvent) {
      entry.status = 200;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: statusBody(err) })}\n`);
      return true;
    }
    this.fail(res, entry, err, resource);
    return true;
  }

  private logEntry(verb: KubeVerb, resource: string, namespace: string | undefined, name: string | undefined, at: number): RequestLogEntry {
    const entry: RequestLogEntry = { verb, resource, namespace, name, status: 0, at };
    this.requestLog.push(entry);
    return entry;
  }

  private succeed(res: ServerResponse, entry: RequestLogEntry, status: number, body: unknown): void {
    entry.status = status;
    sendJson(res, status, body);
  }

  private fail(res: ServerResponse, entry: RequestLogEntry, err: KubeApiError, resource?: ResourceName): void {
    entry.status = err.code;
    this.sendError(res, err, resource);
  }

  private sendError(res: ServerResponse, err: KubeApiError, resource?: ResourceName): void {
    const group = resource ? RESOURCE_KINDS[resource].group : '';
    const headers: Record<string, string> = {};
    if (err.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.retryAfterSeconds);
    sendJson(res, err.code, statusBody(err, group || undefined), headers);
  }
}

function defaultMessage(code: number, reason: string, resource: string, name: string | undefined): string {
  const subject = name === undefined ? resource : `${resource} "${name}"`;
  switch (reason) {
    case 'NotFound':
      return `${subject} not found`;
    case 'AlreadyExists':
      return `${subject} already exists`;
    case 'Conflict':
      return `Operation cannot be fulfilled on ${subject}: the object has been modified; please apply your changes to the latest version and try again`;
    case 'Forbidden':
      return `${subject} is forbidden: injected by the fake API server`;
    case 'Invalid':
      return `${subject} is invalid: injected by the fake API server`;
    case 'TooManyRequests':
      return 'Too many requests, please try again later.';
    case 'InternalError':
      return 'Internal error occurred: injected by the fake API server';
    case 'Expired':
      return 'too old resource version';
    default:
      return STATUS_CODES[code] ?? reason;
  }
}

function validationFailure(resource: ResourceName, name: string, field: string, message: string, reason: string): KubeApiError {
  const kind = RESOURCE_KINDS[resource].kind;
  return new KubeApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${field}: ${message}`, {
    name,
    kind,
    causes: [{ field, message, reason }],
  });
}

function verbOf(method: string, hasName: boolean, isWatch: boolean): KubeVerb | undefined {
  switch (method) {
    case 'GET':
      if (isWatch) return 'watch';
      return hasName ? 'get' : 'list';
    case 'POST':
      return hasName ? undefined : 'create';
    case 'PATCH':
      return hasName ? 'patch' : undefined;
    case 'PUT':
      return hasName ? 'update' : undefined;
    case 'DELETE':
      return hasName ? 'delete' : undefined;
    default:
      return undefined;
  }
}

function deleteOptionsOf(body: unknown, query: URLSearchParams): DeleteOptions {
  const options: DeleteOptions = {};
  const fromBody = isPlainObject(body) ? body : {};
  const grace = query.get('gracePeriodSeconds') ?? fromBody.gracePeriodSeconds;
  if (grace !== undefined && grace !== null) {
    const n = Number(grace);
    if (!Number.isInteger(n) || n < 0) throw new KubeApiError(400, 'BadRequest', `invalid gracePeriodSeconds: ${String(grace)}`);
    options.gracePeriodSeconds = n;
  }
  const policy = query.get('propagationPolicy') ?? fromBody.propagationPolicy;
  if (policy !== undefined && policy !== null) {
    if (policy !== 'Orphan' && policy !== 'Background' && policy !== 'Foreground') {
      throw new KubeApiError(400, 'BadRequest', `propagationPolicy: Unsupported value: "${String(policy)}"`);
    }
    options.propagationPolicy = policy;
  }
  if (options.propagationPolicy === undefined && fromBody.orphanDependents === true) options.propagationPolicy = 'Orphan';
  return options;
}

const INVALID_JSON = Symbol('invalid JSON');

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    return INVALID_JSON;
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
