/**
 * A list-then-watch loop over Caisson's pods: it lists once, watches from the list's
 * resourceVersion, resumes from the last resourceVersion seen (events and bookmarks) when a watch
 * ends, relists on 410 Expired, and backs off on any other error. Consumers get every pod as it
 * is now (`upsert`) and every pod that went away (`delete`), including those missed while it
 * could not watch (a relist compares with what it knew).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../../log.js';
import { clientLib } from './client-lib.js';
import { kubeFailureOf, type KubeApi } from './kube-api.js';

export interface PodWatchOptions {
  api: KubeApi;
  labelSelector: string;
  log: Logger;
  onUpsert: (pod: V1Pod) => void;
  onDelete: (pod: V1Pod) => void;
  /** Seconds the API server keeps one watch open before we resume it. */
  watchTimeoutSeconds?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

class ExpiredError extends Error {}

export class PodWatch {
  private readonly known = new Map<string, V1Pod>();
  private resourceVersion: string | undefined;
  private stopped = true;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Lists made (the first one and every relist); tests and logs read it. */
  lists = 0;

  constructor(private readonly o: PodWatchOptions) {}

  /** The pods as last seen. */
  pods(): V1Pod[] {
    return [...this.known.values()];
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    this.known.clear();
    this.resourceVersion = undefined;
  }

  private async run(): Promise<void> {
    const min = this.o.minBackoffMs ?? 500;
    const max = this.o.maxBackoffMs ?? 30_000;
    let backoff = min;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        await this.watchOnce();
        backoff = min;
      } catch (e) {
        if (this.stopped) break;
        if (e instanceof ExpiredError) {
          this.o.log.info('The pod watch expired (410); listing the pods again.');
          this.resourceVersion = undefined;
          continue;
        }
        this.o.log.warn({ err: e, retryInMs: backoff }, 'The pod watch failed; it resumes after a back-off.');
        await this.sleep(backoff);
        backoff = Math.min(max, backoff * 2);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async relist(): Promise<void> {
    const { api } = this.o;
    const list = await api.call('list', 'pods', () =>
      api.core.listNamespacedPod({ namespace: api.namespace, labelSelector: this.o.labelSelector }),
    );
    this.lists++;
    const seen = new Set<string>();
    for (const pod of list.items) {
      const name = pod.metadata?.name;
      if (!name) continue;
      seen.add(name);
      this.known.set(name, pod);
      this.o.onUpsert(pod);
    }
    for (const [name, pod] of [...this.known]) {
      if (seen.has(name)) continue;
      this.known.delete(name);
      this.o.onDelete(pod);
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? '0';
  }

  /** One watch stream, until the server ends it (resolve), it expires (ExpiredError) or it fails. */
  private watchOnce(): Promise<void> {
    const { api } = this.o;
    const path = `/api/v1/namespaces/${encodeURIComponent(api.namespace)}/pods`;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      // The API-call metric counts each watch request once, by the status it was answered with.
      let recorded = false;
      const record = (code: number) => {
        if (recorded) return;
        recorded = true;
        api.recordCall('watch', 'pods', code);
      };
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        if (err === undefined || this.stopped) resolve();
        else reject(err instanceof Error ? err : new Error(String(err)));
      };
      new (clientLib().Watch)(api.kubeConfig)
        .watch(
          path,
          {
            labelSelector: this.o.labelSelector,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: this.o.watchTimeoutSeconds ?? 300,
          },
          (type: string, obj: unknown) => {
            if (type === 'ERROR') {
              const status = obj as { code?: number; reason?: string; message?: string };
              this.abort?.abort();
              finish(
                status.code === 410
                  ? new ExpiredError(status.message ?? 'Expired')
                  : new Error(`watch error ${status.code}: ${status.message}`),
              );
              return;
            }
            const pod = obj as V1Pod;
            const rv = pod.metadata?.resourceVersion;
            if (rv) this.resourceVersion = rv;
            if (type === 'BOOKMARK') return;
            const name = pod.metadata?.name;
            if (!name) return;
            if (type === 'DELETED') {
              this.known.delete(name);
              this.o.onDelete(pod);
            } else {
              this.known.set(name, pod);
              this.o.onUpsert(pod);
            }
          },
          (err: unknown) => {
            // A refused watch request ends here before the client resolves: its status, or 0 when unreachable.
            const e = err as { statusCode?: number; name?: string } | null | undefined;
            record(!e || e.name === 'AbortError' ? 200 : (e.statusCode ?? 0));
            if (err && (err as { name?: string }).name === 'AbortError') return finish();
            if (err && (err as { statusCode?: number }).statusCode === 410) return finish(new ExpiredError('Expired'));
            finish(err ?? undefined);
          },
        )
        .then(
          (controller) => {
            record(200);
            this.abort = controller;
            if (this.stopped) controller.abort();
          },
          (err: unknown) => {
            const f = kubeFailureOf(err);
            record(f.code);
            finish(f.code === 410 ? new ExpiredError(f.message) : err);
          },
        );
    });
  }
}
