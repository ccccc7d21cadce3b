/**
 * A stand-in for Emissary/Ambassador in tests: routes each HTTP request by the longest matching
 * prefix among the Mappings in the store (Mapping objects and the `getambassador.io/config`
 * annotations of Services), rewrites the prefix, resolves the Mapping's service to ready pods and
 * proxies to the local port the fake kubelet gave them. It proves our routing, not Ambassador's.
 */
import http from 'node:http';
import { parseAllDocuments } from 'yaml';
import type { Endpoint } from './kubelet.js';
import type { FakeKubeStore, KubeObject } from './types.js';

export interface IngressProxyOptions {
  store: FakeKubeStore;
  /** Where a pod's container port listens (the fake kubelet). */
  kubelet: { endpointOf(namespace: string, podName: string, containerPort: number): Endpoint | undefined };
  /** Only Mappings and Services of this namespace count (Ambassador's single-namespace mode). Default: all. */
  namespace?: string;
  /** When set, only Mappings whose `ambassador_id` names it count (no ambassador_id means `default`). */
  ambassadorId?: string;
  /** Upstream timeout when a Mapping sets no `timeout_ms`; 0 or absent: none. */
  defaultTimeoutMs?: number;
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
}

/** One route, from a Mapping object or from a Service annotation. */
export interface IngressRoute {
  name: string;
  namespace: string;
  prefix: string;
  service: string;
  /** Replaces the prefix; '' keeps the path as it is. */
  rewrite: string;
  timeoutMs?: number;
  source: 'mapping' | 'annotation';
}

const ANNOTATION = 'getambassador.io/config';
const NO_HEALTHY_UPSTREAM = 'no healthy upstream';
const CONNECT_ERROR = 'upstream connect error or disconnect/reset before headers. reset reason: connection failure';
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function routeFields(
  name: string,
  namespace: string,
  fields: Record<string, unknown>,
  source: IngressRoute['source'],
): IngressRoute | undefined {
  if (typeof fields.prefix !== 'string' || typeof fields.service !== 'string') return undefined;
  const timeout = fields.timeout_ms;
  return {
    name,
    namespace: typeof fields.namespace === 'string' && fields.namespace !== '' ? fields.namespace : namespace,
    prefix: fields.prefix,
    service: fields.service,
    rewrite: typeof fields.rewrite === 'string' ? fields.rewrite : '/',
    ...(typeof timeout === 'number' ? { timeoutMs: timeout } : {}),
    source,
  };
}

