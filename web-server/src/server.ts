/**
 * Composes one web-server process: database, migrations, services, the HTTP listener and the
 * background sweeps. start() and stop() are idempotent; stop() closes in reverse order.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { systemClock, type Clock } from '../../common/clock.js';
import { openDatabase } from '../../common/db/knex.js';
import { migrateToLatest } from '../../migrations/index.js';
import { buildApp } from './app.js';
import { AuthService } from './auth/auth-service.js';
import { ensureAdminUser } from './auth/bootstrap-admin.js';
import type { ServerConfig } from './config.js';
import { effectivePublicUrl } from './config.js';
import type { Logger } from './log.js';
import { ProjectService } from './projects/project-service.js';

export interface ServerOptions {
  config: ServerConfig;
  log: Logger;
  clock?: Clock;
  /** Tell the operator something once, on standard output (the generated admin password). */
  announce?: (line: string) => void;
}

const SWEEP_INTERVAL_MS = 10 * 60_000;

export class CaissonServer {
  readonly db: Knex;
  readonly auth: AuthService;
  readonly projects: ProjectService;
  private httpServer: http.Server | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly options: ServerOptions) {
    const { config } = options;
    const clock = options.clock ?? systemClock;
    fs.mkdirSync(config.dataDir, { recursive: true });
    this.db = openDatabase(config.databaseUrl);
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
    const app = buildApp({
      db: this.db,
      auth: this.auth,
      projects: this.projects,
      log,
      sessionTtlMs: config.sessionTtl,
      uploadMaxBytes: config.uploadMaxBytes,
    });
    this.httpServer = http.createServer(app);
    await new Promise<void>((resolve, reject) => {
      this.httpServer!.once('error', reject);
      this.httpServer!.listen(config.port, config.host, () => {
        this.httpServer!.off('error', reject);
        resolve();
      });
    });
    this.sweepTimer = setInterval(() => {
      this.auth.sweepExpired().catch((e: unknown) => log.warn({ err: e }, 'sweeping expired sessions failed; will retry'));
    }, SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
    log.info({ url: this.url }, `Caisson is listening on ${this.url}`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.httpServer) {
      const srv = this.httpServer;
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        // Idle keep-alive connections would hold close() open; in-flight requests finish first.
        srv.closeIdleConnections();
        setTimeout(() => srv.closeAllConnections(), 5000).unref();
      });
    }
    await this.db.destroy();
  }
}
