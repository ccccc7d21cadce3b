/**
 * Composes one web-server process: database, migrations, services, the runtime, the queue
 * processor, the HTTP listener and the background sweeps. start() and stop() are idempotent;
 * stop() stops claiming first and closes in reverse order of start. Running flow containers are
 * left running: a restarted server re-attaches to them.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import { systemClock, type Clock } from '../../common/clock.js';
import { openDatabase } from '../../common/db/knex.js';
import { migrateToLatest } from '../../migrations/index.js';
import { buildApp } from './app.js';
import { AuthService } from './auth/auth-service.js';
import { ensureAdminUser } from './auth/bootstrap-admin.js';
import type { ServerConfig } from './config.js';
import { effectivePublicUrl } from './config.js';
import { ContainerClient } from './executions/container-client.js';
import { ExecTokens, loadSecretKey } from './executions/exec-token.js';
import { ExecutionControl } from './executions/execution-control.js';
import { ExecutionService } from './executions/execution-service.js';
import { buildLaunchPlan } from './executions/launch-plan.js';
import type { Logger } from './log.js';
import { ProjectService } from './projects/project-service.js';
import { Metrics } from './metrics/metrics.js';
import { Dispatcher } from './queue/dispatcher.js';
import { QueueProcessor } from './queue/queue-processor.js';
import { ScheduleService } from './scheduler/schedule-service.js';
import { Scheduler } from './scheduler/scheduler.js';
import { defaultFlowContainerCommand, ProcessRuntime, type ContainerCommand } from './runtime/process/process-runtime.js';
import type { ContainerRuntime } from './runtime/container-runtime.js';
import { DeferredRuntime } from './runtime/deferred-runtime.js';
import { createKubernetesRuntime } from './runtime/kubernetes/create.js';
import { loadClientLib } from './runtime/kubernetes/client-lib.js';
import { resourceCaps } from './runtime/kubernetes/settings.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { ImageService } from '../../image-mgmt/src/image-service.js';
import { RampDownMonitor } from '../../image-mgmt/src/ramp-down-monitor.js';
import { registerBuiltInImages } from '../../image-mgmt/src/bootstrap.js';
import { shippedJobtypes } from '../../image-mgmt/src/jobtype-payloads.js';
import type { ResolutionSettings } from '../../image-mgmt/src/version-resolver.js';

export interface ServerOptions {
  config: ServerConfig;
  log: Logger;
  clock?: Clock;
  /** Tell the operator something once, on standard output (the generated admin password). */
  announce?: (line: string) => void;
  /** How flow containers are started in solo mode (tests run the sources through tsx). */
  flowContainerCommand?: ContainerCommand;
  /** Where flows run instead of the configured runtime (benchmarks launch nothing). */
  runtime?: ContainerRuntime;
  /** Kubernetes runtime: the client configuration instead of KUBECONFIG / in-cluster (tests). */
  kubeConfig?: KubeConfig;
}

const SWEEP_INTERVAL_MS = 10 * 60_000;
/** How long after its end a container may still upload logs. */
const LOG_GRACE_MS = 5 * 60_000;

export function repositoryRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json) above the server module');
    dir = up;
  }
  return dir;
}

