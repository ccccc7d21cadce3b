/**
 * The in-memory object store of the fake Kubernetes API server: objects by resource, namespace and
 * name, one global resourceVersion counter (as etcd's revision), a change history that watches
 * replay from and that `compact()` forgets, label and field selectors, and garbage collection of
 * objects whose ownerReferences name a deleted object.
 */
import { randomUUID } from 'node:crypto';
import { KubeApiError } from './types.js';
import type { FakeKubeStore, KubeObject, ResourceName, StoreEvent } from './types.js';
import { validateObject } from './validate.js';

/** apiVersion, kind and list kind of each resource the fake serves. */
export const RESOURCE_KINDS: Record<ResourceName, { apiVersion: string; group: string; kind: string; listKind: string }> = {
  pods: { apiVersion: 'v1', group: '', kind: 'Pod', listKind: 'PodList' },
  services: { apiVersion: 'v1', group: '', kind: 'Service', listKind: 'ServiceList' },
  secrets: { apiVersion: 'v1', group: '', kind: 'Secret', listKind: 'SecretList' },
  mappings: { apiVersion: 'getambassador.io/v3alpha1', group: 'getambassador.io', kind: 'Mapping', listKind: 'MappingList' },
};

/** How the API server names a resource in messages: `pods`, `mappings.getambassador.io`. */
export function qualifiedResource(resource: ResourceName): string {
  const group = RESOURCE_KINDS[resource].group;
  return group === '' ? resource : `${resource}.${group}`;
}

/** A store event that also carries the object as it was before a MODIFIED change (for selector transitions). */
export interface StoreEventWithPrevious extends StoreEvent {
  previous?: KubeObject;
}

export interface DeleteOptions {
  /** Orphan keeps dependents (drops their ownerReference); Background and Foreground delete them. */
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  /** Recorded on the deleted object as deletionGracePeriodSeconds; the object is removed at once either way. */
  gracePeriodSeconds?: number;
}

export interface FakeKubeStoreOptions {
  /** Changes kept for watch replay; older ones are compacted away. Default 10000. */
  historyLimit?: number;
  /** Clock for creationTimestamp and deletionTimestamp. Default `() => new Date()`. */
  now?: () => Date;
}

/** The store with the extras the API server needs (all optional for other users). */
export interface FakeKubeStoreWithControls extends FakeKubeStore {
  list(
    resource: ResourceName,
    namespace: string | undefined,
    labelSelector?: string,
    fieldSelector?: string,
  ): { items: KubeObject[]; resourceVersion: string };
  delete(resource: ResourceName, namespace: string, name: string, options?: DeleteOptions): KubeObject | undefined;
  /** Forgets the change history: a watch resuming from an older resourceVersion gets 410 Expired. */
  compact(): void;
}

// ---------------------------------------------------------------------------------------------
// Selectors

type Requirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };

const LABEL_KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
const LABEL_VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/;

function badSelector(selector: string, why: string): KubeApiError {
  return new KubeApiError(400, 'BadRequest', `unable to parse requirement: ${why} (selector "${selector}")`);
}

/** Splits at commas that are not inside `(...)`. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

/** Parses a label selector (`a=b,c!=d,e,!f,g in (x,y),h notin (z)`); throws 400 BadRequest when it is malformed. */
export function parseLabelSelector(selector: string): Requirement[] {
  const requirements: Requirement[] = [];
  for (const term of splitTerms(selector)) {
    let req: Requirement;
    const setMatch = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
    if (setMatch) {
      const values = (setMatch[3] ?? '')
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
      req = { op: setMatch[2] === 'in' ? 'in' : 'notin', key: setMatch[1] ?? '', values };
      for (const v of values) if (!LABEL_VALUE.test(v)) throw badSelector(selector, `invalid label value: "${v}"`);
    } else if (term.startsWith('!')) {
      req = { op: 'notexists', key: term.slice(1).trim() };
    } else {
      const opMatch = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
      if (opMatch) {
        const value = (opMatch[3] ?? '').trim();
        if (!LABEL_VALUE.test(value)) throw badSelector(selector, `invalid label value: "${value}"`);
        req = { op: opMatch[2] === '!=' ? 'neq' : 'eq', key: opMatch[1] ?? '', value };
      } else {
        req = { op: 'exists', key: term };
      }
    }
    if (!LABEL_KEY.test(req.key)) throw badSelector(selector, `invalid label key "${req.key}"`);
    requirements.push(req);
  }
  return requirements;
}

/** Whether labels satisfy every requirement. */
export function matchesLabels(requirements: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const value = l[r.key];
    switch (r.op) {
      case 'eq':
        return has && value === r.value;
      case 'neq':
        return !has || value !== r.value;
      case 'in':
        return has && r.values.includes(value ?? '');
      case 'notin':
        return !has || !r.values.includes(value ?? '');
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
  });
}