/** `[scheme://]name[.namespace[.svc...]][:port]` of a Mapping's service. */
export function parseServiceRef(service: string, defaultNamespace: string): { name: string; namespace: string; port?: number } {
  let rest = service.trim().replace(/^[a-z]+:\/\//i, '');
  rest = rest.replace(/\/.*$/, '');
  let port: number | undefined;
  const withPort = /^(.*):(\d+)$/.exec(rest);
  if (withPort) {
    rest = withPort[1] ?? '';
    port = Number(withPort[2]);
  }
  const [name = '', namespace] = rest.split('.');
  return { name, namespace: namespace ?? defaultNamespace, ...(port !== undefined ? { port } : {}) };
}

function selectorString(selector: unknown): string | undefined {
  if (!isRecord(selector)) return undefined;
  const terms = Object.entries(selector).map(([k, v]) => `${k}=${String(v)}`);
  return terms.length === 0 ? undefined : terms.join(',');
}

function isReady(pod: KubeObject): boolean {
  const status = pod.status as { phase?: string; conditions?: { type: string; status: string }[] } | undefined;
  if (pod.metadata.deletionTimestamp || status?.phase !== 'Running') return false;
  return (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function containerPortNamed(pod: KubeObject, name: string): number | undefined {
  const containers = (pod.spec as { containers?: { ports?: { name?: string; containerPort: number }[] }[] } | undefined)?.containers ?? [];
  for (const c of containers) for (const p of c.ports ?? []) if (p.name === name) return p.containerPort;
  return undefined;
}

export class IngressProxy {
  private readonly store: FakeKubeStore;
  private readonly kubelet: IngressProxyOptions['kubelet'];
  private readonly namespace: string | undefined;
  private readonly ambassadorId: string | undefined;
  private readonly defaultTimeoutMs: number;
  private readonly host: string;
  private readonly port: number;
  private server: http.Server | undefined;
  private readonly upstreams = new Set<http.ClientRequest>();
  private next = 0;
  private baseUrl = '';

  constructor(options: IngressProxyOptions) {
    this.store = options.store;
    this.kubelet = options.kubelet;
    this.namespace = options.namespace;
    this.ambassadorId = options.ambassadorId;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 0;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
  }

  get url(): string {
    return this.baseUrl;
  }

  /** Listens; resolves to the base URL (`http://127.0.0.1:<port>`). */
  async start(): Promise<string> {
    if (this.server) return this.baseUrl;
    const server = http.createServer((req, res) => this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.port;
    this.baseUrl = `http://${this.host}:${port}`;
    return this.baseUrl;
  }

  /** Closes the listener and every connection, proxied ones included. Idempotent. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const up of this.upstreams) up.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Every route the proxy would consider now. */
  routes(): IngressRoute[] {
    const routes: IngressRoute[] = [];
    for (const m of this.store.list('mappings', this.namespace).items) {
      const spec = isRecord(m.spec) ? m.spec : {};
      if (!this.accepts(spec.ambassador_id)) continue;
      const route = routeFields(m.metadata.name, m.metadata.namespace, spec, 'mapping');
      if (route) routes.push(route);
    }
    for (const svc of this.store.list('services', this.namespace).items) {
      const text = svc.metadata.annotations?.[ANNOTATION];
      if (!text) continue;
      for (const doc of parseAllDocuments(text)) {
        if (doc.errors.length > 0) continue;
        const value: unknown = doc.toJS();
        if (!isRecord(value) || value.kind !== 'Mapping' || !String(value.apiVersion ?? '').startsWith('getambassador.io/')) continue;
        if (!this.accepts(value.ambassador_id)) continue;
        const route = routeFields(String(value.name ?? svc.metadata.name), svc.metadata.namespace, value, 'annotation');
        if (route) routes.push(route);
      }
    }
    return routes;
  }

  /** The route of a request path: the longest matching prefix (ties broken by name). */
  match(pathname: string): IngressRoute | undefined {
    let best: IngressRoute | undefined;
    for (const r of this.routes()) {
      if (!pathname.startsWith(r.prefix)) continue;
      if (!best || r.prefix.length > best.prefix.length || (r.prefix.length === best.prefix.length && r.name < best.name)) best = r;
    }
    return best;
  }

  private accepts(ids: unknown): boolean {
    if (this.ambassadorId === undefined) return true;
    const list = ids === undefined || ids === null ? ['default'] : Array.isArray(ids) ? ids.map(String) : [String(ids)];
    return list.includes(this.ambassadorId);
  }

  /** The ready endpoints behind a route's service. */
  private endpointsOf(route: IngressRoute): Endpoint[] {
    const ref = parseServiceRef(route.service, route.namespace);
    const service = this.store.get('services', ref.namespace, ref.name);
    if (!service) return [];
    const spec = (isRecord(service.spec) ? service.spec : {}) as {
      ports?: { port: number; targetPort?: number | string }[];
      selector?: unknown;
    };
    const ports = spec.ports ?? [];
    const servicePort = ref.port === undefined ? ports[0] : ports.find((p) => p.port === ref.port);
    const selector = selectorString(spec.selector);
    if (!servicePort || selector === undefined) return [];
    const target = servicePort.targetPort ?? servicePort.port;
    const endpoints: Endpoint[] = [];
    for (const pod of this.store.list('pods', ref.namespace, selector).items) {
      if (!isReady(pod)) continue;
      const containerPort = typeof target === 'number' ? target : /^\d+$/.test(target) ? Number(target) : containerPortNamed(pod, target);
      const endpoint =
        containerPort === undefined ? undefined : this.kubelet.endpointOf(pod.metadata.namespace, pod.metadata.name, containerPort);
      if (endpoint) endpoints.push(endpoint);
    }
    return endpoints;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const original = req.url ?? '/';
    const query = original.indexOf('?');
    const pathname = query < 0 ? original : original.slice(0, query);
    let route: IngressRoute | undefined;
    let endpoints: Endpoint[] = [];
    try {
      route = this.match(pathname);
      if (route) endpoints = this.endpointsOf(route);
    } catch (err) {
      localReply(res, 500, `ingress stand-in failed: ${String(err)}`);
      return;
    }
    if (!route) {
      localReply(res, 404, `no route for ${req.method ?? 'GET'} ${pathname}`);
      return;
    }
    const endpoint = endpoints[this.next++ % Math.max(endpoints.length, 1)];
    if (!endpoint) {
      localReply(res, 503, NO_HEALTHY_UPSTREAM);
      return;
    }
    const upstreamPath = route.rewrite === '' ? original : route.rewrite + original.slice(route.prefix.length);

    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    headers['x-envoy-original-path'] = original;
    headers['x-forwarded-proto'] = 'http';
    const from = req.socket.remoteAddress;
    if (from) headers['x-forwarded-for'] = req.headers['x-forwarded-for'] ? `${String(req.headers['x-forwarded-for'])}, ${from}` : from;

    const startedAt = Date.now();
    const up = http.request({ host: endpoint.host, port: endpoint.port, method: req.method, path: upstreamPath, headers });
    this.upstreams.add(up);
    const timeoutMs = route.timeoutMs ?? this.defaultTimeoutMs;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            if (!res.headersSent) localReply(res, 504, 'upstream request timeout');
            else res.destroy();
            up.destroy();
          }, timeoutMs)
        : undefined;
    const finish = (): void => {
      if (timer) clearTimeout(timer);
      this.upstreams.delete(up);
    };
    up.on('response', (upRes) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(upRes.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
      out['x-envoy-upstream-service-time'] = String(Date.now() - startedAt);
      out.server = 'envoy';
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, out);
      upRes.pipe(res);
      upRes.on('end', finish);
      upRes.on('error', () => res.destroy());
    });
    up.on('error', () => {
      finish();
      if (!res.headersSent) localReply(res, 503, CONNECT_ERROR);
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
      finish();
    });
    req.pipe(up);
  }
}

/** A reply of the proxy itself (Envoy's local reply): plain text. */
function localReply(res: http.ServerResponse, status: number, body: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.req.resume();
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), server: 'envoy' });
  res.end(body);
}
