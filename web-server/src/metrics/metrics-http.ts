/**
 * HTTP side of the metrics: the `/metrics` endpoint (open like /healthz, or behind a bearer token
 * when CAISSON_METRICS_TOKEN is set) and the middleware timing every request by its matched route.
 */
import crypto from 'node:crypto';
import type express from 'express';
import { bearerTokenFrom } from '../http/request-params.js';
import type { Knex } from 'knex';
import type { Clock } from '../../../common/clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from './metrics.js';
import { readQueueDepth } from './queue-depth-store.js';

export interface MetricsEndpointDeps {
  db: Knex;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** When set, only `Authorization: Bearer <token>` is answered; anything else gets 401. */
  token?: string | undefined;
}

/** Compares in constant time (the token is a secret). */
function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** GET /metrics: refreshes the queue gauges with one query, then renders the registry. */
export function metricsHandler(deps: MetricsEndpointDeps): express.RequestHandler {
  return async (req, res) => {
    if (deps.token !== undefined) {
      const given = bearerTokenFrom(req);
      if (given === undefined || !sameSecret(given, deps.token)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="caisson-metrics"');
        res.status(401).json({
          code: 'UNAUTHENTICATED',
          message: 'The metrics need Authorization: Bearer <token>, the token configured as CAISSON_METRICS_TOKEN.',
        });
        return;
      }
    }
    try {
      deps.metrics.setQueueDepth(await readQueueDepth(deps.db), deps.clock.now());
    } catch (e) {
      // The rest of the metrics are still worth serving when the database does not answer.
      deps.log.warn({ err: e }, 'reading the queue depth for /metrics failed; serving the other metrics');
    }
    res.setHeader('content-type', deps.metrics.contentType);
    res.send(await deps.metrics.render());
  };
}

/**
 * Times each request and records it under its matched route (`baseUrl + route.path`), never the
 * raw URL, so ids in paths do not multiply series; requests no route matched count as "unmatched".
 */
export function httpMetricsMiddleware(metrics: Metrics): express.RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const routePath = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof routePath === 'string' ? `${req.baseUrl}${routePath}` : 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpDuration.observe({ method: req.method, route, status_code: String(res.statusCode) }, seconds);
    });
    next();
  };
}