/** Parses a field selector; `metadata.name` and `metadata.namespace` with `=`, `==`, `!=` are supported. */
export function parseFieldSelector(selector: string): (obj: KubeObject) => boolean {
  const tests: ((obj: KubeObject) => boolean)[] = [];
  for (const term of splitTerms(selector)) {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    const field = m?.[1];
    if (!m || (field !== 'metadata.name' && field !== 'metadata.namespace')) {
      throw new KubeApiError(400, 'BadRequest', `"${term}" is not a known field selector: only "metadata.name", "metadata.namespace"`);
    }
    const value = (m[3] ?? '').trim();
    const negate = m[2] === '!=';
    tests.push((obj) => ((field === 'metadata.name' ? obj.metadata.name : obj.metadata.namespace) === value) !== negate);
  }
  return (obj) => tests.every((t) => t(obj));
}

/** One predicate for a label selector and a field selector (either may be absent). */
export function objectMatcher(labelSelector?: string, fieldSelector?: string): (obj: KubeObject) => boolean {
  const labels = labelSelector ? parseLabelSelector(labelSelector) : [];
  const fields = fieldSelector ? parseFieldSelector(fieldSelector) : () => true;
  return (obj) => matchesLabels(labels, obj.metadata.labels) && fields(obj);
}

// ---------------------------------------------------------------------------------------------
// The store

