/**
 * `command`: runs `command`, then `command.1`, `command.2`, … in order, each split into arguments
 * the way Azkaban does (common/command-line.ts) and started without a shell in its own process
 * group. The first one that fails ends the job FAILED.
 *
 * - `${name}` references are substituted first (an unresolved one fails the job, naming it);
 * - working directory: `working.dir` (relative to the project directory) or the project directory;
 * - environment: the container's minus CAISSON_*, plus `env.NAME` properties as NAME, plus
 *   JOB_OUTPUT_PROP_FILE — user properties never replace CAISSON_* or JOB_OUTPUT_PROP_FILE;
 * - stdout and stderr are appended to the job's log file, byte for byte;
 * - afterwards the JSON object in $JOB_OUTPUT_PROP_FILE gives the job's output parameters.
 */
import fs from 'node:fs';
import path from 'node:path';
import { JOB_OUTPUT_PROP_FILE } from '../../../common/control-api.js';
import { splitCommandLine } from '../../../common/command-line.js';
import { layeredLookup, mergePropertyLayers, substituteProperties } from '../../../common/dsl/properties.js';
import { isSystemVariable } from '../config.js';
import { failJob, type JobContext, type JobHandle, type JobOutcome, type Jobtype } from './jobtype.js';
import { readOutputParams } from './output-params.js';
import { ProcessGroup } from './process-group.js';

const MAX_COMMANDS = 10_000;

export const commandJobtype: Jobtype = {
  name: 'command',
  start(context: JobContext): JobHandle {
    let killed = false;
    let current: ProcessGroup | undefined;
    const done = runCommands(
      context,
      () => killed,
      (group) => (current = group),
    ).catch((e: unknown): JobOutcome => failJob(context, `the command job could not run: ${e instanceof Error ? e.message : String(e)}`));
    return {
      done,
      kill: () => {
        killed = true;
        current?.terminate();
      },
    };
  },
};

interface PreparedCommands {
  commands: { key: string; line: string }[];
  cwd: string;
  env: Record<string, string>;
}

/** Resolves commands, working directory and environment from the job's properties. */
export function prepareCommands(
  context: Pick<JobContext, 'properties' | 'projectDir' | 'baseEnv' | 'outputPropFile'>,
): { ok: true; value: PreparedCommands; ignoredVariables: string[] } | { ok: false; message: string } {
  const lookup = layeredLookup(context.properties);
  const resolve = (key: string, raw: string): { ok: true; value: string } | { ok: false; message: string } => {
    const result = substituteProperties(raw, lookup);
    return result.ok ? result : { ok: false, message: `${result.message} in ${key}` };
  };

  const commands: { key: string; line: string }[] = [];
  const first = lookup('command');
  if (first === undefined || first.trim() === '') return { ok: false, message: 'the command job has no "command" property' };
  for (let i = 0; i < MAX_COMMANDS; i += 1) {
    const key = i === 0 ? 'command' : `command.${i}`;
    const raw = lookup(key);
    if (raw === undefined) break;
    const line = resolve(key, raw);
    if (!line.ok) return line;
    commands.push({ key, line: line.value });
  }

  let cwd = context.projectDir;
  const workingDir = lookup('working.dir');
  if (workingDir !== undefined && workingDir.trim() !== '') {
    const resolved = resolve('working.dir', workingDir);
    if (!resolved.ok) return resolved;
    cwd = path.resolve(context.projectDir, resolved.value);
  }

  const env: Record<string, string> = { ...context.baseEnv };
  const ignoredVariables: string[] = [];
  for (const [key, raw] of Object.entries(mergePropertyLayers(context.properties))) {
    if (!key.startsWith('env.') || key.length === 4) continue;
    const name = key.slice(4);
    if (isSystemVariable(name)) {
      ignoredVariables.push(name);
      continue;
    }
    const value = resolve(key, raw);
    if (!value.ok) return value;
    env[name] = value.value;
  }
  env[JOB_OUTPUT_PROP_FILE] = context.outputPropFile;
  return { ok: true, value: { commands, cwd, env }, ignoredVariables };
}

async function runCommands(
  context: JobContext,
  isKilled: () => boolean,
  setCurrent: (group: ProcessGroup | undefined) => void,
): Promise<JobOutcome> {
  const prepared = prepareCommands(context);
  if (!prepared.ok) return failJob(context, prepared.message);
  for (const name of prepared.ignoredVariables) {
    context.flowLog.warn(`Job ${context.jobId}: env.${name} is ignored; jobs may not set ${name}`);
  }
  const { commands, cwd, env } = prepared.value;
  if (!fs.existsSync(cwd)) return failJob(context, `working directory ${cwd} does not exist`);
  await fs.promises.rm(context.outputPropFile, { force: true });

  const fd = fs.openSync(context.logPath, 'a');
  try {
    for (const { key, line } of commands) {
      if (isKilled()) return { status: 'KILLED' };
      const args = splitCommandLine(line);
      if (args.length === 0) return failJob(context, `${key} is empty`);
      context.flowLog.info(`Job ${context.jobId}: running ${key}: ${JSON.stringify(args)} in ${cwd}`);
      const group = new ProcessGroup(args, { cwd, env, outputFd: fd, killGraceMs: context.killGraceMs });
      setCurrent(group);
      if (isKilled()) group.terminate();
      const exit = await group.exited;
      setCurrent(undefined);
      if (isKilled()) return { status: 'KILLED' };
      if (exit.error !== undefined) return failJob(context, `${key} could not start ${JSON.stringify(args[0])}: ${exit.error.message}`);
      if (exit.signal !== null) return failJob(context, `${key} was ended by signal ${exit.signal}`);
      if (exit.code !== 0) return failJob(context, `${key} exited with code ${exit.code ?? 'unknown'}`);
    }
  } finally {
    fs.closeSync(fd);
  }

  const outputs = await readOutputParams(context.outputPropFile);
  if (!outputs.ok) return failJob(context, outputs.message);
  return { status: 'SUCCEEDED', outputParams: outputs.params };
}