export class CaissonServer {
  readonly db: Knex;
  readonly auth: AuthService;
  readonly projects: ProjectService;
  readonly runtime: ContainerRuntime;
  readonly control: ExecutionControl;
  readonly executions: ExecutionService;
  readonly queue: QueueProcessor;
  readonly scheduler: Scheduler;
  readonly schedules: ScheduleService;
  readonly images: ImageService;
  readonly rampDown: RampDownMonitor;
  readonly imageSettings: ResolutionSettings;
  /** This server's own Prometheus registry (never the global default one), served at /metrics. */
  readonly metrics = new Metrics();
  private httpServer: http.Server | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly options: ServerOptions) {
    const { config, log } = options;
    const clock = options.clock ?? systemClock;
    fs.mkdirSync(config.dataDir, { recursive: true });
    this.db = openDatabase(config.databaseUrl);
    this.images = new ImageService({ db: this.db, clock });
    this.rampDown = new RampDownMonitor({
      db: this.db,
      clock,
      intervalMs: config.rampDownCheckInterval,
      onRampDown: (e) =>
        log.warn(
          { event: 'image.ramp-down', imageType: e.imageType, version: e.version, activeVersion: e.activeVersion, share: e.percentage },
          `Ramped down image type ${e.imageType} ${e.version} to UNSTABLE at 0% (its ${e.percentage}% returns to ${e.activeVersion}): ${e.reason}.`,
        ),
      onError: (err) => log.warn({ err }, 'the automatic ramp-down check failed; will retry'),
    });
    this.imageSettings = { baseImageType: config.baseImageType, alwaysIncludedImageTypes: config.alwaysIncludedImageTypes };
    const tokens = new ExecTokens(loadSecretKey(config.secretKey, config.dataDir));
    const claimer = config.replicaId || `${os.hostname()}:${process.pid}`;
    this.auth = new AuthService({
      db: this.db,
      clock,
      sessionTtlMs: config.sessionTtl,
      passwordHashCost: config.passwordHashCost,
      loginMaxFailures: config.loginMaxFailures,
      loginFailureWindowMs: config.loginFailureWindow,
    });
    this.projects = new ProjectService({
      db: this.db,
      clock,
      archiveLimits: {
        maxArchiveBytes: config.uploadMaxBytes,
        maxEntries: config.uploadMaxEntries,
        maxExpandedBytes: config.uploadMaxExpandedBytes,
        maxCompressionRatio: config.uploadMaxCompressionRatio,
      },
    });
    this.runtime =
      options.runtime ??
      (config.runtime === 'kubernetes'
        ? new DeferredRuntime('kubernetes', async () => {
            await loadClientLib();
            return createKubernetesRuntime({
              config,
              db: this.db,
              clock,
              log,
              holder: claimer,
              kubeConfig: options.kubeConfig,
              metrics: this.metrics,
            });
          })
        : new ProcessRuntime({
            dataDir: config.dataDir,
            log,
            clock,
            command: options.flowContainerCommand ?? defaultFlowContainerCommand(repositoryRoot()),
            killGraceMs: config.killGrace,
            retentionMs: config.executionDirRetention,
            imageDirs:
              config.imageDirs.length > 0
                ? config.imageDirs
                : [path.join(config.dataDir, 'images'), path.join(repositoryRoot(), 'docker', 'jobtypes')],
          }));
    const client = new ContainerClient();
    this.control = new ExecutionControl({
      db: this.db,
      clock,
      log,
      runtime: this.runtime,
      tokens,
      client,
      killGraceMs: config.killGrace,
      heartbeatTimeoutMs: config.heartbeatTimeout,
      // A pending pod is the pod watch's to judge (pull grace, pending timeout); this is the backstop.
      ...(config.runtime === 'kubernetes'
        ? { preparingTimeoutMs: Math.max(config.podPendingTimeout, config.imagePullGrace) + config.heartbeatTimeout }
        : {}),
      metrics: this.metrics,
      nudge: () => this.queue.nudge(),
    });
    const dispatcher = new Dispatcher({
      db: this.db,
      runtime: this.runtime,
      clock,
      log,
      tokens,
      buildLaunchPlan: (row) =>
        buildLaunchPlan(
          {
            db: this.db,
            tokens,
            apiUrl: () => this.url,
            clusterName: config.clusterName,
            availableJobTypes: new Set(),
            images: { settings: this.imageSettings, now: () => clock.now() },
          },
          row,
        ),
      claimer,
      leaseMs: config.dispatchLease,
      retry: { maxAttempts: 5, baseMs: 500, maxMs: 10_000 },
      metrics: this.metrics,
      nudge: () => this.queue.nudge(),
    });
    this.queue = new QueueProcessor({
      db: this.db,
      dispatcher,
      tokens,
      clock,
      log,
      claimer,
      leaseMs: config.dispatchLease,
      batchSize: config.dispatchBatchSize,
      launchesPerSecond: config.dispatchLaunchesPerSecond,
      maxConcurrentLaunches: config.dispatchMaxConcurrentLaunches,
      pollIntervalMs: config.dispatchPollInterval,
      maxPollIntervalMs: config.dispatchMaxPollInterval,
      // Solo mode caps what runs on this machine; a cluster's capacity is the scheduler's business.
      ...(config.runtime === 'process' ? { maxActive: config.maxActiveExecutions } : {}),
      metrics: this.metrics,
    });
    this.executions = new ExecutionService({
      db: this.db,
      clock,
      log,
      projects: this.projects,
      control: this.control,
      client,
      nudge: () => this.queue.nudge(),
      resourceCaps: resourceCaps(config),
    });
    this.scheduler = new Scheduler({
      db: this.db,
      clock,
      log,
      projects: this.projects,
      nudge: () => this.queue.nudge(),
      pollIntervalMs: config.schedulePollInterval,
      misfireThresholdMs: config.scheduleMisfireThreshold,
      resourceCaps: resourceCaps(config),
    });
    this.schedules = new ScheduleService({
      db: this.db,
      clock,
      projects: this.projects,
      defaultTimeZone: config.scheduleTimeZone,
      wake: () => this.scheduler.wake(),
      resourceCaps: resourceCaps(config),
    });
  }

  get port(): number {
    return (this.httpServer?.address() as AddressInfo | null)?.port ?? 0;
  }

  get url(): string {
    return effectivePublicUrl(this.options.config, this.port);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { config, log } = this.options;
    if (config.migrateOnStart) {
      const applied = await migrateToLatest(this.db);
      if (applied.length > 0) log.info({ applied }, `Applied ${applied.length} database migration(s).`);
    }
    await ensureAdminUser({
      auth: this.auth,
      dataDir: config.dataDir,
      adminPassword: config.adminPassword,
      log: this.options.announce ?? ((line) => log.info(line)),
    });
    // Solo mode (DESIGN §2): the base image is "the flow container of this checkout". In Kubernetes,
    // images come from a registry and are registered through the image-management API.
    if (config.runtime === 'process')
      await registerBuiltInImages(
        this.db,
        [
          {
            imageType: config.baseImageType,
            path: config.baseImageType,
            version: '0.0.0',
            description: 'The flow container of this checkout',
          },
          ...shippedJobtypes(path.join(repositoryRoot(), 'docker', 'jobtypes')),
        ],
        (this.options.clock ?? systemClock).now(),
      );
    await this.runtime.start();
    await this.control.reattachAll();
    this.control.start();
    const app = buildApp({
      images: { service: this.images, settings: this.imageSettings },
      db: this.db,
      auth: this.auth,
      projects: this.projects,
      executions: this.executions,
      schedules: this.schedules,
      containerApi: {
        clock: this.options.clock ?? systemClock,
        plan: {
          heartbeatIntervalMs: config.heartbeatInterval,
          logShipIntervalMs: config.logShipInterval,
          logShipBytes: config.logShipBytes,
        },
        logGraceMs: LOG_GRACE_MS,
        nudge: () => this.queue.nudge(),
      },
      log,
      sessionTtlMs: config.sessionTtl,
      uploadMaxBytes: config.uploadMaxBytes,
      metrics: this.metrics,
      ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
    });
    this.httpServer = http.createServer(app);
    await new Promise<void>((resolve, reject) => {
      this.httpServer!.once('error', reject);
      this.httpServer!.listen(config.port, config.host, () => {
        this.httpServer!.off('error', reject);
        resolve();
      });
    });
    await this.queue.start();
    this.scheduler.start();
    this.rampDown.start();
    this.sweepTimer = setInterval(() => {
      this.auth.sweepExpired().catch((e: unknown) => log.warn({ err: e }, 'sweeping expired sessions failed; will retry'));
      if (this.runtime instanceof ProcessRuntime) {
        this.runtime
          .sweepExpiredWorkDirs()
          .catch((e: unknown) => log.warn({ err: e }, 'sweeping execution directories failed; will retry'));
      }
    }, SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
    log.info({ url: this.url }, `Caisson is listening on ${this.url}`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.rampDown.stop();
    await this.scheduler.stop();
    await this.queue.stop();
    if (this.httpServer) {
      const srv = this.httpServer;
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        // Idle keep-alive connections would hold close() open; in-flight requests finish first.
        srv.closeIdleConnections();
        setTimeout(() => srv.closeAllConnections(), 5000).unref();
      });
    }
    await this.control.stop();
    await this.runtime.stop();
    await this.db.destroy();
  }
}
