/**
 * The web server's settings: one spec per option (env name, YAML key, parser, default, doc).
 * docs/configuration.md lists the same options; test/web-server/config.test.ts keeps them in step.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { CaissonError } from '../../common/errors.js';
import { loadConfig, option, parsers, fail, type ConfigOf } from '../../common/config/parse.js';
import { isValidTimeZone } from './scheduler/quartz-cron.js';
import { parsePositiveQuantity } from '../../common/quantity.js';

const databaseUrl = (raw: string): string => {
  const v = raw.trim();
  if (/^mysql2?:\/\//.test(v) || /^mariadb:\/\//.test(v) || /^sqlite:.+/.test(v)) return v;
  return fail(`expected mysql://user:password@host:port/database or sqlite:<path>, got "${raw}"`);
};

const publicUrl = (raw: string): string => {
  try {
    const u = new URL(raw.trim());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(`expected an http(s) URL, got "${raw}"`);
    return u.toString().replace(/\/$/, '');
  } catch {
    return fail(`expected an http(s) URL, got "${raw}"`);
  }
};

const dnsLabel = (raw: string): string =>
  /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/.test(raw.trim())
    ? raw.trim()
    : fail(
        `expected a lower-case DNS label (a-z, 0-9, '-', at most 40 characters, starting and ending with a letter or digit), got "${raw}"`,
      );

const quantity =
  (name: string) =>
  (raw: string): string => {
    try {
      parsePositiveQuantity(raw, name);
    } catch (e) {
      return fail((e as Error).message);
    }
    return raw.trim();
  };

export const SERVER_OPTIONS = {
  host: option({
    env: 'CAISSON_HOST',
    key: 'host',
    parse: parsers.nonEmpty,
    default: '127.0.0.1',
    doc: 'Address the HTTP server binds to.',
  }),
  port: option({
    env: 'CAISSON_PORT',
    key: 'port',
    parse: parsers.integer(0, 65535),
    default: 8081,
    doc: 'HTTP port (0 picks a free port).',
  }),
  dataDir: option({
    env: 'CAISSON_DATA_DIR',
    key: 'dataDir',
    parse: (raw: string) => path.resolve(parsers.nonEmpty(raw)),
    default: path.resolve('data'),
    doc: 'Directory for the SQLite file, the generated admin password and execution working directories.',
  }),
  databaseUrl: option({
    env: 'CAISSON_DATABASE_URL',
    key: 'databaseUrl',
    parse: databaseUrl,
    default: (p: Record<string, unknown>) => `sqlite:${path.join(String(p.dataDir), 'caisson.sqlite')}`,
    defaultText: 'sqlite:<data dir>/caisson.sqlite',
    doc: '`mysql://user:password@host:port/database` (MySQL 8.0+, MariaDB 10.6+) or `sqlite:<path>`. Default: a SQLite file in the data dir.',
  }),
  migrateOnStart: option({
    env: 'CAISSON_MIGRATE_ON_START',
    key: 'migrateOnStart',
    parse: parsers.boolean,
    default: true,
    doc: 'Apply pending database migrations when the server starts.',
  }),
  adminPassword: option({
    env: 'CAISSON_ADMIN_PASSWORD',
    key: 'adminPassword',
    parse: parsers.string,
    default: '',
    doc: 'Password of the `azkaban` admin user created on first start. Empty: a random one is generated, printed once and written to `<data dir>/admin-password` (mode 0600).',
  }),
  publicUrl: option({
    env: 'CAISSON_PUBLIC_URL',
    key: 'publicUrl',
    parse: publicUrl,
    default: '',
    doc: 'The URL flow containers and links use to reach the web server. Empty: `http://<host>:<port>`.',
  }),
  logLevel: option({
    env: 'CAISSON_LOG_LEVEL',
    key: 'logLevel',
    parse: parsers.oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    default: 'info',
    doc: 'Log level of the structured (pino) log on standard output.',
  }),
  sessionTtl: option({
    env: 'CAISSON_SESSION_TTL',
    key: 'sessionTtl',
    parse: parsers.duration,
    default: 86_400_000,
    defaultText: '24h',
    doc: 'How long a login session lives without use (duration, e.g. `24h`).',
  }),
  passwordHashCost: option({
    env: 'CAISSON_PASSWORD_HASH_COST',
    key: 'passwordHashCost',
    parse: parsers.integer(4, 15),
    default: 12,
    doc: 'bcrypt cost factor for stored passwords (each +1 doubles the work).',
  }),
  loginMaxFailures: option({
    env: 'CAISSON_LOGIN_MAX_FAILURES',
    key: 'loginMaxFailures',
    parse: parsers.integer(1, 1000),
    default: 5,
    doc: 'Failed logins allowed per user name, and per client address, within the failure window; further attempts are refused until it passes.',
  }),
  loginFailureWindow: option({
    env: 'CAISSON_LOGIN_FAILURE_WINDOW',
    key: 'loginFailureWindow',
    parse: parsers.duration,
    default: 900_000,
    defaultText: '15m',
    doc: 'Window for counting failed logins (duration).',
  }),
  uploadMaxBytes: option({
    env: 'CAISSON_UPLOAD_MAX_BYTES',
    key: 'uploadMaxBytes',
    parse: parsers.bytes,
    default: 200 * 1024 ** 2,
    defaultText: '200MiB',
    doc: 'Largest project archive accepted (size, e.g. `200MiB`).',
  }),
  uploadMaxEntries: option({
    env: 'CAISSON_UPLOAD_MAX_ENTRIES',
    key: 'uploadMaxEntries',
    parse: parsers.integer(1, 1_000_000),
    default: 10_000,
    doc: 'Most entries a project archive may hold.',
  }),
  uploadMaxExpandedBytes: option({
    env: 'CAISSON_UPLOAD_MAX_EXPANDED_BYTES',
    key: 'uploadMaxExpandedBytes',
    parse: parsers.bytes,
    default: 1024 ** 3,
    defaultText: '1GiB',
    doc: 'Largest total size of a project archive once expanded.',
  }),
  uploadMaxCompressionRatio: option({
    env: 'CAISSON_UPLOAD_MAX_COMPRESSION_RATIO',
    key: 'uploadMaxCompressionRatio',
    parse: parsers.integer(2, 100_000),
    default: 200,
    doc: 'Largest expanded/compressed ratio accepted for large entries (zip bombs exceed it).',
  }),
  runtime: option({
    env: 'CAISSON_RUNTIME',
    key: 'runtime',
    parse: parsers.oneOf('process', 'kubernetes'),
    default: 'process',
    doc: 'Where flows run: `process` (solo mode: local flow-container processes) or `kubernetes`.',
  }),
  secretKey: option({
    env: 'CAISSON_SECRET_KEY',
    key: 'secretKey',
    parse: parsers.string,
    default: '',
    doc: 'Key (hex or base64, at least 32 bytes) from which execution tokens are derived. Empty: generated on first start and kept in `<data dir>/secret-key`. Replicas on one database must share it.',
  }),
  replicaId: option({
    env: 'CAISSON_REPLICA_ID',
    key: 'replicaId',
    parse: parsers.nonEmpty,
    default: '',
    defaultText: '<host name>:<pid>',
    doc: 'Name of this web-server replica, recorded as the claimer of the executions it dispatches.',
  }),
  dispatchBatchSize: option({
    env: 'CAISSON_DISPATCH_BATCH_SIZE',
    key: 'dispatchBatchSize',
    parse: parsers.integer(1, 1000),
    default: 50,
    doc: 'Most READY executions one claim transaction takes.',
  }),
  dispatchLaunchesPerSecond: option({
    env: 'CAISSON_DISPATCH_LAUNCHES_PER_SECOND',
    key: 'dispatchLaunchesPerSecond',
    parse: parsers.integer(1, 100_000),
    default: 20,
    doc: 'Most container launches per second started by one replica.',
  }),
  dispatchMaxConcurrentLaunches: option({
    env: 'CAISSON_DISPATCH_MAX_CONCURRENT_LAUNCHES',
    key: 'dispatchMaxConcurrentLaunches',
    parse: parsers.integer(1, 10_000),
    default: 10,
    doc: 'Most launches in flight at once on one replica.',
  }),
  dispatchLease: option({
    env: 'CAISSON_DISPATCH_LEASE',
    key: 'dispatchLease',
    parse: parsers.duration,
    default: 60_000,
    defaultText: '60s',
    doc: 'How long a claim is held before another replica may take the execution over (it is renewed while the launch is retried).',
  }),
  dispatchPollInterval: option({
    env: 'CAISSON_DISPATCH_POLL_INTERVAL',
    key: 'dispatchPollInterval',
    parse: parsers.duration,
    default: 500,
    defaultText: '500ms',
    doc: 'How often an idle queue processor looks for work at first; it backs off to the maximum below. A submit or a flow retry on this server wakes it at once.',
  }),
  dispatchMaxPollInterval: option({
    env: 'CAISSON_DISPATCH_MAX_POLL_INTERVAL',
    key: 'dispatchMaxPollInterval',
    parse: parsers.duration,
    default: 5_000,
    defaultText: '5s',
    doc: 'Longest wait of an idle queue processor between looks.',
  }),
  maxActiveExecutions: option({
    env: 'CAISSON_MAX_ACTIVE_EXECUTIONS',
    key: 'maxActiveExecutions',
    parse: parsers.integer(1, 1_000_000),
    default: 8,
    doc: 'Solo mode: most executions running at once on this machine; further ones wait in READY.',
  }),
  heartbeatInterval: option({
    env: 'CAISSON_HEARTBEAT_INTERVAL',
    key: 'heartbeatInterval',
    parse: parsers.duration,
    default: 5_000,
    defaultText: '5s',
    doc: 'How often a flow container reports it is alive.',
  }),
  heartbeatTimeout: option({
    env: 'CAISSON_HEARTBEAT_TIMEOUT',
    key: 'heartbeatTimeout',
    parse: parsers.duration,
    default: 60_000,
    defaultText: '60s',
    doc: "A running execution with no heartbeat for this long (counted from the later of its last heartbeat and this server's start) ends EXECUTION_STOPPED.",
  }),
  logShipInterval: option({
    env: 'CAISSON_LOG_SHIP_INTERVAL',
    key: 'logShipInterval',
    parse: parsers.duration,
    default: 2_000,
    defaultText: '2s',
    doc: 'Flow containers ship new log bytes at least this often.',
  }),
  logShipBytes: option({
    env: 'CAISSON_LOG_SHIP_BYTES',
    key: 'logShipBytes',
    parse: parsers.bytes,
    default: 64 * 1024,
    defaultText: '64KiB',
    doc: 'Flow containers ship as soon as this many log bytes are pending.',
  }),
  killGrace: option({
    env: 'CAISSON_KILL_GRACE',
    key: 'killGrace',
    parse: parsers.duration,
    default: 10_000,
    defaultText: '10s',
    doc: 'After SIGTERM, how long a container (and a job) gets before SIGKILL.',
  }),
  executionDirRetention: option({
    env: 'CAISSON_EXECUTION_DIR_RETENTION',
    key: 'executionDirRetention',
    parse: parsers.duration,
    default: 86_400_000,
    defaultText: '24h',
    doc: 'Solo mode: how long the working directory of a finished execution is kept (`0` removes it at once).',
  }),
  // --- schedules (issue 8): add options below this line ---
  scheduleTimeZone: option({
    env: 'CAISSON_SCHEDULE_TIME_ZONE',
    key: 'scheduleTimeZone',
    parse: (raw: string) =>
      isValidTimeZone(raw.trim()) ? raw.trim() : fail(`expected an IANA time zone like UTC or Europe/Paris, got "${raw}"`),
    default: 'UTC',
    doc: 'Time zone of a schedule that names none (its cron expression is read in it).',
  }),
  schedulePollInterval: option({
    env: 'CAISSON_SCHEDULE_POLL_INTERVAL',
    key: 'schedulePollInterval',
    parse: parsers.duration,
    default: 1_000,
    defaultText: '1s',
    doc: 'Longest wait of the scheduler between looks for due schedules (it also wakes at the earliest next fire time).',
  }),
  scheduleMisfireThreshold: option({
    env: 'CAISSON_SCHEDULE_MISFIRE_THRESHOLD',
    key: 'scheduleMisfireThreshold',
    parse: parsers.duration,
    default: 60_000,
    defaultText: '60s',
    doc: "A fire found later than this is a misfire (after downtime): the schedule's misfire policy runs it once now (RUN_ONCE) or skips it (SKIP).",
  }),
  // --- images (issue 4): add options below this line ---
  imageDirs: option({
    env: 'CAISSON_IMAGE_DIRS',
    key: 'imageDirs',
    parse: (raw: string) =>
      raw
        .split(':')
        .map((d) => d.trim())
        .filter((d) => d !== ''),
    default: [] as string[],
    defaultText: "the data dir's images/, then the repository's docker/jobtypes/",
    doc: 'Solo mode: `:`-separated directories holding jobtype payloads, as `<dir>/<path>/<version>/` or `<dir>/<name>/payload/`.',
  }),
  baseImageType: option({
    env: 'CAISSON_BASE_IMAGE_TYPE',
    key: 'baseImageType',
    parse: (raw: string) =>
      /^[a-z0-9][a-z0-9._-]{0,63}$/i.test(raw.trim()) ? raw.trim().toLowerCase() : fail(`expected an image type name, got "${raw}"`),
    default: 'caisson-base',
    doc: 'The image type of the flow container itself; every execution resolves a version of it.',
  }),
  alwaysIncludedImageTypes: option({
    env: 'CAISSON_ALWAYS_INCLUDED_IMAGE_TYPES',
    key: 'alwaysIncludedImageTypes',
    parse: (raw: string) =>
      raw
        .split(',')
        .map((t) => t.trim().toLowerCase())
        .filter((t) => t !== ''),
    default: [] as string[],
    defaultText: '(none)',
    doc: 'Comma-separated image types every execution resolves besides the base type and its jobtypes (a platform image, say).',
  }),
  rampDownCheckInterval: option({
    env: 'CAISSON_RAMP_DOWN_CHECK_INTERVAL',
    key: 'rampDownCheckInterval',
    parse: parsers.duration,
    default: 60_000,
    defaultText: '1m',
    doc: 'How often the automatic ramp-down judges the ramped versions of plans that set a `rampDownGuard` (plans without one are never touched).',
  }),
  // --- kubernetes runtime (issue 5): add options below this line ---
  k8sNamespace: option({
    env: 'CAISSON_K8S_NAMESPACE',
    key: 'k8sNamespace',
    parse: dnsLabel,
    default: 'caisson',
    doc: 'Kubernetes runtime: namespace of the flow pods and their Secrets, Services and Mappings.',
  }),
  clusterName: option({
    env: 'CAISSON_CLUSTER_NAME',
    key: 'clusterName',
    parse: dnsLabel,
    default: 'caisson',
    doc: 'Name of this Caisson installation: prefixes pod names (`fc-<cluster>-<execId>`) and ingress routes, and labels every object (`caisson.io/cluster`). Installations sharing a namespace need different names.',
  }),
  k8sApiQps: option({
    env: 'CAISSON_K8S_API_QPS',
    key: 'k8sApiQps',
    parse: parsers.integer(1, 10_000),
    default: 150,
    doc: 'Kubernetes runtime: most API calls per second (steady rate) from one replica. A launch makes seven calls, so the default keeps up with 20 launches per second.',
  }),
  k8sApiBurst: option({
    env: 'CAISSON_K8S_API_BURST',
    key: 'k8sApiBurst',
    parse: parsers.integer(1, 10_000),
    default: 300,
    doc: 'Kubernetes runtime: most API calls one replica may make at once above the steady rate.',
  }),
  ingressMode: option({
    env: 'CAISSON_INGRESS_MODE',
    key: 'ingressMode',
    parse: parsers.oneOf('mapping', 'annotation', 'none'),
    default: 'mapping',
    doc: 'How the web server reaches flow containers: `mapping` (a `getambassador.io/v3alpha1` Mapping per execution), `annotation` (the older `getambassador.io/config` annotation on its Service) or `none` (the web server runs in the cluster and calls the Service directly).',
  }),
  ingressUrl: option({
    env: 'CAISSON_INGRESS_URL',
    key: 'ingressUrl',
    parse: publicUrl,
    default: '',
    defaultText: '(none; required unless the ingress mode is none)',
    doc: 'Base URL of the Emissary/Ambassador ingress; calls to execution N go to `<ingress URL>/<cluster>-N/…`.',
  }),
  ambassadorId: option({
    env: 'CAISSON_AMBASSADOR_ID',
    key: 'ambassadorId',
    parse: parsers.string,
    default: '',
    defaultText: '(none)',
    doc: 'Sets `ambassador_id` on the routes, for clusters running several Emissary installations.',
  }),
  flowContainerPort: option({
    env: 'CAISSON_FLOW_CONTAINER_PORT',
    key: 'flowContainerPort',
    parse: parsers.integer(1, 65535),
    default: 8090,
    doc: "Kubernetes runtime: port of the flow container's control API inside the pod (and of its Service).",
  }),
  podTemplateFile: option({
    env: 'CAISSON_POD_TEMPLATE_FILE',
    key: 'podTemplateFile',
    parse: parsers.string,
    default: '',
    defaultText: '(none)',
    doc: 'YAML Pod (or pod spec) merged under every generated flow pod: its pod-level fields are kept, containers are merged by name (docs/kubernetes.md).',
  }),
  imagePullPolicy: option({
    env: 'CAISSON_IMAGE_PULL_POLICY',
    key: 'imagePullPolicy',
    parse: parsers.oneOf('IfNotPresent', 'Always', 'Never'),
    default: 'IfNotPresent',
    doc: 'Pull policy of the flow-container and jobtype images.',
  }),
  podCpuRequest: option({
    env: 'CAISSON_POD_CPU_REQUEST',
    key: 'podCpuRequest',
    parse: quantity('podCpuRequest'),
    default: '500m',
    doc: 'CPU request of a flow pod that does not set `flow.container.cpu.request`.',
  }),
  podMemoryRequest: option({
    env: 'CAISSON_POD_MEMORY_REQUEST',
    key: 'podMemoryRequest',
    parse: quantity('podMemoryRequest'),
    default: '512Mi',
    doc: 'Memory request of a flow pod that does not set `flow.container.memory.request`.',
  }),
  podDiskRequest: option({
    env: 'CAISSON_POD_DISK_REQUEST',
    key: 'podDiskRequest',
    parse: quantity('podDiskRequest'),
    default: '1Gi',
    doc: 'Ephemeral-storage request of a flow pod that does not set `flow.container.disk.request`.',
  }),
  podLimitMultiple: option({
    env: 'CAISSON_POD_LIMIT_MULTIPLE',
    key: 'podLimitMultiple',
    parse: (raw: string) => {
      const n = Number(raw.trim());
      return Number.isFinite(n) && n >= 1 && n <= 100 ? n : fail(`expected a number from 1 to 100, got "${raw}"`);
    },
    default: 1,
    doc: 'Limits of a flow pod are its requests times this (1: limits equal requests).',
  }),
  podUserMaxCpu: option({
    env: 'CAISSON_POD_USER_MAX_CPU',
    key: 'podUserMaxCpu',
    parse: quantity('podUserMaxCpu'),
    default: '4',
    doc: 'Largest `flow.container.cpu.request` a non-admin may submit (more is refused at submit).',
  }),
  podUserMaxMemory: option({
    env: 'CAISSON_POD_USER_MAX_MEMORY',
    key: 'podUserMaxMemory',
    parse: quantity('podUserMaxMemory'),
    default: '16Gi',
    doc: 'Largest `flow.container.memory.request` a non-admin may submit.',
  }),
  podUserMaxDisk: option({
    env: 'CAISSON_POD_USER_MAX_DISK',
    key: 'podUserMaxDisk',
    parse: quantity('podUserMaxDisk'),
    default: '20Gi',
    doc: 'Largest `flow.container.disk.request` a non-admin may submit.',
  }),
  podAdminMaxCpu: option({
    env: 'CAISSON_POD_ADMIN_MAX_CPU',
    key: 'podAdminMaxCpu',
    parse: quantity('podAdminMaxCpu'),
    default: '32',
    doc: 'Largest `flow.container.cpu.request` an admin may submit.',
  }),
  podAdminMaxMemory: option({
    env: 'CAISSON_POD_ADMIN_MAX_MEMORY',
    key: 'podAdminMaxMemory',
    parse: quantity('podAdminMaxMemory'),
    default: '128Gi',
    doc: 'Largest `flow.container.memory.request` an admin may submit.',
  }),
  podAdminMaxDisk: option({
    env: 'CAISSON_POD_ADMIN_MAX_DISK',
    key: 'podAdminMaxDisk',
    parse: quantity('podAdminMaxDisk'),
    default: '200Gi',
    doc: 'Largest `flow.container.disk.request` an admin may submit.',
  }),
  imagePullGrace: option({
    env: 'CAISSON_K8S_IMAGE_PULL_GRACE',
    key: 'imagePullGrace',
    parse: parsers.duration,
    default: 120_000,
    defaultText: '2m',
    doc: 'A pod still failing to pull an image (ErrImagePull, ImagePullBackOff) after this long ends its execution EXECUTION_STOPPED.',
  }),
  podPendingTimeout: option({
    env: 'CAISSON_K8S_PENDING_TIMEOUT',
    key: 'podPendingTimeout',
    parse: parsers.duration,
    default: 600_000,
    defaultText: '10m',
    doc: 'A pod the scheduler cannot place (Unschedulable) for this long ends its execution EXECUTION_STOPPED.',
  }),
  finalReportGrace: option({
    env: 'CAISSON_K8S_FINAL_REPORT_GRACE',
    key: 'finalReportGrace',
    parse: parsers.duration,
    default: 10_000,
    defaultText: '10s',
    doc: 'After the flow container terminates, how long a final report still in flight may arrive before the execution ends EXECUTION_STOPPED.',
  }),
  podRetention: option({
    env: 'CAISSON_K8S_POD_RETENTION',
    key: 'podRetention',
    parse: parsers.duration,
    default: 86_400_000,
    defaultText: '24h',
    doc: 'How long the pod of a finished execution submitted with `disable.pod.cleanup=true` (admins only) is kept for inspection.',
  }),
  podSweepInterval: option({
    env: 'CAISSON_K8S_SWEEP_INTERVAL',
    key: 'podSweepInterval',
    parse: parsers.duration,
    default: 60_000,
    defaultText: '1m',
    doc: 'How often the watch leader deletes pods of final or unknown executions and ends executions whose pod is gone.',
  }),
  watchLeaseDuration: option({
    env: 'CAISSON_K8S_LEASE_DURATION',
    key: 'watchLeaseDuration',
    parse: parsers.duration,
    default: 15_000,
    defaultText: '15s',
    doc: 'The pod-watch leader renews its lease row at a third of this; another replica takes over once it has expired.',
  }),
  // --- metrics (issue 7): add options below this line ---
  metricsToken: option({
    env: 'CAISSON_METRICS_TOKEN',
    key: 'metricsToken',
    parse: parsers.string,
    default: '',
    defaultText: '(none: /metrics is open)',
    doc: "When set, GET /metrics answers only requests with `Authorization: Bearer <this token>` (Prometheus's `authorization` setting); others get 401.",
  }),
  // --- flow engine (issue 6): add options below this line ---
} as const;

export type ServerConfig = ConfigOf<typeof SERVER_OPTIONS>;

/** Reads `--config <path>` / CAISSON_CONFIG and the environment; throws INVALID_CONFIG listing every problem. */
export function readServerConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ServerConfig {
  const i = argv.indexOf('--config');
  const configPath = i >= 0 ? argv[i + 1] : env.CAISSON_CONFIG;
  if (i >= 0 && !configPath) throw new CaissonError('INVALID_CONFIG', '--config needs a path: --config <file>');
  let file: { path: string; values: Record<string, unknown> } | undefined;
  if (configPath) {
    let text: string;
    try {
      text = fs.readFileSync(configPath, 'utf8');
    } catch (e) {
      throw new CaissonError('INVALID_CONFIG', `cannot read config file ${configPath}: ${(e as Error).message}`, { cause: e });
    }
    let values: unknown;
    try {
      values = YAML.parse(text, { uniqueKeys: true }) ?? {};
    } catch (e) {
      throw new CaissonError('INVALID_CONFIG', `config file ${configPath} is not valid YAML: ${(e as Error).message}`, { cause: e });
    }
    if (typeof values !== 'object' || Array.isArray(values)) {
      throw new CaissonError('INVALID_CONFIG', `config file ${configPath} must be a YAML mapping of setting: value`);
    }
    file = { path: configPath, values: values as Record<string, unknown> };
  }
  return loadConfig(SERVER_OPTIONS, env, file);
}

export function effectivePublicUrl(config: ServerConfig, boundPort: number): string {
  if (config.publicUrl) return config.publicUrl;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
}
