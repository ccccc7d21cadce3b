/**
 * Builds the Express application from its collaborators. Never listens: main.ts and the tests
 * decide where it serves (fastify's habit of building the app apart from listening).
 */
import express from 'express';
import type { Knex } from 'knex';
import type { AuthService } from './auth/auth-service.js';
import type { ProjectService } from './projects/project-service.js';
import type { ExecutionService } from './executions/execution-service.js';
import type { ScheduleService } from './scheduler/schedule-service.js';
import { containerRouter, type ContainerApiDeps } from './http/container-api/container-router.js';
import { CONTAINER_API_PREFIX } from '../../common/control-api.js';
import type { Logger } from './log.js';
import { ajaxRouter } from './http/ajax/ajax-router.js';
import { restRouter } from './http/api/rest-router.js';
import { executionStatusRoute } from './http/api/executions-routes.js';
import { authenticate, callerOf } from './http/middleware/authenticate.js';
import { restErrorHandler } from './http/middleware/rest-errors.js';
import { paramsMiddleware, type ParamLimits } from './http/request-params.js';
import { sendAjaxError } from './http/ajax/azkaban-json.js';
import { isCaissonError } from '../../common/errors.js';
import { pingDatabase } from './health-store.js';
import type { Metrics } from './metrics/metrics.js';
import { httpMetricsMiddleware, metricsHandler } from './metrics/metrics-http.js';
import type { ImageService } from '../../image-mgmt/src/image-service.js';
import type { ImageCaller } from '../../image-mgmt/src/model.js';
import { imageAdminApp, imageAdminRouter, versionSetRouter } from '../../image-mgmt/src/router.js';
import type { FlowToResolve, ResolutionSettings } from '../../image-mgmt/src/version-resolver.js';
import { isAdmin } from './auth/principal.js';
import { collectJobTypes } from '../../common/dsl/flow-walk.js';
import { resolveFlowParams } from './executions/flow-params.js';

export interface AppDeps {
  db: Knex;
  auth: AuthService;
  projects: ProjectService;
  executions: ExecutionService;
  schedules?: ScheduleService | undefined;
  containerApi: Omit<ContainerApiDeps, 'db' | 'log'>;
  log: Logger;
  sessionTtlMs: number;
  uploadMaxBytes: number;
  /** Prometheus metrics; without it there is no /metrics endpoint and nothing is recorded. */
  metrics?: Metrics;
  /** When set, /metrics requires `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  /** Image management (issue 4); without it its endpoints are absent. */
  images?: { service: ImageService; settings: ResolutionSettings };
}

/** The caller as image-mgmt sees it. */
function imageCallerOf(req: express.Request): ImageCaller | undefined {
  const p = callerOf(req);
  return p ? { username: p.username, isAdmin: isAdmin(p), groups: p.groups } : undefined;
}

/** A flow for the dry-run resolver: the caller needs READ on the project; `param.override.*` apply. */
async function flowToResolve(projects: ProjectService, req: express.Request, project: string, flowId: string): Promise<FlowToResolve> {
  const { project: p, flow } = await projects.getFlow(callerOf(req)!, project, flowId);
  const params = resolveFlowParams(flow.config, {}, true).params;
  return { projectId: p.id, projectName: p.name, flowId, jobTypes: collectJobTypes(flow), flowParams: params };
}

const ZIP_BODY_TYPES = ['application/zip', 'application/x-zip-compressed', 'application/x-zip', 'application/octet-stream'];

export function buildApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  if (deps.metrics) {
    app.use(httpMetricsMiddleware(deps.metrics));
    // Open like /healthz unless a metrics token is configured (docs/metrics.md).
    app.get(
      '/metrics',
      metricsHandler({ db: deps.db, clock: deps.containerApi.clock, log: deps.log, metrics: deps.metrics, token: deps.metricsToken }),
    );
  }
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await pingDatabase(deps.db);
      res.json({ status: 'ready' });
    } catch (e) {
      deps.log.warn({ err: e }, 'readiness check failed: the database does not answer');
      res.status(503).json({ status: 'unavailable', message: 'the database does not answer' });
    }
  });

  const limits: ParamLimits = {
    maxBodyBytes: deps.uploadMaxBytes + 1024 * 1024,
    maxFileBytes: deps.uploadMaxBytes,
    maxFields: 1000,
    maxFiles: 4,
  };

  // The container callback API reads its own bodies (JSON events, raw log bytes).
  const containers = express.Router();
  containers.use(
    containerRouter({
      db: deps.db,
      log: deps.log.child({ component: 'container-api' }),
      ...deps.containerApi,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    }),
  );
  containers.use(restErrorHandler(deps.log));
  app.use(CONTAINER_API_PREFIX, containers);

  // REST: JSON bodies and raw zip uploads are parsed first; form and multipart bodies by paramsMiddleware.
  const api = express.Router();
  api.use(express.json({ limit: '1mb' }));
  api.use(express.raw({ type: ZIP_BODY_TYPES, limit: deps.uploadMaxBytes }));
  api.use(paramsMiddleware(limits));
  api.use(authenticate(deps.auth));
  const statusRoute = express.Router();
  executionStatusRoute(statusRoute, deps.executions);
  api.use(statusRoute);
  if (deps.images) {
    const imageDeps = { db: deps.db, service: deps.images.service, callerOf: imageCallerOf };
    api.use(
      versionSetRouter({
        ...imageDeps,
        settings: deps.images.settings,
        loadFlow: (req, pr, f) => flowToResolve(deps.projects, req, pr, f),
        checkExecutionRead: async (req, execId) => {
          await deps.executions.requireExecution(callerOf(req)!, String(execId), 'READ');
        },
      }),
    );
    api.use(imageAdminRouter(imageDeps));
  }
  api.use(
    restRouter({
      auth: deps.auth,
      projects: deps.projects,
      executions: deps.executions,
      schedules: deps.schedules,
      sessionTtlMs: deps.sessionTtlMs,
    }),
  );
  api.use(restErrorHandler(deps.log));
  app.use('/api/v1', api);

  // Azkaban's image-management endpoints (JSON bodies, 4xx with {"error": …}).
  if (deps.images) {
    app.use(
      imageAdminApp({
        db: deps.db,
        service: deps.images.service,
        callerOf: imageCallerOf,
        before: [express.json({ limit: '1mb' }), paramsMiddleware(limits), authenticate(deps.auth)],
        onUnexpected: (err) => deps.log.error({ err }, 'image-management request failed unexpectedly'),
      }),
    );
  }

  // Azkaban's AJAX endpoints. A body that cannot be read still gets Azkaban's 200 + error body.
  app.use(paramsMiddleware(limits));
  app.use(authenticate(deps.auth));
  app.use(
    ajaxRouter({
      auth: deps.auth,
      projects: deps.projects,
      executions: deps.executions,
      schedules: deps.schedules,
      sessionTtlMs: deps.sessionTtlMs,
      log: deps.log,
    }),
  );
  app.use((req, res) => {
    res.status(404).json({ code: 'NOT_FOUND', message: `No such endpoint: ${req.method} ${req.path}` });
  });
  app.use(((err, req, res, _next) => {
    if (isCaissonError(err)) {
      if (['/', '/index', '/manager', '/executor', '/schedule'].includes(req.path)) return sendAjaxError(res, err.message);
      return res.status(err.httpStatus).json({ code: err.code, message: err.message });
    }
    deps.log.error({ err }, 'request failed unexpectedly');
    res.status(500).json({ code: 'INTERNAL', message: 'Internal error; the server log has the details.' });
  }) as express.ErrorRequestHandler);
  return app;
}