const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_SUFFIX_ALPHABET[Math.floor(Math.random() * NAME_SUFFIX_ALPHABET.length)];
  return s;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function invalidError(resource: ResourceName, name: string, causes: { field: string; message: string; reason: string }[]): KubeApiError {
  const kind = RESOURCE_KINDS[resource].kind;
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const list = parts.length === 1 ? (parts[0] ?? '') : `[${parts.join(', ')}]`;
  return new KubeApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${list}`, { name, kind, causes });
}

/** The 422 Invalid error for `obj` when validation finds problems (used by create and by the API server's patch/update). */
export function validationError(resource: ResourceName, namespace: string, obj: KubeObject): KubeApiError | undefined {
  const causes = validateObject(resource, namespace, obj);
  if (!obj.metadata.name && !causes.some((c) => c.field === 'metadata.name')) {
    causes.unshift({ field: 'metadata.name', message: 'Required value: name or generateName is required', reason: 'FieldValueRequired' });
  }
  return causes.length === 0 ? undefined : invalidError(resource, obj.metadata.name ?? '', causes);
}

export function notFoundError(resource: ResourceName, name: string): KubeApiError {
  return new KubeApiError(404, 'NotFound', `${qualifiedResource(resource)} "${name}" not found`, { name, kind: resource });
}

class MemoryStore implements FakeKubeStoreWithControls {
  private rv = 0;
  /** Changes with resourceVersion greater than this one are all in `history`. */
  private compactedThrough = 0;
  private history: StoreEventWithPrevious[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private readonly historyLimit: number;
  private readonly now: () => Date;

  constructor(options: FakeKubeStoreOptions = {}) {
    this.historyLimit = options.historyLimit ?? 10_000;
    this.now = options.now ?? (() => new Date());
  }

  get resourceVersion(): number {
    return this.rv;
  }

  private key(resource: ResourceName, namespace: string, name: string): string {
    return `${resource}/${namespace}/${name}`;
  }

  get(resource: ResourceName, namespace: string, name: string): KubeObject | undefined {
    const obj = this.objects.get(this.key(resource, namespace, name));
    return obj ? clone(obj) : undefined;
  }

  list(
    resource: ResourceName,
    namespace: string | undefined,
    labelSelector?: string,
    fieldSelector?: string,
  ): { items: KubeObject[]; resourceVersion: string } {
    const matches = objectMatcher(labelSelector, fieldSelector);
    const prefix = namespace === undefined ? `${resource}/` : `${resource}/${namespace}/`;
    const items: KubeObject[] = [];
    for (const [key, obj] of this.objects) {
      if (key.startsWith(prefix) && matches(obj)) items.push(clone(obj));
    }
    items.sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));
    return { items, resourceVersion: String(this.rv) };
  }

  create(resource: ResourceName, namespace: string, body: unknown): KubeObject {
    const { apiVersion, kind } = RESOURCE_KINDS[resource];
    if (!isPlainObject(body)) throw new KubeApiError(400, 'BadRequest', 'the body of the request must be a JSON object');
    const obj = clone(body) as Record<string, unknown>;
    if (obj.kind !== undefined && obj.kind !== kind) {
      throw new KubeApiError(
        400,
        'BadRequest',
        `${String(obj.kind)} in version "${String(obj.apiVersion)}" cannot be handled as a ${kind}`,
      );
    }
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
      throw new KubeApiError(
        400,
        'BadRequest',
        `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion})`,
      );
    }
    obj.apiVersion = apiVersion;
    obj.kind = kind;
    const metadata = isPlainObject(obj.metadata) ? obj.metadata : {};
    obj.metadata = metadata;
    if (metadata.namespace !== undefined && metadata.namespace !== '' && metadata.namespace !== namespace) {
      throw new KubeApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    metadata.namespace = namespace;
    if (
      (metadata.name === undefined || metadata.name === '') &&
      typeof metadata.generateName === 'string' &&
      metadata.generateName !== ''
    ) {
      let name: string;
      do name = `${metadata.generateName}${randomSuffix()}`;
      while (this.objects.has(this.key(resource, namespace, name)));
      metadata.name = name;
    }
    // Server-owned fields the client may not set.
    for (const f of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation']) {
      delete metadata[f];
    }
    const candidate = obj as KubeObject;
    const invalid = validationError(resource, namespace, candidate);
    if (invalid) throw invalid;
    const name = candidate.metadata.name;
    if (this.objects.has(this.key(resource, namespace, name))) {
      throw new KubeApiError(409, 'AlreadyExists', `${qualifiedResource(resource)} "${name}" already exists`, { name, kind: resource });
    }
    this.rv++;
    metadata.uid = randomUUID();
    metadata.resourceVersion = String(this.rv);
    metadata.creationTimestamp = this.timestamp();
    metadata.generation = 1;
    if (resource === 'pods') obj.status = { phase: 'Pending' };
    this.objects.set(this.key(resource, namespace, name), candidate);
    this.emit({ type: 'ADDED', resource, object: clone(candidate), resourceVersion: this.rv });
    return clone(candidate);
  }

  update(resource: ResourceName, namespace: string, name: string, mutate: (obj: KubeObject) => void): KubeObject {
    const key = this.key(resource, namespace, name);
    const current = this.objects.get(key);
    if (!current) throw notFoundError(resource, name);
    const next = clone(current);
    mutate(next);
    if (!isPlainObject(next.metadata)) next.metadata = clone(current.metadata);
    // Identity and server-owned metadata cannot change through an update.
    const { apiVersion, kind } = RESOURCE_KINDS[resource];
    next.apiVersion = apiVersion;
    next.kind = kind;
    next.metadata.name = current.metadata.name;
    next.metadata.namespace = current.metadata.namespace;
    next.metadata.uid = current.metadata.uid;
    next.metadata.creationTimestamp = current.metadata.creationTimestamp;
    const specChanged = JSON.stringify(next.spec) !== JSON.stringify(current.spec);
    next.metadata.generation = (current.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    this.rv++;
    next.metadata.resourceVersion = String(this.rv);
    this.objects.set(key, next);
    this.emit({ type: 'MODIFIED', resource, object: clone(next), resourceVersion: this.rv, previous: clone(current) });
    return clone(next);
  }

  delete(resource: ResourceName, namespace: string, name: string, options: DeleteOptions = {}): KubeObject | undefined {
    const key = this.key(resource, namespace, name);
    const current = this.objects.get(key);
    if (!current) return undefined;
    this.objects.delete(key);
    this.rv++;
    const gone = clone(current);
    gone.metadata.resourceVersion = String(this.rv);
    if (options.gracePeriodSeconds !== undefined) {
      gone.metadata.deletionTimestamp = new Date(this.now().getTime() + options.gracePeriodSeconds * 1000)
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z');
      gone.metadata.deletionGracePeriodSeconds = options.gracePeriodSeconds;
    }
    this.emit({ type: 'DELETED', resource, object: clone(gone), resourceVersion: this.rv });
    this.collectDependents(current.metadata.uid, namespace, options.propagationPolicy ?? 'Background');
    return gone;
  }

  /** Deletes (or, for Orphan, releases) the objects whose ownerReferences name `uid`. */
  private collectDependents(uid: string, namespace: string, policy: NonNullable<DeleteOptions['propagationPolicy']>): void {
    const dependents: { resource: ResourceName; name: string }[] = [];
    for (const [key, obj] of this.objects) {
      if (obj.metadata.namespace !== namespace) continue;
      if (!(obj.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid)) continue;
      dependents.push({ resource: key.slice(0, key.indexOf('/')) as ResourceName, name: obj.metadata.name });
    }
    for (const d of dependents) {
      if (policy === 'Orphan') {
        this.update(d.resource, namespace, d.name, (o) => {
          const refs = (o.metadata.ownerReferences ?? []).filter((ref) => ref.uid !== uid);
          if (refs.length === 0) delete o.metadata.ownerReferences;
          else o.metadata.ownerReferences = refs;
        });
      } else {
        this.delete(d.resource, namespace, d.name, { propagationPolicy: policy });
      }
    }
  }

  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changesSince(resource: ResourceName, resourceVersion: number): StoreEvent[] | undefined {
    if (resourceVersion < this.compactedThrough) return undefined;
    return this.history.filter((e) => e.resource === resource && e.resourceVersion > resourceVersion).map((e) => clone(e));
  }

  compact(): void {
    this.compactedThrough = this.rv;
    this.history = [];
  }

  private timestamp(): string {
    return this.now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
  }

  private emit(event: StoreEventWithPrevious): void {
    this.history.push(event);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.compactedThrough = dropped[dropped.length - 1]?.resourceVersion ?? this.compactedThrough;
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(clone(event));
      } catch (err) {
        // A broken listener must not leave the store half-updated; surface it as an uncaught error.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

/** A new empty store. */
export function createFakeKubeStore(options?: FakeKubeStoreOptions): FakeKubeStoreWithControls {
  return new MemoryStore(options);
}
