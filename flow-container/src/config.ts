/**
 * The flow container's settings, read once from its environment (it has no config file). Only
 * main.ts passes `process.env` here; everything below receives the frozen result.
 */
import path from 'node:path';
import { CONTAINER_ENV } from '../../common/control-api.js';
import { CaissonError, isCaissonError, type Problem } from '../../common/errors.js';
import { fail, loadConfig, option, parsers, type ConfigOf } from '../../common/config/parse.js';

const httpUrl = (raw: string): string => {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return fail(`expected an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`expected an http(s) URL, got "${raw}"`);
  return url.toString().replace(/\/+$/, '');
};

/** Environment variables of the container that are not part of the server contract. */
export const CONTAINER_EXTRA_ENV = {
  killGrace: 'CAISSON_JOB_KILL_GRACE',
  logLevel: 'CAISSON_LOG_LEVEL',
} as const;

export const CONTAINER_OPTIONS = {
  execId: option({
    env: CONTAINER_ENV.execId,
    key: 'execId',
    parse: parsers.integer(1, Number.MAX_SAFE_INTEGER),
    default: 0,
    doc: 'Execution id this container runs (required).',
  }),
  apiUrl: option({
    env: CONTAINER_ENV.apiUrl,
    key: 'apiUrl',
    parse: httpUrl,
    default: '',
    doc: 'Base URL of the web server as the container reaches it (required).',
  }),
  token: option({
    env: CONTAINER_ENV.token,
    key: 'token',
    parse: parsers.nonEmpty,
    default: '',
    doc: 'Execution token for the container API (required); never passed on to jobs.',
  }),
  controlPort: option({
    env: CONTAINER_ENV.controlPort,
    key: 'controlPort',
    parse: parsers.integer(0, 65535),
    default: 0,
    doc: 'Port of the control API (0 picks a free one).',
  }),
  controlHost: option({
    env: CONTAINER_ENV.controlHost,
    key: 'controlHost',
    parse: parsers.nonEmpty,
    default: '127.0.0.1',
    doc: 'Interface the control API binds to.',
  }),
  workDir: option({
    env: CONTAINER_ENV.workDir,
    key: 'workDir',
    parse: (raw: string) => path.resolve(parsers.nonEmpty(raw)),
    default: () => path.resolve('.'),
    defaultText: 'the current directory',
    doc: 'Working directory: project files under project/, logs under logs/.',
  }),
  jobtypesDir: option({
    env: CONTAINER_ENV.jobtypesDir,
    key: 'jobtypesDir',
    parse: (raw: string) => path.resolve(parsers.nonEmpty(raw)),
    default: '',
    doc: 'Directory of jobtype payloads, one subdirectory per plugin jobtype (docs/jobtypes.md).',
  }),
  versionSetId: option({
    env: CONTAINER_ENV.versionSetId,
    key: 'versionSetId',
    parse: parsers.string,
    default: '',
    doc: 'Version set of this execution (informational).',
  }),
  cluster: option({
    env: CONTAINER_ENV.cluster,
    key: 'cluster',
    parse: parsers.string,
    default: '',
    doc: 'Cluster name (informational).',
  }),
  killGraceMs: option({
    env: CONTAINER_EXTRA_ENV.killGrace,
    key: 'killGrace',
    parse: parsers.duration,
    default: 5_000,
    defaultText: '5s',
    doc: 'Time between SIGTERM and SIGKILL when a job process group is killed.',
  }),
  logLevel: option({
    env: CONTAINER_EXTRA_ENV.logLevel,
    key: 'logLevel',
    parse: parsers.oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'),
    default: 'info',
    doc: "Level of the container's own structured log (stdout).",
  }),
};

export type ContainerSettings = ConfigOf<typeof CONTAINER_OPTIONS>;

export interface ContainerConfig extends ContainerSettings {
  /** The environment jobs start from: the container's own minus every `CAISSON_*` variable. */
  readonly jobBaseEnv: Readonly<Record<string, string>>;
}

const REQUIRED: readonly (keyof ContainerSettings)[] = ['execId', 'apiUrl', 'token'];

/** Reads and validates the container's environment; throws INVALID_CONFIG listing every problem. */
export function readContainerConfig(env: Readonly<Record<string, string | undefined>>): ContainerConfig {
  const problems: Problem[] = REQUIRED.filter((key) => (env[CONTAINER_OPTIONS[key].env] ?? '').trim() === '').map((key) => ({
    message: `${CONTAINER_OPTIONS[key].env} must be set`,
  }));
  let settings: ContainerSettings | undefined;
  try {
    settings = loadConfig(CONTAINER_OPTIONS, env, undefined);
  } catch (e) {
    if (!isCaissonError(e)) throw e;
    problems.unshift(...e.problems);
  }
  if (problems.length > 0 || settings === undefined) {
    const list = problems.map((p) => `  - ${p.message}`).join('\n');
    throw new CaissonError('INVALID_CONFIG', `invalid flow container environment:\n${list}`, { problems });
  }
  return Object.freeze({ ...settings, jobBaseEnv: Object.freeze(jobBaseEnvironment(env)) });
}

/** The environment minus every `CAISSON_*` variable (the execution token above all). */
export function jobBaseEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !isSystemVariable(name)) out[name] = value;
  }
  return out;
}

/** Variables a job's `env.*` properties may never set (DESIGN §7). */
export function isSystemVariable(name: string): boolean {
  return name.toUpperCase().startsWith('CAISSON_') || name === 'JOB_OUTPUT_PROP_FILE';
}
