/** Starting the real flow container (`node --import tsx flow-container/src/main.ts`) in tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionPlan } from '../../../common/control-api.js';
import type { FlowDefinition, FlowNode } from '../../../common/dsl/model.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAIN = path.join(REPO_ROOT, 'flow-container', 'src', 'main.ts');

export interface ContainerRun {
  child: ChildProcess;
  workDir: string;
  /** Resolves with the exit code (null when ended by a signal). */
  exited: Promise<number | null>;
  /** stdout and stderr so far (the container's own structured log). */
  output(): string;
}

export interface StartOptions {
  apiUrl: string;
  execId: number;
  token: string;
  env?: Record<string, string>;
}

export function startContainer(options: StartOptions): ContainerRun {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-fc-test-'));
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? workDir,
      CAISSON_EXEC_ID: String(options.execId),
      CAISSON_API_URL: options.apiUrl,
      CAISSON_EXEC_TOKEN: options.token,
      CAISSON_WORK_DIR: workDir,
      CAISSON_JOB_KILL_GRACE: '1s',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, workDir, exited, output: () => output };
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs` naming `what`. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves with the exit code, or fails (killing the process) after `timeoutMs`. */
export async function waitForExit(run: ContainerRun, timeoutMs = 15_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.child.kill('SIGKILL');
      reject(new Error(`the container did not exit within ${timeoutMs} ms; its output:\n${run.output()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function job(name: string, config: Record<string, string>, dependsOn: string[] = [], type = 'command'): FlowNode {
  return { name, type, dependsOn, config };
}

export function embedded(name: string, nodes: FlowNode[], dependsOn: string[] = [], config: Record<string, string> = {}): FlowNode {
  return { name, type: 'flow', dependsOn, config, nodes };
}

export function flowOf(nodes: FlowNode[], config: Record<string, string> = {}): FlowDefinition {
  return { name: 'test', file: 'test.flow', format: '2.0', config, nodes };
}

export function planFor(execId: number, flow: FlowDefinition, overrides: Partial<ExecutionPlan> = {}): ExecutionPlan {
  return {
    execId,
    projectId: 1,
    projectName: 'demo',
    projectVersion: 3,
    flowId: flow.name,
    flow,
    flowParams: {},
    options: {
      failureAction: 'finishCurrent',
      failureActionOverride: false,
      concurrentOption: 'skip',
      disabled: [],
      successEmails: [],
      failureEmails: [],
      notifyFailureFirst: false,
      notifyFailureLast: false,
    },
    submitUser: 'alice',
    submitTime: 1_700_000_000_000,
    numJobThreads: 10,
    files: [],
    heartbeatIntervalMs: 200,
    logShipIntervalMs: 100,
    logShipBytes: 64 * 1024,
    ...overrides,
  };
}
