/**
 * The Kubernetes API as the runtime uses it: the real @kubernetes/client-node clients behind one
 * rate limiter (client QPS and burst), with transient failures (429 honouring Retry-After, 5xx,
 * connection errors) retried with back-off and every other error classified once, here.
 */
import type * as k8s from '@kubernetes/client-node';
import { clientLib } from './client-lib.js';
import type { Logger } from '../../log.js';
import { TokenBucket } from './token-bucket.js';

export type KubeVerb = 'create' | 'get' | 'list' | 'patch' | 'delete' | 'watch' | 'review';

export interface KubeApiOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  qps: number;
  burst: number;
  log: Logger;
  /** Attempts of one call before a transient failure is given up (the caller may retry later). */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  onCall?: (verb: KubeVerb, resource: string, code: number) => void;
}

/** What went wrong with one API call, read from the client's exception. */
export interface KubeFailure {
  /** HTTP status; 0 for a connection error. */
  code: number;
  /** The Status reason (AlreadyExists, NotFound, Invalid, …) when the API sent one. */
  reason: string;
  message: string;
  transient: boolean;
  retryAfterMs?: number;
}

export class KubeApiError extends Error {
  constructor(
    readonly failure: KubeFailure,
    options?: { cause?: unknown },
  ) {
    super(failure.message, options);
    this.name = 'KubeApiError';
  }
  get code(): number {
    return this.failure.code;
  }
  get reason(): string {
    return this.failure.reason;
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

/** Classifies an error thrown by a client-node call. */
export function kubeFailureOf(e: unknown): KubeFailure {
  if (e instanceof KubeApiError) return e.failure;
  if (e instanceof clientLib().ApiException) {
    const code = e.code;
    let reason = '';
    let message = '';
    const body: unknown = e.body;
    try {
      const status = (typeof body === 'string' ? JSON.parse(body) : body) as { reason?: string; message?: string } | undefined;
      reason = status?.reason ?? '';
      message = status?.message ?? '';
    } catch {
      message = typeof body === 'string' ? body.slice(0, 300) : '';
    }
    const headers = (e.headers ?? {}) as Record<string, string>;
    const retryAfter = Number(headers['retry-after'] ?? headers['Retry-After']);
    return {
      code,
      reason,
      message: message || `the Kubernetes API answered HTTP ${code}`,
      transient: code === 429 || code >= 500,
      ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
    };
  }
  const err = e as { code?: unknown; cause?: { code?: unknown }; message?: unknown; name?: string };
  const sysCode = typeof err.code === 'string' ? err.code : typeof err.cause?.code === 'string' ? err.cause.code : '';
  const text = typeof err.message === 'string' ? err.message : String(e);
  const connection = CONNECTION_CODES.has(sysCode) || err.name === 'FetchError' || /socket hang up|network|fetch failed/i.test(text);
  return { code: 0, reason: sysCode || 'ConnectionError', message: `cannot reach the Kubernetes API: ${text}`, transient: connection };
}

export class KubeApi {
  readonly core: k8s.CoreV1Api;
  readonly custom: k8s.CustomObjectsApi;
  readonly authz: k8s.AuthorizationV1Api;
  readonly namespace: string;
  readonly kubeConfig: k8s.KubeConfig;
  private readonly limiter: TokenBucket;

  constructor(private readonly o: KubeApiOptions) {
    this.kubeConfig = o.kubeConfig;
    this.namespace = o.namespace;
    const lib = clientLib();
    this.core = o.kubeConfig.makeApiClient(lib.CoreV1Api);
    this.custom = o.kubeConfig.makeApiClient(lib.CustomObjectsApi);
    this.authz = o.kubeConfig.makeApiClient(lib.AuthorizationV1Api);
    this.limiter = new TokenBucket(o.qps, o.burst);
  }

  /** Calls waiting for the limiter. */
  get waiting(): number {
    return this.limiter.waiting;
  }

  /**
   * Runs one API call through the limiter, retrying transient failures; throws KubeApiError.
   * `retryTransient: false` gives a transient failure back at once (the caller has its own loop).
   */
  async call<T>(verb: KubeVerb, resource: string, fn: () => Promise<T>, options: { retryTransient?: boolean } = {}): Promise<T> {
    const attempts = options.retryTransient === false ? 1 : (this.o.attempts ?? 5);
    const base = this.o.baseDelayMs ?? 200;
    const max = this.o.maxDelayMs ?? 5_000;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.limiter.take();
        const result = await fn();
        this.o.onCall?.(verb, resource, 200);
        return result;
      } catch (e) {
        const failure = kubeFailureOf(e);
        this.o.onCall?.(verb, resource, failure.code);
        if (!failure.transient || attempt >= attempts) throw new KubeApiError(failure, { cause: e });
        const backoff = Math.min(max, base * 2 ** (attempt - 1));
        const delay = Math.max(failure.retryAfterMs ?? 0, backoff * (0.5 + Math.random() / 2));
        this.o.log.debug(
          { verb, resource, code: failure.code, attempt, delayMs: Math.round(delay) },
          'Kubernetes API call failed; retrying',
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Counts a call made outside `call` (the watch streams) in the API-call metric. */
  recordCall(verb: KubeVerb, resource: string, code: number): void {
    this.o.onCall?.(verb, resource, code);
  }

  stop(): Promise<void> {
    this.limiter.stop();
    return Promise.resolve();
  }
}

/** Loads the client configuration: an explicit file, `KUBECONFIG` / `~/.kube/config`, or in-cluster. */
export function loadKubeConfig(options: { file?: string; inClusterPrefix?: string } = {}): k8s.KubeConfig {
  const kc = new (clientLib().KubeConfig)();
  if (options.file) kc.loadFromFile(options.file);
  else if (options.inClusterPrefix !== undefined) kc.loadFromCluster(options.inClusterPrefix);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster is configured: set KUBECONFIG, provide ~/.kube/config, or run inside a cluster');
  }
  return kc;
}

/** Merge-patch header options for the client's patch calls. */
export function mergePatch(): ReturnType<typeof k8s.setHeaderOptions> {
  const lib = clientLib();
  return lib.setHeaderOptions('Content-Type', lib.PatchStrategy.MergePatch);
}
