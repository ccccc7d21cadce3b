/**
 * Tests of the fake Kubernetes API server, driven only through the real `@kubernetes/client-node`
 * (typed APIs, Watch, makeInformer) over HTTP, as the code under test will use it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { FakeKubeApiServer } from '../support/fake-kube/api-server.js';
import { waitFor } from '../support/wait.js';

const NS = 'caisson';

interface StatusBody {
  kind: string;
  apiVersion: string;
  metadata: Record<string, unknown>;
  status: string;
  message: string;
  reason: string;
  details?: {
    name?: string;
    kind?: string;
    group?: string;
    causes?: { field?: string; message: string; reason?: string }[];
    retryAfterSeconds?: number;
  };
  code: number;
}

interface CaughtApiError {
  code: number;
  body: StatusBody;
  headers: Record<string, string>;
}

/** The ApiException a call fails with, its body parsed. */
async function apiError(call: Promise<unknown>): Promise<CaughtApiError> {
  try {
    await call;
  } catch (e) {
    assert.ok(e instanceof k8s.ApiException, `expected an ApiException, got ${String(e)}`);
    assert.equal(typeof e.body, 'string');
    return { code: e.code, body: JSON.parse(e.body as string) as StatusBody, headers: e.headers };
  }
  return assert.fail('expected the call to fail');
}

interface WatchEvent {
  type: string;
  object: { kind?: string; code?: number; reason?: string; metadata?: k8s.V1ObjectMeta; status?: unknown };
}

interface WatchHandle {
  events: WatchEvent[];
  done: Promise<unknown>;
  isDone: () => boolean;
  controller: AbortController;
}

async function startWatch(kc: k8s.KubeConfig, urlPath: string, query: Record<string, string | number | boolean>): Promise<WatchHandle> {
  const events: WatchEvent[] = [];
  let finished = false;
  let resolveDone: (err: unknown) => void = () => undefined;
  const done = new Promise<unknown>((resolve) => (resolveDone = resolve));
  const controller = await new k8s.Watch(kc).watch(
    urlPath,
    query,
    (type: string, object: WatchEvent['object']) => events.push({ type, object }),
    (err: unknown) => {
      finished = true;
      resolveDone(err);
    },
  );
  return { events, done, isDone: () => finished, controller };
}

const eventSummary = (events: WatchEvent[]): string[] => events.map((e) => `${e.type} ${e.object.metadata?.name ?? ''}`.trim());

function pod(name: string, labels: Record<string, string> = {}, extra: Partial<k8s.V1ObjectMeta> = {}): k8s.V1Pod {
  return {
    metadata: { name, labels, ...extra },
    spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', command: ['true'] }] },
  };
}

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

