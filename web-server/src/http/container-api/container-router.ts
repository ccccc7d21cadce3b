/**
 * The container callback API (DESIGN §4; contract in common/control-api.ts). Every call carries
 * the execution's token; unknown executions and wrong tokens look the same (401). Once the
 * execution is final the token is refused (409 EXECUTION_FINAL), except for log uploads, which a
 * container may still need to finish for a while.
 */
import express from 'express';
import type { Knex } from 'knex';
import type { Clock } from '../../../../common/clock.js';
import type { ContainerEvent, HeartbeatResponse, LogAck, RegisterResponse } from '../../../../common/control-api.js';
import { CaissonError } from '../../../../common/errors.js';
import { isFlowFinal } from '../../../../common/status.js';
import { applyContainerEvents } from '../../executions/event-applier.js';
import { lastEventSeq } from '../../executions/events-store.js';
import { ExecTokens } from '../../executions/exec-token.js';
import { buildExecutionPlan, type PlanSettings } from '../../executions/execution-plan.js';
import { findExecution, recordHeartbeat, updateExecutionFields, type ExecutionRow } from '../../executions/executions-store.js';
import { ingestLog } from '../../executions/logs.js';
import { readProjectFile } from '../../projects/projects-store.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics/metrics.js';

export interface ContainerApiDeps {
  db: Knex;
  clock: Clock;
  log: Logger;
  plan: PlanSettings;
  /** How long after the end a container may still upload logs. */
  logGraceMs: number;
  metrics?: Metrics;
  /** Wakes the local queue processor (a flow retry was just submitted). */
  nudge?: () => void;
}

const executions = new WeakMap<express.Request, ExecutionRow>();

function execOf(req: express.Request): ExecutionRow {
  return executions.get(req)!;
}

export function containerRouter(deps: ContainerApiDeps): express.Router {
  const r = express.Router({ mergeParams: true });
  const { db, clock } = deps;

  r.use('/:execId', async (req, _res, next) => {
    const execId = Number(req.params.execId);
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    const exec = Number.isInteger(execId) && token ? await findExecution(db, execId) : undefined;
    if (!exec || !ExecTokens.matches(token, exec.tokenHash)) {
      throw new CaissonError('UNAUTHENTICATED', 'Unknown execution or invalid execution token.');
    }
    const isLogUpload = req.method === 'PUT' && req.path === '/logs';
    if (isFlowFinal(exec.status) && !(isLogUpload && clock.now() - (exec.endTime ?? 0) <= deps.logGraceMs)) {
      throw new CaissonError('EXECUTION_FINAL', `Execution ${execId} is already final (${exec.status}).`, {
        details: { status: exec.status },
      });
    }
    executions.set(req, exec);
    next();
  });

  r.get('/:execId/plan', async (req, res) => {
    res.json(await buildExecutionPlan(db, execOf(req), deps.plan));
  });

  r.get('/:execId/files/*path', async (req, res) => {
    const exec = execOf(req);
    const parts = (req.params as unknown as { path: string[] | string }).path;
    const rel = Array.isArray(parts) ? parts.join('/') : parts;
    const content = await readProjectFile(db, exec.projectId, exec.projectVersion, rel);
    if (!content) throw new CaissonError('NOT_FOUND', `Project version ${exec.projectVersion} has no file ${rel}.`);
    res.type('application/octet-stream').send(content);
  });

  r.post('/:execId/register', express.json(), async (req, res) => {
    const exec = execOf(req);
    const body = (req.body ?? {}) as { controlUrl?: unknown; pid?: unknown };
    if (typeof body.controlUrl !== 'string' || !/^https?:\/\//.test(body.controlUrl)) {
      throw new CaissonError('BAD_REQUEST', 'register needs {"controlUrl": "http://host:port", "pid": <number>}.');
    }
    const now = clock.now();
    await updateExecutionFields(db, exec.execId, {
      runtime_info: JSON.stringify({
        ...(exec.runtimeInfo ?? {}),
        controlUrl: body.controlUrl,
        containerPid: typeof body.pid === 'number' ? body.pid : null,
      }),
      heartbeat_at: now,
    });
    const answer: RegisterResponse = { ok: true, nextSeq: (await lastEventSeq(db, exec.execId, 'container')) + 1 };
    res.json(answer);
  });

  r.post('/:execId/events', express.json({ limit: '8mb' }), async (req, res) => {
    const exec = execOf(req);
    if (exec.status === 'DISPATCHING') {
      // The dispatcher has not recorded the launch yet: events must wait so they are never lost.
      res.setHeader('Retry-After', '1');
      throw new CaissonError('UNAVAILABLE', `Execution ${exec.execId} is still being dispatched; retry shortly.`, { retryable: true });
    }
    const body = (req.body ?? {}) as { events?: unknown };
    if (!Array.isArray(body.events))
      throw new CaissonError('BAD_REQUEST', 'events needs {"events": [{"seq", "type", "time", "payload"}, …]}.');
    for (const e of body.events as Record<string, unknown>[]) {
      if (
        !Number.isInteger(e.seq) ||
        (e.seq as number) < 1 ||
        typeof e.type !== 'string' ||
        typeof e.time !== 'number' ||
        typeof e.payload !== 'object' ||
        e.payload === null
      ) {
        throw new CaissonError(
          'BAD_REQUEST',
          `Each event needs a positive integer "seq", a "type", a numeric "time" and an object "payload"; got ${JSON.stringify(e).slice(0, 200)}.`,
        );
      }
    }
    deps.metrics?.eventBatches.inc();
    res.json(await applyContainerEvents(db, exec.execId, body.events as ContainerEvent[], clock.now(), deps.metrics, deps.nudge));
  });

  r.post('/:execId/heartbeat', async (req, res) => {
    const exec = execOf(req);
    await recordHeartbeat(db, exec.execId, clock.now());
    const answer: HeartbeatResponse = {
      final: false,
      status: exec.status,
      cancelRequested: exec.cancelRequested || exec.status === 'KILLING',
    };
    res.json(answer);
  });

  r.put('/:execId/logs', express.raw({ type: () => true, limit: '16mb' }), async (req, res) => {
    const exec = execOf(req);
    const job = typeof req.query.job === 'string' ? req.query.job : '';
    const attempt = Number(req.query.attempt ?? 0);
    const offset = Number(req.query.offset);
    if (!Number.isInteger(attempt) || attempt < 0 || !Number.isInteger(offset) || offset < 0) {
      throw new CaissonError(
        'BAD_REQUEST',
        'logs needs ?offset=<bytes> (and optional job=<id>&attempt=<n>) with the raw bytes as the body.',
      );
    }
    const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    deps.metrics?.logChunks.inc();
    deps.metrics?.logBytes.inc(bytes.length);
    const storedUntil = await ingestLog(db, { execId: exec.execId, name: job, attempt }, offset, bytes, clock.now());
    const answer: LogAck = { storedUntil };
    res.json(answer);
  });

  return r;
}
