/**
 * The web server's Prometheus metrics (issue 7; docs/metrics.md lists every one). One Metrics
 * object per server instance owns its own registry — never prom-client's global default — so
 * several servers in one process (tests, benchmarks) never collide. Components receive it as an
 * optional dependency and call `metrics?.…`: without one they record nothing.
 *
 * Queue gauges are computed at scrape time by one indexed query (refreshQueueGauges); stage
 * histograms are observed where the transitions happen; the limiter's waiting count is read from
 * a source the queue processor registers.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueDepthRow } from './queue-depth-store.js';

/** The stages of an execution's life (DESIGN §3), as the `stage` label of caisson_execution_stage_duration_seconds. */
export type ExecutionStage = 'ready_to_dispatching' | 'dispatching_to_preparing' | 'preparing_to_running' | 'running_to_final';

/** Why a launch attempt failed, as the `reason` label of caisson_launch_failures_total. */
export type LaunchFailureReason = 'transient' | 'permanent' | 'retries_exhausted' | 'launch_plan';

export interface MetricsOptions {
  /** Also export Node's process metrics (RSS, event-loop lag, GC); default true. */
  processMetrics?: boolean;
}

/** Stage buckets in seconds: from a 5 ms claim to a day-long run. */
const STAGE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400];
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

export class Metrics {
  readonly registry = new Registry();
  readonly queueDepth: Gauge<'priority'>;
  readonly oldestReadyAge: Gauge<'priority'>;
  readonly stageDuration: Histogram<'stage'>;
  readonly launches: Counter<'result'>;
  readonly launchFailures: Counter<'reason'>;
  readonly limiterWaiting: Gauge;
  readonly eventsApplied: Counter;
  readonly eventBatches: Counter;
  readonly logChunks: Counter;
  readonly logBytes: Counter;
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly kubeApiCalls: Counter<'verb' | 'resource' | 'code'>;
  readonly kubeLimiterWaiting: Gauge;
  private kubeLimiterSource: (() => number) | undefined;
  private limiterSource: (() => number) | undefined;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.queueDepth = new Gauge({
      name: 'caisson_queue_depth',
      help: 'READY executions per priority, counted at scrape time.',
      labelNames: ['priority'],
      registers,
    });
    this.oldestReadyAge = new Gauge({
      name: 'caisson_queue_oldest_ready_age_seconds',
      help: 'Age of the oldest READY execution per priority (now minus its submit time), at scrape time.',
      labelNames: ['priority'],
      registers,
    });
    this.stageDuration = new Histogram({
      name: 'caisson_execution_stage_duration_seconds',
      help: 'Time an execution spent in one stage: ready_to_dispatching, dispatching_to_preparing, preparing_to_running, running_to_final.',
      labelNames: ['stage'],
      buckets: STAGE_BUCKETS,
      registers,
    });
    this.launches = new Counter({
      name: 'caisson_launches_total',
      help: 'Executions the runtime launched (result=launched) or whose existing container was adopted (result=adopted).',
      labelNames: ['result'],
      registers,
    });
    this.launchFailures = new Counter({
      name: 'caisson_launch_failures_total',
      help: 'Failed launch attempts by reason: transient (retried), permanent, retries_exhausted, launch_plan.',
      labelNames: ['reason'],
      registers,
    });
    const readLimiterWaiting = (): number => this.limiterSource?.() ?? 0;
    this.limiterWaiting = new Gauge({
      name: 'caisson_launch_limiter_waiting',
      help: 'Claimed executions waiting in the launch limiter for their turn.',
      registers,
      collect() {
        this.set(readLimiterWaiting());
      },
    });
    this.eventsApplied = new Counter({
      name: 'caisson_container_events_applied_total',
      help: 'Container events stored and applied (duplicates excluded).',
      registers,
    });
    this.eventBatches = new Counter({
      name: 'caisson_container_event_batches_total',
      help: 'Event batches received from flow containers.',
      registers,
    });
    this.logChunks = new Counter({
      name: 'caisson_log_ingest_requests_total',
      help: 'Log uploads received from flow containers.',
      registers,
    });
    this.logBytes = new Counter({
      name: 'caisson_log_ingest_bytes_total',
      help: 'Log bytes received from flow containers (before deduplication by offset).',
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'caisson_http_request_duration_seconds',
      help: 'HTTP request durations by method, matched route and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.kubeApiCalls = new Counter({
      name: 'caisson_kubernetes_api_calls_total',
      help: 'Kubernetes API calls by verb, resource and HTTP status (0: the API could not be reached).',
      labelNames: ['verb', 'resource', 'code'],
      registers,
    });
    const readKubeWaiting = (): number => this.kubeLimiterSource?.() ?? 0;
    this.kubeLimiterWaiting = new Gauge({
      name: 'caisson_kubernetes_api_limiter_waiting',
      help: "Kubernetes API calls waiting for the client's rate limiter (QPS and burst).",
      registers,
      collect() {
        this.set(readKubeWaiting());
      },
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'caisson_' });
  }

  /** The Kubernetes runtime registers how many API calls wait in its rate limiter. */
  setKubeLimiterWaitingSource(source: () => number): void {
    this.kubeLimiterSource = source;
  }

  /** The queue processor registers how many launches wait in its limiter. */
  setLimiterWaitingSource(source: () => number): void {
    this.limiterSource = source;
  }

  /** Records one stage, from the time it began to the time it ended (epoch milliseconds). */
  observeStage(stage: ExecutionStage, fromMs: number, toMs: number): void {
    this.stageDuration.observe({ stage }, Math.max(0, toMs - fromMs) / 1000);
  }

  /** Replaces the queue gauges with one scrape's figures (priorities with nothing READY disappear). */
  setQueueDepth(rows: readonly QueueDepthRow[], now: number): void {
    this.queueDepth.reset();
    this.oldestReadyAge.reset();
    for (const r of rows) {
      const priority = String(r.priority);
      this.queueDepth.set({ priority }, r.count);
      this.oldestReadyAge.set({ priority }, Math.max(0, now - r.oldestSubmitTime) / 1000);
    }
  }

  /** The exposition text of every metric. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