describe('FakeKubeApiServer', () => {
  let server: FakeKubeApiServer;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  let authz: k8s.AuthorizationV1Api;
  const openWatches: AbortController[] = [];

  beforeEach(async () => {
    server = new FakeKubeApiServer({ bookmarkIntervalMs: 50 });
    await server.start();
    kc = server.kubeConfig(NS);
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  });

  afterEach(async () => {
    for (const c of openWatches.splice(0)) c.abort();
    await server.stop();
  });

  const watch = async (urlPath: string, query: Record<string, string | number | boolean>): Promise<WatchHandle> => {
    const handle = await startWatch(kc, urlPath, query);
    openWatches.push(handle.controller);
    return handle;
  };

  describe('objects', () => {
    it('creates a pod with server-filled metadata and a Pending status, and gets it back', async () => {
      const created = await core.createNamespacedPod({ namespace: NS, body: pod('p1', { app: 'x' }) });
      assert.equal(created.apiVersion, 'v1');
      assert.equal(created.kind, 'Pod');
      assert.equal(created.metadata?.namespace, NS);
      assert.match(created.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
      assert.match(created.metadata?.resourceVersion ?? '', /^\d+$/);
      assert.ok(created.metadata?.creationTimestamp instanceof Date);
      assert.equal(created.status?.phase, 'Pending');
      const got = await core.readNamespacedPod({ name: 'p1', namespace: NS });
      assert.equal(got.metadata?.uid, created.metadata?.uid);
      assert.equal(got.spec?.containers[0]?.image, 'busybox:1.36');
      assert.deepEqual(got.metadata?.labels, { app: 'x' });
    });

    it('hands out one increasing resourceVersion across resources', async () => {
      const a = await core.createNamespacedPod({ namespace: NS, body: pod('a') });
      const s = await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 's' }, stringData: { k: 'v' } } });
      const b = await core.createNamespacedPod({ namespace: NS, body: pod('b') });
      const rvs = [a, s, b].map((o) => Number(o.metadata?.resourceVersion));
      assert.ok(rvs[0]! < rvs[1]! && rvs[1]! < rvs[2]!, `resourceVersions ${rvs.join(',')}`);
      const list = await core.listNamespacedPod({ namespace: NS });
      assert.equal(list.metadata?.resourceVersion, String(rvs[2]));
    });

    it('names an object from metadata.generateName', async () => {
      const created = await core.createNamespacedPod({ namespace: NS, body: { ...pod(''), metadata: { generateName: 'job-' } } });
      assert.match(created.metadata?.name ?? '', /^job-[a-z0-9]{5}$/);
      const got = await core.readNamespacedPod({ name: created.metadata?.name ?? '', namespace: NS });
      assert.equal(got.metadata?.uid, created.metadata?.uid);
    });

    it('lists by label selector (=, ==, !=, exists, !exists, in, notin) and by metadata.name', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('a', { app: 'web', tier: 'front' }) });
      await core.createNamespacedPod({ namespace: NS, body: pod('b', { app: 'web' }) });
      await core.createNamespacedPod({ namespace: NS, body: pod('c', { app: 'db', tier: 'back' }) });
      await core.createNamespacedPod({ namespace: 'other', body: pod('d', { app: 'web' }) });
      const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> =>
        (await core.listNamespacedPod({ namespace: NS, labelSelector, fieldSelector })).items.map((p) => p.metadata?.name ?? '');
      assert.deepEqual(await names(), ['a', 'b', 'c']);
      assert.deepEqual(await names('app=web'), ['a', 'b']);
      assert.deepEqual(await names('app==db'), ['c']);
      assert.deepEqual(await names('app!=web'), ['c']);
      assert.deepEqual(await names('tier'), ['a', 'c']);
      assert.deepEqual(await names('!tier'), ['b']);
      assert.deepEqual(await names('tier in (front, back),app'), ['a', 'c']);
      assert.deepEqual(await names('tier notin (front)'), ['b', 'c']);
      assert.deepEqual(await names('app=web,tier=front'), ['a']);
      assert.deepEqual(await names(undefined, 'metadata.name=b'), ['b']);
      const all = await core.listPodForAllNamespaces({ labelSelector: 'app=web' });
      assert.deepEqual(
        all.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`),
        [`${NS}/a`, `${NS}/b`, 'other/d'],
      );
    });

    it('rejects a malformed label selector with 400 BadRequest', async () => {
      const err = await apiError(core.listNamespacedPod({ namespace: NS, labelSelector: 'app in (a' }));
      assert.equal(err.code, 400);
      assert.equal(err.body.reason, 'BadRequest');
    });

    it('applies a merge patch (null removes a field) and bumps resourceVersion', async () => {
      const created = await core.createNamespacedPod({ namespace: NS, body: pod('p', { keep: 'yes', drop: 'me' }) });
      const patched = await core.patchNamespacedPod(
        { name: 'p', namespace: NS, body: { metadata: { labels: { drop: null, added: 'new' }, annotations: { note: 'n' } } } },
        MERGE,
      );
      assert.deepEqual(patched.metadata?.labels, { keep: 'yes', added: 'new' });
      assert.deepEqual(patched.metadata?.annotations, { note: 'n' });
      assert.ok(Number(patched.metadata?.resourceVersion) > Number(created.metadata?.resourceVersion));
      assert.equal(patched.metadata?.uid, created.metadata?.uid);
      const got = await core.readNamespacedPod({ name: 'p', namespace: NS });
      assert.deepEqual(got.metadata?.labels, { keep: 'yes', added: 'new' });
    });

    it('accepts a strategic merge patch as a merge patch and answers 415 to a JSON patch', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('p') });
      const smp = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
      const patched = await core.patchNamespacedPod({ name: 'p', namespace: NS, body: { metadata: { labels: { a: 'b' } } } }, smp);
      assert.deepEqual(patched.metadata?.labels, { a: 'b' });
      // The client's default patch type is application/json-patch+json.
      const err = await apiError(
        core.patchNamespacedPod({ name: 'p', namespace: NS, body: [{ op: 'add', path: '/metadata/labels/x', value: 'y' }] }),
      );
      assert.equal(err.code, 415);
      assert.equal(err.body.reason, 'UnsupportedMediaType');
    });

    it('refuses a merge patch with a stale resourceVersion (409 Conflict) and a pod spec change (422)', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('p') });
      const first = await core.readNamespacedPod({ name: 'p', namespace: NS });
      await core.patchNamespacedPod({ name: 'p', namespace: NS, body: { metadata: { labels: { a: 'b' } } } }, MERGE);
      const staleBody = { metadata: { resourceVersion: first.metadata?.resourceVersion, labels: { a: 'c' } } };
      const stale = await apiError(core.patchNamespacedPod({ name: 'p', namespace: NS, body: staleBody }, MERGE));
      assert.equal(stale.code, 409);
      assert.equal(stale.body.reason, 'Conflict');
      const specChange = await apiError(
        core.patchNamespacedPod({ name: 'p', namespace: NS, body: { spec: { restartPolicy: 'Always' } } }, MERGE),
      );
      assert.equal(specChange.code, 422);
      assert.equal(specChange.body.details?.causes?.[0]?.field, 'spec');
      const imageChange = await core.patchNamespacedPod({ name: 'p', namespace: NS, body: { spec: { activeDeadlineSeconds: 30 } } }, MERGE);
      assert.equal(imageChange.spec?.activeDeadlineSeconds, 30);
    });

    it('replaces an object with PUT when its resourceVersion is current', async () => {
      const created = await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 's' }, stringData: { a: '1' } } });
      const replaced = await core.replaceNamespacedSecret({
        name: 's',
        namespace: NS,
        body: { ...created, stringData: undefined, data: { b: 'Mg==' } },
      });
      assert.deepEqual(replaced.data, { b: 'Mg==' });
      const stale = await apiError(core.replaceNamespacedSecret({ name: 's', namespace: NS, body: created }));
      assert.equal(stale.code, 409);
    });

    it('deletes a pod, returning it, after which get answers a NotFound Status', async () => {
      const created = await core.createNamespacedPod({ namespace: NS, body: pod('p') });
      const deleted = await core.deleteNamespacedPod({ name: 'p', namespace: NS, gracePeriodSeconds: 0, propagationPolicy: 'Background' });
      assert.equal(deleted.metadata?.uid, created.metadata?.uid);
      const err = await apiError(core.readNamespacedPod({ name: 'p', namespace: NS }));
      assert.equal(err.code, 404);
      assert.deepEqual(err.body, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'pods "p" not found',
        reason: 'NotFound',
        details: { name: 'p', kind: 'pods' },
        code: 404,
      });
      const again = await apiError(core.deleteNamespacedPod({ name: 'p', namespace: NS }));
      assert.equal(again.code, 404);
      const logged = server.requestLog.find((e) => e.verb === 'delete' && e.status === 200);
      assert.deepEqual(logged?.deleteOptions, { gracePeriodSeconds: 0, propagationPolicy: 'Background' });
    });

    it('answers 409 AlreadyExists to a second create of the same name', async () => {
      await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'svc' }, spec: { ports: [{ port: 80 }] } } });
      const err = await apiError(
        core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'svc' }, spec: { ports: [{ port: 80 }] } } }),
      );
      assert.equal(err.code, 409);
      assert.equal(err.body.reason, 'AlreadyExists');
      assert.equal(err.body.message, 'services "svc" already exists');
      assert.deepEqual(err.body.details, { name: 'svc', kind: 'services' });
    });

    it('answers 400 BadRequest when the body names another namespace than the URL', async () => {
      const err = await apiError(core.createNamespacedPod({ namespace: NS, body: pod('p', {}, { namespace: 'elsewhere' }) }));
      assert.equal(err.code, 400);
      assert.equal(err.body.reason, 'BadRequest');
      assert.equal(err.body.message, 'the namespace of the provided object does not match the namespace sent on the request');
      assert.equal((await core.listNamespacedPod({ namespace: NS })).items.length, 0);
    });

    it('serves Ambassador mappings through CustomObjectsApi', async () => {
      const mapping = {
        apiVersion: 'getambassador.io/v3alpha1',
        kind: 'Mapping',
        metadata: { name: 'm1', labels: { app: 'caisson' } },
        spec: { hostname: '*', prefix: '/exec/1/', service: 'pod-1:8080' },
      };
      const group = 'getambassador.io';
      const version = 'v3alpha1';
      const plural = 'mappings';
      const created = (await custom.createNamespacedCustomObject({
        group,
        version,
        namespace: NS,
        plural,
        body: mapping,
      })) as k8s.KubernetesObject;
      assert.match(created.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
      const listed = (await custom.listNamespacedCustomObject({ group, version, namespace: NS, plural, labelSelector: 'app=caisson' })) as {
        kind: string;
        items: k8s.KubernetesObject[];
      };
      assert.equal(listed.kind, 'MappingList');
      assert.deepEqual(
        listed.items.map((i) => i.metadata?.name),
        ['m1'],
      );
      const patched = (await custom.patchNamespacedCustomObject(
        { group, version, namespace: NS, plural, name: 'm1', body: { spec: { prefix: '/exec/2/' } } },
        MERGE,
      )) as { spec: { prefix: string; service: string } };
      assert.deepEqual(patched.spec, { hostname: '*', prefix: '/exec/2/', service: 'pod-1:8080' });
      await custom.deleteNamespacedCustomObject({ group, version, namespace: NS, plural, name: 'm1' });
      const err = await apiError(custom.getNamespacedCustomObject({ group, version, namespace: NS, plural, name: 'm1' }));
      assert.equal(err.code, 404);
      assert.equal(err.body.message, 'mappings.getambassador.io "m1" not found');
      assert.equal(err.body.details?.group, 'getambassador.io');
    });

    it('garbage-collects objects whose ownerReferences name a deleted pod, with DELETED events', async () => {
      const owner = await core.createNamespacedPod({ namespace: NS, body: pod('owner') });
      const ownerRef = { apiVersion: 'v1', kind: 'Pod', name: 'owner', uid: owner.metadata?.uid ?? '', controller: true };
      await core.createNamespacedService({
        namespace: NS,
        body: { metadata: { name: 'svc', ownerReferences: [ownerRef] }, spec: { ports: [{ port: 80 }] } },
      });
      await core.createNamespacedSecret({
        namespace: NS,
        body: { metadata: { name: 'sec', ownerReferences: [ownerRef] }, stringData: { a: 'b' } },
      });
      await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'unowned' }, stringData: { a: 'b' } } });
      const secrets = await watch(`/api/v1/namespaces/${NS}/secrets`, { resourceVersion: String(server.store.resourceVersion) });
      await core.deleteNamespacedPod({ name: 'owner', namespace: NS });
      await waitFor('the secret DELETED event', async () => secrets.events.length >= 1, 5000, 10);
      assert.deepEqual(eventSummary(secrets.events), ['DELETED sec']);
      assert.deepEqual(
        (await core.listNamespacedService({ namespace: NS })).items.map((s) => s.metadata?.name),
        [],
      );
      assert.deepEqual(
        (await core.listNamespacedSecret({ namespace: NS })).items.map((s) => s.metadata?.name),
        ['unowned'],
      );
    });

    it('orphans dependents (dropping their ownerReference) when propagationPolicy is Orphan', async () => {
      const owner = await core.createNamespacedPod({ namespace: NS, body: pod('owner') });
      const ownerRef = { apiVersion: 'v1', kind: 'Pod', name: 'owner', uid: owner.metadata?.uid ?? '' };
      await core.createNamespacedSecret({
        namespace: NS,
        body: { metadata: { name: 'sec', ownerReferences: [ownerRef] }, stringData: { a: 'b' } },
      });
      await core.deleteNamespacedPod({ name: 'owner', namespace: NS, propagationPolicy: 'Orphan' });
      const sec = await core.readNamespacedSecret({ name: 'sec', namespace: NS });
      assert.equal(sec.metadata?.ownerReferences, undefined);
    });
  });

  describe('errors and faults', () => {
    it('answers 422 Invalid with causes for an injected fault', async () => {
      const causes = [{ field: 'spec.containers[0].image', message: 'Required value', reason: 'FieldValueRequired' }];
      server.inject({
        verb: 'create',
        resource: 'pods',
        status: 422,
        message: 'Pod "p" is invalid: spec.containers[0].image: Required value',
        causes,
      });
      const err = await apiError(core.createNamespacedPod({ namespace: NS, body: pod('p') }));
      assert.equal(err.code, 422);
      assert.equal(err.body.reason, 'Invalid');
      assert.deepEqual(err.body.details?.causes, causes);
      // The fault was used once: the same create now succeeds.
      await core.createNamespacedPod({ namespace: NS, body: pod('p') });
    });

    // REAL VALIDATOR: depends on validate.ts (not the placeholder) rejecting a container without an image.
    it('[real validator] answers 422 Invalid with causes for a container without an image and stores nothing', async () => {
      const body: k8s.V1Pod = { metadata: { name: 'noimage' }, spec: { containers: [{ name: 'main' }] } };
      const err = await apiError(core.createNamespacedPod({ namespace: NS, body }));
      assert.equal(err.code, 422);
      assert.equal(err.body.kind, 'Status');
      assert.equal(err.body.reason, 'Invalid');
      assert.equal(err.body.details?.name, 'noimage');
      assert.equal(err.body.details?.kind, 'Pod');
      const imageCause = err.body.details?.causes?.find((c) => c.field === 'spec.containers[0].image');
      assert.ok(imageCause, `causes: ${JSON.stringify(err.body.details?.causes)}`);
      assert.match(err.body.message, /^Pod "noimage" is invalid: .*spec\.containers\[0\]\.image: Required value/);
      assert.equal((await core.listNamespacedPod({ namespace: NS })).items.length, 0);
      assert.equal(server.store.resourceVersion, 0);
    });

    it('answers 403 Forbidden for an injected fault', async () => {
      server.inject({ verb: 'list', resource: 'pods', status: 403 });
      const err = await apiError(core.listNamespacedPod({ namespace: NS }));
      assert.equal(err.code, 403);
      assert.equal(err.body.reason, 'Forbidden');
      assert.equal(err.body.status, 'Failure');
    });

    it('answers 429 with Retry-After for as many requests as asked, then serves again', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('p') });
      server.inject({ verb: 'get', resource: 'pods', name: 'p', status: 429, retryAfterSeconds: 7, times: 2 });
      for (let i = 0; i < 2; i++) {
        const err = await apiError(core.readNamespacedPod({ name: 'p', namespace: NS }));
        assert.equal(err.code, 429);
        assert.equal(err.body.reason, 'TooManyRequests');
        assert.equal(err.body.details?.retryAfterSeconds, 7);
        assert.equal(err.headers['retry-after'], '7');
      }
      const got = await core.readNamespacedPod({ name: 'p', namespace: NS });
      assert.equal(got.metadata?.name, 'p');
    });

    it('only faults requests that match verb, resource and name', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('p') });
      await core.createNamespacedPod({ namespace: NS, body: pod('q') });
      server.inject({ verb: 'get', resource: 'pods', name: 'q', status: 500 });
      await core.readNamespacedPod({ name: 'p', namespace: NS });
      await core.listNamespacedPod({ namespace: NS });
      const err = await apiError(core.readNamespacedPod({ name: 'q', namespace: NS }));
      assert.equal(err.code, 500);
      assert.equal(err.body.reason, 'InternalError');
    });

    it('drops the connection when asked, which the client reports as a FetchError', async () => {
      server.inject({ verb: 'list', resource: 'services', dropConnection: true });
      let caught: unknown;
      try {
        await core.listNamespacedService({ namespace: NS });
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof k8s.FetchError, `expected a FetchError, got ${String(caught)}`);
      const list = await core.listNamespacedService({ namespace: NS });
      assert.deepEqual(list.items, []);
      assert.deepEqual(
        server.requestLog.map((e) => [e.verb, e.resource, e.status]),
        [
          ['list', 'services', 0],
          ['list', 'services', 200],
        ],
      );
    });

    it('delays every request by latencyMs', async () => {
      server.latencyMs = 150;
      const started = Date.now();
      await core.listNamespacedPod({ namespace: NS });
      assert.ok(Date.now() - started >= 150, `took ${Date.now() - started} ms`);
    });

    it('logs each request with verb, resource, namespace, name and status, and clears the log', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('p') });
      await core.readNamespacedPod({ name: 'p', namespace: NS });
      await apiError(core.readNamespacedPod({ name: 'nope', namespace: NS }));
      await core.listPodForAllNamespaces();
      await core.patchNamespacedPod({ name: 'p', namespace: NS, body: { metadata: { labels: { a: 'b' } } } }, MERGE);
      await core.deleteNamespacedPod({ name: 'p', namespace: NS });
      assert.deepEqual(
        server.requestLog.map(({ verb, resource, namespace, name, status }) => ({ verb, resource, namespace, name, status })),
        [
          { verb: 'create', resource: 'pods', namespace: NS, name: 'p', status: 201 },
          { verb: 'get', resource: 'pods', namespace: NS, name: 'p', status: 200 },
          { verb: 'get', resource: 'pods', namespace: NS, name: 'nope', status: 404 },
          { verb: 'list', resource: 'pods', namespace: undefined, name: undefined, status: 200 },
          { verb: 'patch', resource: 'pods', namespace: NS, name: 'p', status: 200 },
          { verb: 'delete', resource: 'pods', namespace: NS, name: 'p', status: 200 },
        ],
      );
      assert.ok(server.requestLog.every((e) => typeof e.at === 'number' && e.at > 0));
      server.clearLog();
      assert.equal(server.requestLog.length, 0);
    });

    it('answers 401 to a client with another token', async () => {
      const other = new k8s.KubeConfig();
      other.loadFromOptions({
        clusters: [{ name: 'c', server: server.url, skipTLSVerify: true }],
        users: [{ name: 'u', token: 'wrong' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      // The client drops the body of a 401, so only the code is checked.
      let caught: unknown;
      try {
        await other.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: NS });
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof k8s.ApiException, `expected an ApiException, got ${String(caught)}`);
      assert.equal(caught.code, 401);
      assert.equal(server.requestLog.length, 0);
    });
  });

  describe('access reviews', () => {
    const review = (group: string, resource: string, verb: string): Promise<k8s.V1SelfSubjectAccessReview> =>
      authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace: NS, group, resource, verb } } } });

    it('allows everything until permissions are denied, then answers allowed=false with a reason and 403 on the verb', async () => {
      assert.equal((await review('', 'pods', 'create')).status?.allowed, true);
      server.denyPermissions([{ group: '', resource: 'pods', verb: 'create' }]);
      const denied = await review('', 'pods', 'create');
      assert.equal(denied.status?.allowed, false);
      assert.ok((denied.status?.reason ?? '').length > 0);
      assert.equal((await review('', 'pods', 'delete')).status?.allowed, true);
      assert.equal((await review('getambassador.io', 'mappings', 'create')).status?.allowed, true);
      const err = await apiError(core.createNamespacedPod({ namespace: NS, body: pod('p') }));
      assert.equal(err.code, 403);
      assert.equal(err.body.reason, 'Forbidden');
      assert.match(err.body.message, /cannot create resource "pods" in API group "" in the namespace "caisson"/);
      server.denyPermissions([]);
      await core.createNamespacedPod({ namespace: NS, body: pod('p') });
    });
  });

  describe('watch', () => {
    it('replays the changes after a resourceVersion, then streams live ones', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('before') });
      const from = server.store.resourceVersion;
      await core.createNamespacedPod({ namespace: NS, body: pod('a') });
      await core.createNamespacedPod({ namespace: NS, body: pod('b') });
      await core.patchNamespacedPod({ name: 'a', namespace: NS, body: { metadata: { labels: { x: 'y' } } } }, MERGE);
      await core.deleteNamespacedPod({ name: 'b', namespace: NS });
      await core.createNamespacedPod({ namespace: 'other', body: pod('elsewhere') });
      const w = await watch(`/api/v1/namespaces/${NS}/pods`, { resourceVersion: String(from) });
      await waitFor('4 replayed events', async () => w.events.length >= 4, 5000, 10);
      await core.createNamespacedPod({ namespace: NS, body: pod('live') });
      await waitFor('the live event', async () => w.events.length >= 5, 5000, 10);
      assert.deepEqual(eventSummary(w.events), ['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b', 'ADDED live']);
      assert.equal(w.events[4]?.object.metadata?.resourceVersion, String(server.store.resourceVersion));
      assert.equal(w.events[4]?.object.kind, 'Pod');
    });

    it('starts with ADDED for current objects when no resourceVersion is given', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('a', { app: 'web' }) });
      await core.createNamespacedPod({ namespace: NS, body: pod('b', { app: 'db' }) });
      const w = await watch(`/api/v1/namespaces/${NS}/pods`, { labelSelector: 'app=web' });
      await core.createNamespacedPod({ namespace: NS, body: pod('c', { app: 'web' }) });
      await waitFor('2 events', async () => w.events.length >= 2, 5000, 10);
      assert.deepEqual(eventSummary(w.events), ['ADDED a', 'ADDED c']);
    });

    it('turns label changes into ADDED and DELETED for a selector watch', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('p', { app: 'web' }) });
      const w = await watch(`/api/v1/pods`, { labelSelector: 'app=web', resourceVersion: String(server.store.resourceVersion) });
      await core.patchNamespacedPod({ name: 'p', namespace: NS, body: { metadata: { labels: { app: 'db' } } } }, MERGE);
      await core.patchNamespacedPod({ name: 'p', namespace: NS, body: { metadata: { labels: { other: '1' } } } }, MERGE);
      await core.patchNamespacedPod({ name: 'p', namespace: NS, body: { metadata: { labels: { app: 'web' } } } }, MERGE);
      await core.patchNamespacedPod({ name: 'p', namespace: NS, body: { metadata: { annotations: { a: 'b' } } } }, MERGE);
      await waitFor('3 events', async () => w.events.length >= 3, 5000, 10);
      assert.deepEqual(eventSummary(w.events), ['DELETED p', 'ADDED p', 'MODIFIED p']);
    });

    it('sends BOOKMARK events with the current resourceVersion when asked', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('p') });
      const w = await watch(`/api/v1/namespaces/${NS}/pods`, {
        resourceVersion: String(server.store.resourceVersion),
        allowWatchBookmarks: true,
      });
      await waitFor('two bookmarks', async () => w.events.filter((e) => e.type === 'BOOKMARK').length >= 2, 5000, 10);
      const bookmark = w.events[0];
      assert.equal(bookmark?.type, 'BOOKMARK');
      assert.equal(bookmark?.object.kind, 'Pod');
      assert.deepEqual(bookmark?.object.metadata, { resourceVersion: String(server.store.resourceVersion) });
    });

    it('sends no BOOKMARK events unless asked', async () => {
      const w = await watch(`/api/v1/namespaces/${NS}/pods`, { timeoutSeconds: 1 });
      await w.done;
      assert.deepEqual(w.events, []);
    });

    it('answers a resume from a compacted resourceVersion with one 410 Expired ERROR event and ends', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('a') });
      const old = server.store.resourceVersion;
      await core.createNamespacedPod({ namespace: NS, body: pod('b') });
      server.compact();
      const w = await watch(`/api/v1/namespaces/${NS}/pods`, { resourceVersion: String(old) });
      assert.equal(await w.done, null);
      assert.equal(w.events.length, 1);
      assert.equal(w.events[0]?.type, 'ERROR');
      assert.equal(w.events[0]?.object.kind, 'Status');
      assert.equal(w.events[0]?.object.code, 410);
      assert.equal(w.events[0]?.object.reason, 'Expired');
      // Resuming from the latest resourceVersion still works after compaction.
      const fresh = await watch(`/api/v1/namespaces/${NS}/pods`, { resourceVersion: String(server.store.resourceVersion) });
      await core.createNamespacedPod({ namespace: NS, body: pod('c') });
      await waitFor('the live event', async () => fresh.events.length >= 1, 5000, 10);
      assert.deepEqual(eventSummary(fresh.events), ['ADDED c']);
    });

    it('ends the stream cleanly after timeoutSeconds', async () => {
      const started = Date.now();
      const w = await watch(`/api/v1/namespaces/${NS}/pods`, { timeoutSeconds: 1 });
      assert.equal(await w.done, null);
      const took = Date.now() - started;
      assert.ok(took >= 900 && took < 5000, `ended after ${took} ms`);
    });

    it('ends every open watch on endAllWatches()', async () => {
      const a = await watch(`/api/v1/namespaces/${NS}/pods`, {});
      const b = await watch(`/apis/getambassador.io/v3alpha1/namespaces/${NS}/mappings`, {});
      assert.equal(a.isDone() || b.isDone(), false);
      server.endAllWatches();
      assert.equal(await a.done, null);
      assert.equal(await b.done, null);
    });

    it('answers an injected watch fault as an HTTP status the Watch reports with statusCode', async () => {
      server.inject({ verb: 'watch', resource: 'pods', status: 500 });
      const w = await watch(`/api/v1/namespaces/${NS}/pods`, {});
      const err = (await w.done) as { statusCode?: number };
      assert.equal(err.statusCode, 500);
    });

    it('keeps an informer in sync, relisting after a 410 on resume', async () => {
      await core.createNamespacedPod({ namespace: NS, body: pod('a', { app: 'web' }) });
      const informer = k8s.makeInformer(
        kc,
        `/api/v1/namespaces/${NS}/pods`,
        () => core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' }),
        'app=web',
      );
      const seen: string[] = [];
      informer.on('add', (p) => seen.push(`add ${p.metadata?.name}`));
      informer.on('update', (p) => seen.push(`update ${p.metadata?.name}`));
      informer.on('delete', (p) => seen.push(`delete ${p.metadata?.name}`));
      const errors: unknown[] = [];
      informer.on('error', (e) => errors.push(e));
      await informer.start();
      try {
        await waitFor('the initial add', async () => seen.includes('add a'), 5000, 10);
        await core.createNamespacedPod({ namespace: NS, body: pod('b', { app: 'web' }) });
        await core.patchNamespacedPod({ name: 'a', namespace: NS, body: { metadata: { annotations: { n: '1' } } } }, MERGE);
        await core.deleteNamespacedPod({ name: 'b', namespace: NS });
        await waitFor('add, update, delete', async () => seen.length >= 4, 5000, 10);
        assert.deepEqual(seen, ['add a', 'add b', 'update a', 'delete b']);

        // A change the informer's selector filters out moves the store past the informer's resourceVersion;
        // compacting history then makes its resume (after the server ends its watch) get 410, so it relists.
        await core.createNamespacedPod({ namespace: NS, body: pod('unwatched', { app: 'db' }) });
        server.clearLog();
        server.compact();
        server.endAllWatches();
        const verbs = () => server.requestLog.map((e) => e.verb);
        await waitFor('a relist, then a new watch', async () => verbs().indexOf('watch', verbs().indexOf('list')) > 0, 5000, 10);
        assert.deepEqual(
          server.requestLog.map((e) => e.verb),
          ['watch', 'list', 'watch'],
        );
        await core.createNamespacedPod({ namespace: NS, body: pod('c', { app: 'web' }) });
        await waitFor('the add after relist', async () => seen.includes('add c'), 5000, 10);
        assert.deepEqual(
          informer
            .list(NS)
            .map((p) => p.metadata?.name)
            .sort(),
          ['a', 'c'],
        );
        assert.deepEqual(errors, []);
      } finally {
        await informer.stop();
      }
    });
  });

  describe('configuration', () => {
    it('writes a kubeconfig file the client loads (as through KUBECONFIG)', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kube-'));
      try {
        const file = path.join(dir, 'config');
        await server.writeKubeconfig(file, NS);
        const loaded = new k8s.KubeConfig();
        loaded.loadFromFile(file);
        assert.equal(loaded.getContextObject(loaded.getCurrentContext())?.namespace, NS);
        await loaded.makeApiClient(k8s.CoreV1Api).createNamespacedPod({ namespace: NS, body: pod('p') });
        assert.ok(server.store.get('pods', NS, 'p'));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses connections after stop(), which is idempotent', async () => {
      await server.stop();
      await server.stop();
      let caught: unknown;
      try {
        await core.listNamespacedPod({ namespace: NS });
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof k8s.FetchError, `expected a FetchError, got ${String(caught)}`);
      assert.equal((caught as { code?: string }).code, 'ECONNREFUSED');
    });
  });
});
