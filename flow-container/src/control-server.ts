/**
 * The container's control API (common/control-api.ts, server → container): GET /ping,
 * POST /cancel, POST /retry-failed, GET /logs. Every call needs the execution token as a bearer token (401 otherwise,
 * compared in constant time). Built on node:http; `start()` listens, `stop()` closes.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CancelResponse, PingResponse, RetryFailedResponse } from '../../common/control-api.js';
import type { Status } from '../../common/status.js';
import { readLogSlice, type LogRegistry } from './log-files.js';

export interface ControlServerOptions {
  host: string;
  port: number;
  token: string;
  execId: number;
  logs: LogRegistry;
  flowStatus: () => Status;
  /** Called for every accepted POST /cancel (the receiver makes it idempotent). */
  onCancel: () => void;
  /** Called for every POST /retry-failed: sets the failed jobs back and returns their ids. */
  onRetryFailed?: () => string[];
  /** Largest slice GET /logs returns, bytes. */
  maxLogSliceBytes?: number;
}

const DEFAULT_SLICE = 64 * 1024;
const MAX_SLICE = 1024 * 1024;

export class ControlServer {
  private server: http.Server | undefined;
  private readonly tokenDigest: Buffer;

  constructor(private readonly options: ControlServerOptions) {
    this.tokenDigest = digest(options.token);
  }

  /** Listens and resolves with the bound port. */
  async start(): Promise<number> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        sendJson(res, 500, { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) });
      });
    });
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private isAuthorized(req: http.IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    return match?.[1] !== undefined && crypto.timingSafeEqual(digest(match[1].trim()), this.tokenDigest);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://control');
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    if (!this.isAuthorized(req)) {
      sendJson(res, 401, { code: 'UNAUTHENTICATED', message: 'a valid execution token is required (Authorization: Bearer <token>)' });
      return;
    }
    if (!['/ping', '/cancel', '/retry-failed', '/logs'].includes(url.pathname)) {
      sendJson(res, 404, { code: 'NOT_FOUND', message: `no route ${url.pathname}` });
      return;
    }
    switch (route) {
      case 'GET /ping': {
        const body: PingResponse = { status: 'ok', execId: this.options.execId, flowStatus: this.options.flowStatus() };
        sendJson(res, 200, body);
        return;
      }
      case 'POST /cancel': {
        this.options.onCancel();
        const body: CancelResponse = { accepted: true };
        sendJson(res, 202, body);
        return;
      }
      case 'POST /retry-failed': {
        const retried = this.options.onRetryFailed?.() ?? [];
        const body: RetryFailedResponse = { retried, flowStatus: this.options.flowStatus() };
        sendJson(res, 200, body);
        return;
      }
      case 'GET /logs':
        await this.serveLog(url.searchParams, res);
        return;
      default:
        sendJson(res, 405, { code: 'BAD_REQUEST', message: `${req.method ?? ''} is not allowed on ${url.pathname}` });
    }
  }

  private async serveLog(query: URLSearchParams, res: http.ServerResponse): Promise<void> {
    const problems: string[] = [];
    const integer = (name: string, fallback: number): number => {
      const raw = query.get(name);
      if (raw === null || raw === '') return fallback;
      if (!/^\d+$/.test(raw)) {
        problems.push(`${name} must be a whole number of bytes, got "${raw}"`);
        return fallback;
      }
      return Number(raw);
    };
    const job = query.get('job') ?? undefined;
    const attempt = integer('attempt', 0);
    const offset = integer('offset', 0);
    const max = this.options.maxLogSliceBytes ?? MAX_SLICE;
    const length = Math.min(integer('length', DEFAULT_SLICE), max);
    if (problems.length > 0) {
      sendJson(res, 400, { code: 'BAD_REQUEST', message: problems.join('; ') });
      return;
    }
    const file = this.options.logs.find(job === undefined || job === '' ? { attempt: 0 } : { job, attempt });
    if (file === undefined) {
      const what = job === undefined || job === '' ? 'the flow log' : `job "${job}" attempt ${attempt}`;
      sendJson(res, 404, { code: 'NOT_FOUND', message: `no log for ${what}` });
      return;
    }
    sendJson(res, 200, await readLogSlice(file.path, offset, length));
  }
}

function digest(text: string): Buffer {
  return crypto.createHash('sha256').update(text, 'utf8').digest();
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
