/**
 * Plugin jobtypes (docs/jobtypes.md): a payload directory under CAISSON_JOBTYPES_DIR whose
 * `jobtype.yaml` names a launcher, default properties and environment. A job of that type runs
 * the launcher without a shell, in its own process group, with:
 * - JOB_PROP_FILE: a JSON object of the job's resolved properties (the payload's defaults below
 *   the job's own), `${name}` references substituted;
 * - JOB_OUTPUT_PROP_FILE, JOBTYPE_DIR (the payload directory) and the manifest's `env`;
 * - working directory `working.dir` (relative to the project) or the project directory;
 * - stdout and stderr appended to the job's log. Exit 0 → SUCCEEDED with the output parameters.
 */
import fs from 'node:fs';
import path from 'node:path';
import { JOB_OUTPUT_PROP_FILE } from '../../../common/control-api.js';
import { layeredLookup, mergePropertyLayers, substituteProperties } from '../../../common/dsl/properties.js';
import { JOBTYPE_MANIFEST_FILE, parseJobtypeManifest, type JobtypeManifest } from '../../../common/jobtype-manifest.js';
import { isSystemVariable } from '../config.js';
import { failJob, type JobContext, type JobHandle, type JobOutcome, type Jobtype } from './jobtype.js';
import { readOutputParams } from './output-params.js';
import { ProcessGroup } from './process-group.js';

export const JOB_PROP_FILE = 'JOB_PROP_FILE';

/** The job's properties, payload defaults lowest, every value substituted; or the first problem. */
export function resolvePluginProperties(
  manifest: Pick<JobtypeManifest, 'properties'>,
  layers: JobContext['properties'],
): { ok: true; value: Record<string, string> } | { ok: false; message: string } {
  const all = [...layers, manifest.properties];
  const lookup = layeredLookup(all);
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(mergePropertyLayers(all))) {
    const r = substituteProperties(raw, lookup);
    if (!r.ok) return { ok: false, message: `${r.message} in ${key}` };
    out[key] = r.value;
  }
  return { ok: true, value: out };
}

export function pluginJobtype(name: string, payloadDir: string, manifest: JobtypeManifest): Jobtype {
  return {
    name,
    start(context: JobContext): JobHandle {
      let killed = false;
      let group: ProcessGroup | undefined;
      const done = runPlugin(context, payloadDir, manifest, (g) => {
        group = g;
        if (killed) g.terminate();
      }).catch((e: unknown): JobOutcome =>
        failJob(context, `the ${name} job could not run: ${e instanceof Error ? e.message : String(e)}`),
      );
      return {
        done: done.then((o) => (killed && o.status !== 'SUCCEEDED' ? { status: 'KILLED' } : o)),
        kill: () => {
          killed = true;
          group?.terminate();
        },
      };
    },
  };
}

async function runPlugin(
  context: JobContext,
  payloadDir: string,
  manifest: JobtypeManifest,
  started: (g: ProcessGroup) => void,
): Promise<JobOutcome> {
  const props = resolvePluginProperties(manifest, context.properties);
  if (!props.ok) return failJob(context, props.message);
  const workingDir = props.value['working.dir'];
  const cwd = workingDir ? path.resolve(context.projectDir, workingDir) : context.projectDir;
  if (!fs.existsSync(cwd)) return failJob(context, `working directory ${cwd} does not exist`);
  const propFile = `${context.outputPropFile}.props.json`;
  await fs.promises.writeFile(propFile, JSON.stringify(props.value));
  await fs.promises.rm(context.outputPropFile, { force: true });
  const env: Record<string, string> = { ...context.baseEnv };
  for (const [k, v] of Object.entries(manifest.env)) if (!isSystemVariable(k)) env[k] = v;
  env[JOB_PROP_FILE] = propFile;
  env.JOBTYPE_DIR = payloadDir;
  env[JOB_OUTPUT_PROP_FILE] = context.outputPropFile;
  const launcher = path.join(payloadDir, manifest.launcher);
  context.flowLog.info(`Job ${context.jobId}: running the ${context.type} launcher ${launcher} in ${cwd}`);
  const fd = fs.openSync(context.logPath, 'a');
  let exit;
  try {
    const group = new ProcessGroup([launcher], { cwd, env, outputFd: fd, killGraceMs: context.killGraceMs });
    started(group);
    exit = await group.exited;
  } finally {
    fs.closeSync(fd);
  }
  if (exit.error !== undefined) return failJob(context, `the ${context.type} launcher could not start: ${exit.error.message}`);
  if (exit.signal !== null) return failJob(context, `the ${context.type} launcher was ended by signal ${exit.signal}`);
  if (exit.code !== 0) return failJob(context, `the ${context.type} launcher exited with code ${exit.code ?? 'unknown'}`);
  const outputs = await readOutputParams(context.outputPropFile);
  if (!outputs.ok) return failJob(context, outputs.message);
  return { status: 'SUCCEEDED', outputParams: outputs.params };
}

/** The plugin jobtypes of a directory: each subdirectory with a valid `jobtype.yaml`, by lower-case name. */
export function loadPluginJobtypes(jobtypesDir: string, warn: (message: string) => void = () => undefined): Jobtype[] {
  if (!jobtypesDir || !fs.existsSync(jobtypesDir)) return [];
  const out: Jobtype[] = [];
  for (const entry of fs.readdirSync(jobtypesDir).sort()) {
    const dir = path.join(jobtypesDir, entry);
    const file = path.join(dir, JOBTYPE_MANIFEST_FILE);
    if (!fs.existsSync(file)) continue;
    try {
      out.push(pluginJobtype(entry.toLowerCase(), dir, parseJobtypeManifest(fs.readFileSync(file, 'utf8'))));
    } catch (e) {
      warn(`jobtype payload ${dir} is ignored: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}
