/**
 * A fake web server for flow-container tests: the container API of common/control-api.ts over
 * real HTTP on 127.0.0.1:0. It checks the bearer token, serves a plan and project files, stores
 * events once each in sequence order (like the real server) and log bytes by offset, and can be
 * told to answer 503 for a while, to say the execution is final, or to ask for a cancel.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CONTAINER_API_PREFIX,
  type ContainerEvent,
  type EventAck,
  type ExecutionPlan,
  type HeartbeatResponse,
  type LogAck,
  type RegisterRequest,
} from '../../../common/control-api.js';
import { isFlowFinal, type Status } from '../../../common/status.js';

export interface FakeContainerApiOptions {
  token: string;
  plan: ExecutionPlan;
  /** Project files by path (as listed in plan.files). */
  files?: Map<string, Buffer>;
  /** RegisterResponse.nextSeq. */
  nextSeq?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
}

export class FakeContainerApi {
  url = '';
  /** Stored events, contiguous in sequence order. */
  readonly events: ContainerEvent[] = [];
  /** Events received again after they were stored. */
  duplicateEvents = 0;
  eventPosts = 0;
  heartbeats = 0;
  unauthorized = 0;
  registered: RegisterRequest | undefined;
  /** Stored log bytes, by `logKey(job, attempt)`. */
  readonly logs = new Map<string, Buffer>();
  readonly requests: RecordedRequest[] = [];
  /** Answer 503 to this many more event posts. */
  failEventPosts = 0;
  /** Answer 503 to this many more log uploads. */
  failLogPuts = 0;
  /** When set, the execution is final: events and heartbeats answer 409 EXECUTION_FINAL. */
  finalStatus: Status | undefined;
  cancelRequested = false;
  private readonly server: http.Server;
  private readonly nextSeq: number;

  constructor(private readonly options: FakeContainerApiOptions) {
    this.nextSeq = options.nextSeq ?? 1;
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          this.handle(req, res, Buffer.concat(chunks));
        } catch (e) {
          send(res, 500, { code: 'INTERNAL', message: String(e) });
        }
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The log bytes stored for a job attempt, or the flow log without `job`. */
  log(job?: string, attempt = 0): Buffer {
    return this.logs.get(logKey(job, attempt)) ?? Buffer.alloc(0);
  }

  eventsOfType(type: ContainerEvent['type']): ContainerEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** Payloads of job events as `[type, jobId, status]`, in sequence order. */
  jobTrail(): [string, string, string][] {
    return this.events
      .filter((e) => e.type.startsWith('JOB_'))
      .map((e) => {
        const p = e.payload as { jobId: string; status: string };
        return [e.type, p.jobId, p.status];
      });
  }

  flowFinished(): (ContainerEvent & { payload: { status: Status; reason?: string } }) | undefined {
    return this.eventsOfType('FLOW_FINISHED')[0] as (ContainerEvent & { payload: { status: Status; reason?: string } }) | undefined;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const prefix = `${CONTAINER_API_PREFIX}/${this.options.plan.execId}`;
    const reply = (status: number, payload: unknown): void => {
      this.requests.push({ method: req.method ?? '', path: url.pathname, status });
      send(res, status, payload);
    };
    if (req.headers.authorization !== `Bearer ${this.options.token}`) {
      this.unauthorized += 1;
      reply(401, { code: 'UNAUTHENTICATED', message: 'Unknown execution or invalid execution token.' });
      return;
    }
    if (!url.pathname.startsWith(`${prefix}/`)) {
      reply(404, { code: 'NOT_FOUND', message: url.pathname });
      return;
    }
    const route = url.pathname.slice(prefix.length);
    const final = this.finalStatus !== undefined;
    if (final && route !== '/logs') {
      reply(409, { code: 'EXECUTION_FINAL', message: `Execution is already final (${this.finalStatus}).` });
      return;
    }
    if (req.method === 'POST' && route === '/register') {
      this.registered = JSON.parse(body.toString('utf8')) as RegisterRequest;
      reply(200, { ok: true, nextSeq: this.nextSeq });
    } else if (req.method === 'GET' && route === '/plan') {
      reply(200, this.options.plan);
    } else if (req.method === 'GET' && route.startsWith('/files/')) {
      const path = route
        .slice('/files/'.length)
        .split('/')
        .map((s) => decodeURIComponent(s))
        .join('/');
      const content = this.options.files?.get(path);
      if (content === undefined) {
        reply(404, { code: 'NOT_FOUND', message: `no file ${path}` });
        return;
      }
      this.requests.push({ method: 'GET', path: url.pathname, status: 200 });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': content.length });
      res.end(content);
    } else if (req.method === 'POST' && route === '/events') {
      this.eventPosts += 1;
      if (this.failEventPosts > 0) {
        this.failEventPosts -= 1;
        reply(503, { code: 'UNAVAILABLE', message: 'the fake server is restarting' });
        return;
      }
      const { events } = JSON.parse(body.toString('utf8')) as { events: ContainerEvent[] };
      let acked = this.nextSeq - 1 + this.events.length;
      for (const e of [...events].sort((a, b) => a.seq - b.seq)) {
        if (e.seq <= acked) {
          this.duplicateEvents += 1;
          continue;
        }
        if (e.seq !== acked + 1) break;
        this.events.push(e);
        acked = e.seq;
      }
      const finished = this.flowFinished();
      const status = finished?.payload.status ?? 'RUNNING';
      const answer: EventAck = { ackedSeq: acked, final: finished !== undefined && isFlowFinal(status), status };
      reply(200, answer);
    } else if (req.method === 'POST' && route === '/heartbeat') {
      this.heartbeats += 1;
      const answer: HeartbeatResponse = { final: false, status: 'RUNNING', cancelRequested: this.cancelRequested };
      reply(200, answer);
    } else if (req.method === 'PUT' && route === '/logs') {
      if (this.failLogPuts > 0) {
        this.failLogPuts -= 1;
        reply(503, { code: 'UNAVAILABLE', message: 'the fake server is restarting' });
        return;
      }
      const job = url.searchParams.get('job') ?? undefined;
      const attempt = Number(url.searchParams.get('attempt') ?? 0);
      const offset = Number(url.searchParams.get('offset'));
      const key = logKey(job, attempt);
      const stored = this.logs.get(key) ?? Buffer.alloc(0);
      if (offset <= stored.length && offset + body.length > stored.length) {
        const overlap = body.subarray(0, stored.length - offset);
        if (!overlap.equals(stored.subarray(offset))) throw new Error(`log ${key}: resent bytes differ from the stored ones`);
        this.logs.set(key, Buffer.concat([stored, body.subarray(stored.length - offset)]));
      }
      const answer: LogAck = { storedUntil: (this.logs.get(key) ?? stored).length };
      reply(200, answer);
    } else {
      reply(404, { code: 'NOT_FOUND', message: `${req.method ?? ''} ${route}` });
    }
  }
}

export function logKey(job: string | undefined, attempt: number): string {
  return job === undefined ? 'flow' : `${job}#${attempt}`;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
