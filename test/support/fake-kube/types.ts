/**
 * The contract between the parts of the fake Kubernetes API server used by the tests: the object
 * store (store.ts), the HTTP API (api-server.ts), object validation (validate.ts), the kubelet mode
 * (kubelet.ts) and the prefix-routing stand-in for Ambassador (ingress-proxy.ts).
 */

/** The resources the fake serves. */
export type ResourceName = 'pods' | 'services' | 'secrets' | 'mappings';

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
  deletionTimestamp?: string;
  [field: string]: unknown;
}

/** A stored object as JSON (apiVersion, kind, metadata filled by the store). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: WatchEventType;
  resource: ResourceName;
  object: KubeObject;
  /** resourceVersion of this change (the object's own after the change; for DELETED, the deletion's). */
  resourceVersion: number;
}

/** An API error as the API server answers it (a Status body). */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    /** Status reason: NotFound, AlreadyExists, Invalid, Forbidden, TooManyRequests, InternalError, Expired, Conflict, BadRequest. */
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; kind?: string; causes?: { field?: string; message: string; reason?: string }[] },
    /** Seconds, sent as Retry-After (429). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** The in-memory object store shared by the API server, the kubelet and the proxy. */
export interface FakeKubeStore {
  /** The latest resourceVersion handed out (one counter for all objects, as etcd's revision). */
  readonly resourceVersion: number;
  get(resource: ResourceName, namespace: string, name: string): KubeObject | undefined;
  /** Objects of a namespace (or all namespaces) whose labels match the selector (`a=b,c!=d,e,!f`, `x in (a,b)`). */
  list(resource: ResourceName, namespace: string | undefined, labelSelector?: string): { items: KubeObject[]; resourceVersion: string };
  /** Validates, fills metadata, stores, emits ADDED; throws KubeApiError 409 AlreadyExists or 422 Invalid. */
  create(resource: ResourceName, namespace: string, body: unknown): KubeObject;
  /** Applies `mutate` to a copy, bumps resourceVersion, emits MODIFIED (kubelet status updates, merge patches). */
  update(resource: ResourceName, namespace: string, name: string, mutate: (obj: KubeObject) => void): KubeObject;
  /** Removes the object, emits DELETED, and deletes the objects that name it in ownerReferences (garbage collection). */
  delete(resource: ResourceName, namespace: string, name: string): KubeObject | undefined;
  /** Every change from now on, in order. */
  subscribe(listener: (e: StoreEvent) => void): () => void;
  /** Changes after `resourceVersion`, or undefined when they were compacted away (a watch answers 410 Expired). */
  changesSince(resource: ResourceName, resourceVersion: number): StoreEvent[] | undefined;
}
