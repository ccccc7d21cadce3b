/**
 * The container's side of the container API (common/control-api.ts): one method per call, each
 * with the bearer token and a timeout. Failures are CaissonErrors that say whether to retry:
 * connection errors, timeouts, 429 and 5xx are retryable (UNAVAILABLE); 409 EXECUTION_FINAL is
 * {@link isExecutionFinal}; anything else is not retryable.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import {
  CONTAINER_API_PREFIX,
  type EventAck,
  type EventBatch,
  type ExecutionPlan,
  type HeartbeatResponse,
  type LogAck,
  type RegisterRequest,
  type RegisterResponse,
} from '../../common/control-api.js';
import { CaissonError, type ErrorCode } from '../../common/errors.js';

export interface ApiClientOptions {
  apiUrl: string;
  execId: number;
  token: string;
  /** Per-request timeout for small calls, ms. */
  timeoutMs?: number;
  /** Per-request timeout for file downloads, ms. */
  downloadTimeoutMs?: number;
  fetch?: typeof fetch;
}

/** Identifies one log: a job attempt, or the flow log when `job` is undefined. */
export interface LogKey {
  job?: string;
  attempt: number;
}

export class ContainerApiClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  private readonly downloadTimeoutMs: number;

  constructor(private readonly options: ApiClientOptions) {
    this.base = `${options.apiUrl.replace(/\/+$/, '')}${CONTAINER_API_PREFIX}/${options.execId}`;
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.downloadTimeoutMs = options.downloadTimeoutMs ?? 10 * 60_000;
  }

  register(body: RegisterRequest, signal?: AbortSignal): Promise<RegisterResponse> {
    return this.json('POST', '/register', body, signal);
  }

  getPlan(signal?: AbortSignal): Promise<ExecutionPlan> {
    return this.json('GET', '/plan', undefined, signal);
  }

  postEvents(batch: EventBatch, signal?: AbortSignal): Promise<EventAck> {
    return this.json('POST', '/events', batch, signal);
  }

  heartbeat(signal?: AbortSignal): Promise<HeartbeatResponse> {
    return this.json('POST', '/heartbeat', undefined, signal);
  }

  async putLog(key: LogKey, offset: number, bytes: Uint8Array, signal?: AbortSignal): Promise<LogAck> {
    const query = new URLSearchParams();
    if (key.job !== undefined) {
      query.set('job', key.job);
      query.set('attempt', String(key.attempt));
    }
    query.set('offset', String(offset));
    const response = await this.send('PUT', `/logs?${query.toString()}`, { body: bytes, contentType: 'application/octet-stream' }, signal);
    return (await readJson(response)) as LogAck;
  }

  /** Streams project file `filePath` (as listed in the plan) to `destination`; returns the bytes written. */
  async downloadFile(filePath: string, destination: string, signal?: AbortSignal): Promise<number> {
    const encoded = filePath.split('/').map(encodeURIComponent).join('/');
    const response = await this.send('GET', `/files/${encoded}`, undefined, signal, this.downloadTimeoutMs);
    if (response.body === null) throw new CaissonError('UNAVAILABLE', `empty response for file ${filePath}`, { retryable: true });
    let written = 0;
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => {
      written += chunk.length;
    });
    try {
      await pipeline(body, fs.createWriteStream(destination));
    } catch (e) {
      throw new CaissonError('UNAVAILABLE', `downloading ${filePath} failed: ${describe(e)}`, { retryable: true, cause: e });
    }
    return written;
  }

  private async json<T>(method: string, route: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const init = body === undefined ? undefined : { body: JSON.stringify(body), contentType: 'application/json' };
    const response = await this.send(method, route, init, signal);
    return (await readJson(response)) as T;
  }

  private async send(
    method: string,
    route: string,
    body: { body: string | Uint8Array; contentType: string } | undefined,
    signal?: AbortSignal,
    timeoutMs = this.timeoutMs,
  ): Promise<Response> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = body.contentType;
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.base}${route}`, { method, headers, body: body?.body, signal: combined });
    } catch (e) {
      throw new CaissonError('UNAVAILABLE', `${method} ${route}: ${describe(e)}`, { retryable: true, cause: e });
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    let serverCode: string | undefined;
    let message = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
      if (typeof parsed.code === 'string') serverCode = parsed.code;
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // not JSON: keep the text
    }
    throw httpError(method, route, response.status, serverCode, message);
  }
}

function httpError(method: string, route: string, status: number, serverCode: string | undefined, message: string): CaissonError {
  const retryable = status >= 500 || status === 429 || status === 408;
  let code: ErrorCode = retryable ? 'UNAVAILABLE' : 'BAD_REQUEST';
  if (status === 401) code = 'UNAUTHENTICATED';
  else if (status === 403) code = 'FORBIDDEN';
  else if (status === 404) code = 'NOT_FOUND';
  else if (status === 409) code = 'CONFLICT';
  return new CaissonError(code, `${method} ${route} answered ${status}${serverCode ? ` ${serverCode}` : ''}: ${message}`, {
    retryable,
    details: { httpStatus: status, serverCode },
  });
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new CaissonError('UNAVAILABLE', `the server answered with something other than JSON: ${text.slice(0, 200)}`, {
      retryable: true,
      cause: e,
    });
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? ` (${e.cause.message})` : '';
    return `${e.message}${cause}`;
  }
  return String(e);
}

/** Whether the server said the execution is already final (409 EXECUTION_FINAL). */
export function isExecutionFinal(e: unknown): boolean {
  return e instanceof CaissonError && e.details.httpStatus === 409 && e.details.serverCode === 'EXECUTION_FINAL';
}

export function isRetryable(e: unknown): boolean {
  return e instanceof CaissonError ? e.retryable : false;
}
