/**
 * The Ambassador stand-in routes by the longest Mapping prefix (Mapping objects and Service
 * annotations), rewrites, resolves the service to ready pods through the kubelet's endpoints, and
 * answers 404 / 503 with Envoy's wording when it cannot.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { IngressProxy, parseServiceRef } from '../support/fake-kube/ingress-proxy.js';
import { FakeKubelet, type Endpoint } from '../support/fake-kube/kubelet.js';
import { createFakeKubeStore } from '../support/fake-kube/store.js';
import type { FakeKubeStore } from '../support/fake-kube/types.js';
import { waitFor } from '../support/wait.js';

const NS = 'caisson';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('IngressProxy', function () {
  this.timeout(10_000);
  let store: FakeKubeStore;
  let endpoints: Map<string, Endpoint>;
  let proxy: IngressProxy;
  let base: string;
  let upstream: http.Server;
  let upstreamPort: number;
  let seen: (Seen & { server: string })[];
  let respond: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

  before(async () => {
    upstream = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, server: 'upstream' });
        respond(req, res, body);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamPort = (upstream.address() as AddressInfo).port;
  });

  after(async () => {
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  beforeEach(async () => {
    store = createFakeKubeStore();
    endpoints = new Map();
    seen = [];
    respond = (req, res) => res.end(`upstream saw ${req.method ?? ''} ${req.url ?? ''}`);
    proxy = new IngressProxy({ store, kubelet: { endpointOf: (ns, pod, port) => endpoints.get(`${ns}/${pod}/${port}`) } });
    base = await proxy.start();
  });

  afterEach(async () => {
    await proxy.stop();
  });

  /** A Service selecting one ready pod whose control port the kubelet serves on the upstream server. */
  function flowBackend(name: string, options: { annotation?: string; ready?: boolean; port?: number } = {}): void {
    const labels = { 'app.kubernetes.io/name': 'caisson-flow', 'caisson.io/exec': name };
    store.create('services', NS, {
      metadata: { name, ...(options.annotation ? { annotations: { 'getambassador.io/config': options.annotation } } : {}) },
      spec: { selector: labels, ports: [{ name: 'control', port: 7070, targetPort: 'control', protocol: 'TCP' }] },
    });
    store.create('pods', NS, {
      metadata: { name: `${name}-pod`, labels },
      spec: { containers: [{ name: 'flow', image: 'caisson/flow:1', ports: [{ name: 'control', containerPort: 7070 }] }] },
    });
    if (options.ready !== false) {
      store.update('pods', NS, `${name}-pod`, (o) => {
        o.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] };
      });
      endpoints.set(`${NS}/${name}-pod/7070`, { host: '127.0.0.1', port: options.port ?? upstreamPort });
    }
  }

  function mapping(name: string, spec: Record<string, unknown>): void {
    store.create('mappings', NS, { metadata: { name }, spec });
  }

  it('routes through a Mapping object to a ready pod, rewriting the prefix and keeping the query', async () => {
    flowBackend('flow-1');
    mapping('flow-1', { prefix: '/caisson/exec/1/', service: 'http://flow-1.caisson:7070', rewrite: '/' });
    const r = await fetch(`${base}/caisson/exec/1/api/status?verbose=1`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'upstream saw GET /api/status?verbose=1');
    assert.equal(seen[0]?.headers['x-envoy-original-path'], '/caisson/exec/1/api/status?verbose=1');
    assert.equal(r.headers.get('server'), 'envoy');
  });

  it('routes through a Mapping declared in the annotation of a Service (several YAML documents)', async () => {
    const annotation = [
      '---',
      'apiVersion: getambassador.io/v2',
      'kind: Module',
      'name: ambassador',
      'config: {}',
      '---',
      'apiVersion: getambassador.io/v2',
      'kind: Mapping',
      'name: flow-2-mapping',
      'prefix: /caisson/exec/2/',
      'service: flow-2:7070',
      'rewrite: /control/',
      '',
    ].join('\n');
    flowBackend('flow-2', { annotation });
    assert.deepEqual(
      proxy.routes().map((r) => [r.name, r.namespace, r.source]),
      [['flow-2-mapping', NS, 'annotation']],
    );
    const r = await fetch(`${base}/caisson/exec/2/ping`);
    assert.equal(await r.text(), 'upstream saw GET /control/ping');
  });

  it('lets the longest matching prefix win, whatever the order of the Mappings', async () => {
    flowBackend('flow-a');
    flowBackend('flow-b');
    mapping('z-long', { prefix: '/caisson/exec/', service: 'flow-b:7070', rewrite: '/b/' });
    mapping('a-short', { prefix: '/caisson/', service: 'flow-a', rewrite: '/a/' });
    assert.equal(await (await fetch(`${base}/caisson/exec/9/x`)).text(), 'upstream saw GET /b/9/x');
    assert.equal(await (await fetch(`${base}/caisson/other`)).text(), 'upstream saw GET /a/other');
  });

  it('rewrites to / by default and keeps the path when rewrite is empty', async () => {
    flowBackend('flow-3');
    mapping('default-rewrite', { prefix: '/r/default/', service: 'flow-3:7070' });
    mapping('no-rewrite', { prefix: '/r/keep/', service: 'flow-3:7070', rewrite: '' });
    assert.equal(await (await fetch(`${base}/r/default/a`)).text(), 'upstream saw GET /a');
    assert.equal(await (await fetch(`${base}/r/keep/a`)).text(), 'upstream saw GET /r/keep/a');
  });

  it('answers 404 with a plain body when no Mapping matches', async () => {
    flowBackend('flow-4');
    mapping('flow-4', { prefix: '/caisson/exec/4/', service: 'flow-4:7070' });
    const r = await fetch(`${base}/caisson/exec/5/x`);
    assert.equal(r.status, 404);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await r.text(), 'no route for GET /caisson/exec/5/x');
    assert.equal(seen.length, 0);
  });

  it('answers 503 no healthy upstream when no pod is ready, or the service or its port is missing', async () => {
    flowBackend('flow-6', { ready: false });
    mapping('pending', { prefix: '/pending/', service: 'flow-6:7070' });
    mapping('no-service', { prefix: '/gone/', service: 'flow-missing:7070' });
    mapping('wrong-port', { prefix: '/port/', service: 'flow-6:9999' });
    for (const p of ['/pending/x', '/gone/x', '/port/x']) {
      const r = await fetch(`${base}${p}`);
      assert.equal(r.status, 503, p);
      assert.equal(await r.text(), 'no healthy upstream');
    }
  });

  it('answers 503 upstream connect error when the endpoint refuses connections', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    flowBackend('flow-7', { port: deadPort });
    mapping('flow-7', { prefix: '/caisson/exec/7/', service: 'flow-7:7070' });
    const r = await fetch(`${base}/caisson/exec/7/x`);
    assert.equal(r.status, 503);
    assert.match(await r.text(), /^upstream connect error or disconnect\/reset before headers/);
  });

  it('streams the response: the first chunk arrives before the upstream ends', async () => {
    flowBackend('flow-8');
    mapping('flow-8', { prefix: '/caisson/exec/8/', service: 'flow-8:7070' });
    let finish: (() => void) | undefined;
    respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first line\n');
      finish = () => res.end('last line\n');
    };
    const r = await fetch(`${base}/caisson/exec/8/logs`);
    assert.equal(r.status, 200);
    assert.ok(r.body);
    const reader = r.body.getReader();
    const first = await reader.read();
    assert.equal(Buffer.from(first.value ?? new Uint8Array()).toString('utf8'), 'first line\n');
    assert.ok(finish, 'the upstream has not finished yet');
    finish();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += Buffer.from(chunk.value).toString('utf8');
    assert.equal(rest, 'last line\n');
  });

  it('passes a POST body, its method and headers through, and the status and headers back', async () => {
    flowBackend('flow-9');
    mapping('flow-9', { prefix: '/caisson/exec/9/', service: 'flow-9:7070' });
    respond = (_req, res, body) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'yes' });
      res.end(JSON.stringify({ length: body.length }));
    };
    const body = JSON.stringify({ action: 'cancel', padding: 'x'.repeat(256 * 1024) });
    const r = await fetch(`${base}/caisson/exec/9/api/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t0ken' },
      body,
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('x-upstream'), 'yes');
    assert.deepEqual(await r.json(), { length: body.length });
    assert.equal(seen[0]?.method, 'POST');
    assert.equal(seen[0]?.url, '/api/cancel');
    assert.equal(seen[0]?.body, body);
    assert.equal(seen[0]?.headers.authorization, 'Bearer t0ken');
    assert.equal(seen[0]?.headers['content-type'], 'application/json');
  });

  it('honours ambassador_id only when the proxy has one', async () => {
    flowBackend('flow-10');
    mapping('other-id', { prefix: '/id/', service: 'flow-10:7070', ambassador_id: ['other'] });
    assert.equal((await fetch(`${base}/id/x`)).status, 200);
    const scoped = new IngressProxy({
      store,
      kubelet: { endpointOf: (ns, pod, port) => endpoints.get(`${ns}/${pod}/${port}`) },
      ambassadorId: 'caisson',
    });
    const scopedBase = await scoped.start();
    try {
      assert.equal((await fetch(`${scopedBase}/id/x`)).status, 404);
      mapping('our-id', { prefix: '/id/', service: 'flow-10:7070', ambassador_id: ['caisson'], rewrite: '/ours/' });
      assert.equal(await (await fetch(`${scopedBase}/id/x`)).text(), 'upstream saw GET /ours/x');
    } finally {
      await scoped.stop();
    }
  });

  it('parses service references with scheme, namespace and port', () => {
    assert.deepEqual(parseServiceRef('http://flow-1.jobs:7070', NS), { name: 'flow-1', namespace: 'jobs', port: 7070 });
    assert.deepEqual(parseServiceRef('flow-1.jobs.svc.cluster.local', NS), { name: 'flow-1', namespace: 'jobs' });
    assert.deepEqual(parseServiceRef('flow-1', NS), { name: 'flow-1', namespace: NS });
  });

  it('reaches a pod run by the fake kubelet', async () => {
    const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-ingress-'));
    const script = `require('http').createServer((q, s) => s.end('flow container at ' + q.url)).listen(Number(process.env.CAISSON_CONTROL_PORT), process.env.CAISSON_CONTROL_HOST)`;
    const kubelet = new FakeKubelet({
      store,
      images: {},
      appCommand: () => ({ command: process.execPath, args: ['-e', script] }),
      workRoot,
      tickMs: 50,
      killGraceMs: 500,
    });
    const real = new IngressProxy({ store, kubelet, namespace: NS });
    const realBase = await real.start();
    kubelet.start();
    try {
      const labels = { 'caisson.io/exec': '11' };
      store.create('services', NS, {
        metadata: { name: 'flow-11' },
        spec: { selector: labels, ports: [{ port: 7070, targetPort: 7070 }] },
      });
      mapping('flow-11', { prefix: '/caisson/exec/11/', service: 'flow-11:7070' });
      store.create('pods', NS, {
        metadata: { name: 'flow-11-pod', labels },
        spec: {
          restartPolicy: 'Never',
          containers: [
            { name: 'flow', image: 'caisson/flow:1', ports: [{ containerPort: 7070 }], readinessProbe: { tcpSocket: { port: 7070 } } },
          ],
        },
      });
      const text = await waitFor(
        'the flow container behind the ingress',
        async () => {
          const r = await fetch(`${realBase}/caisson/exec/11/status`);
          return r.status === 200 ? r.text() : undefined;
        },
        5000,
        50,
      );
      assert.equal(text, 'flow container at /status');
    } finally {
      await real.stop();
      await kubelet.stop();
      fs.rmSync(workRoot, { recursive: true, force: true });
    }
  });
});
