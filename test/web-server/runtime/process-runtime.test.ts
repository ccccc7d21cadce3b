import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeClock, systemClock, type Clock } from '../../../common/clock.js';
import { silentLogger } from '../../../web-server/src/log.js';
import {
  RuntimeError,
  type LaunchPlan,
  type LaunchResult,
  type RuntimeEvent,
  type RuntimeInfo,
} from '../../../web-server/src/runtime/container-runtime.js';
import { readProcStatSync } from '../../../web-server/src/runtime/process/proc-table.js';
import {
  defaultFlowContainerCommand,
  ProcessRuntime,
  type ProcessRuntimeDeps,
} from '../../../web-server/src/runtime/process/process-runtime.js';

const FAKE_CONTAINER = fileURLToPath(new URL('./fixtures/fake-container.mjs', import.meta.url));
const SLEEP = fs.existsSync('/usr/bin/sleep') ? '/usr/bin/sleep' : '/bin/sleep';

/** Polls `check` every 20 ms until it holds; fails after `timeoutMs`. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Gone: kill(pid, 0) answers ESRCH — or the process is a zombie, killed and waiting for init to reap
 * it (this machine's pid 1 reaps orphans only every few seconds).
 */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true;
    throw e;
  }
  return readProcStatSync(pid)?.state === 'Z';
}

describe('ProcessRuntime', function () {
  this.timeout(30_000);
  let dataDir: string;
  const runtimes: ProcessRuntime[] = [];
  /** pid → start ticks of every process a test started, killed after each test. */
  const started = new Map<number, number>();
  const remember = (pid: number): number => {
    const stat = readProcStatSync(pid);
    if (stat) started.set(pid, stat.startTicks);
    return pid;
  };
  let nextExecId = 1000;

  let rootDir: string;

  before(() => {
    rootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-process-runtime-'));
  });
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(rootDir, 'data-'));
  });

  afterEach(async () => {
    for (const r of runtimes.splice(0)) await r.stop();
    // Everything a test started (containers, grandchildren, strangers), if it is still the same process.
    for (const [pid, startTicks] of started) {
      if (readProcStatSync(pid)?.startTicks !== startTicks) continue;
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // not a group leader, or already gone
        }
      }
    }
    started.clear();
  });

  after(() => {
    fs.rmSync(rootDir, { recursive: true, force: true });
  });

  function newRuntime(overrides: Partial<ProcessRuntimeDeps> = {}): { runtime: ProcessRuntime; events: RuntimeEvent[] } {
    const runtime = new ProcessRuntime({
      dataDir,
      log: silentLogger,
      clock: systemClock,
      command: { executable: process.execPath, args: [FAKE_CONTAINER] },
      killGraceMs: 2000,
      retentionMs: 0,
      pollIntervalMs: 50,
      ...overrides,
    });
    runtimes.push(runtime);
    const events: RuntimeEvent[] = [];
    runtime.onEvent((e) => events.push(e));
    return { runtime, events };
  }

  function planFor(env: Record<string, string> = {}): LaunchPlan {
    const execId = nextExecId++;
    return {
      execId,
      projectName: 'p',
      flowId: 'f',
      jobTypes: [],
      env: { CAISSON_EXEC_ID: String(execId), CAISSON_API_URL: 'http://127.0.0.1:1', CAISSON_EXEC_TOKEN: 'tok', ...env },
      resources: {},
      versionSetId: null,
    };
  }

  const workDirOf = (execId: number): string => path.join(dataDir, 'executions', String(execId));
  const pidOf = (info: RuntimeInfo): number => info.pid as number;
  /** Every launch of the tests: remembers the container so afterEach can kill it. */
  async function launch(runtime: ProcessRuntime, plan: LaunchPlan): Promise<LaunchResult> {
    const result = await runtime.launch(plan);
    remember(pidOf(result.runtimeInfo));
    return result;
  }

  async function readyGrandchild(execId: number): Promise<number> {
    const file = path.join(workDirOf(execId), 'grandchild.pid');
    await waitFor('the grandchild pid', () => fs.existsSync(file));
    return remember(Number(fs.readFileSync(file, 'utf8')));
  }

  function exitedEvent(events: RuntimeEvent[], execId: number): Extract<RuntimeEvent, { type: 'exited' }> | undefined {
    return events.find((e): e is Extract<RuntimeEvent, { type: 'exited' }> => e.type === 'exited' && e.execId === execId);
  }

  it('emits started after the launch and exited with the exit code', async () => {
    const { runtime, events } = newRuntime();
    await runtime.start();
    const plan = planFor({ FAKE_EXIT_CODE: '3' });
    const result = await launch(runtime, plan);
    assert.equal(result.adopted, false);
    assert.equal(typeof result.runtimeInfo.pid, 'number');
    assert.equal(result.runtimeInfo.workDir, workDirOf(plan.execId));
    await waitFor('the exit event', () => exitedEvent(events, plan.execId) !== undefined);
    assert.deepEqual(
      events.map((e) => e.type),
      ['started', 'exited'],
    );
    assert.deepEqual(
      { ...exitedEvent(events, plan.execId), at: 0 },
      { type: 'exited', execId: plan.execId, at: 0, exitCode: 3, signal: null },
    );
    const description = await runtime.describe(plan.execId);
    assert.equal(description?.state, 'exited');
    assert.equal(description?.exitCode, 3);
  });

  it('records pid and process start time in container.json and the runtime info', async () => {
    const { runtime } = newRuntime();
    const plan = planFor();
    const { runtimeInfo } = await launch(runtime, plan);
    const record = JSON.parse(fs.readFileSync(path.join(workDirOf(plan.execId), 'container.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(record.pid, runtimeInfo.pid);
    assert.equal(record.startTime, runtimeInfo.startTime);
    const startTime = runtimeInfo.startTime as number;
    assert.ok(Math.abs(startTime - Date.now()) < 10_000, `start time ${startTime} should be about now`);
    assert.equal(readProcStatSync(pidOf(runtimeInfo))?.startTicks, runtimeInfo.startTicks);
    assert.deepEqual(await runtime.describe(plan.execId), { execId: plan.execId, state: 'running', runtimeInfo });
  });

  it('passes the work dir, control settings and the plan environment, and no CAISSON_* variable of the server', async () => {
    const { runtime } = newRuntime({
      baseEnv: { PATH: process.env.PATH, CAISSON_ADMIN_PASSWORD: 'secret', CAISSON_DATABASE_URL: 'mysql://x', HOME: '/home/x' },
    });
    const plan = planFor({ CUSTOM_VAR: 'custom value', FAKE_EXIT_CODE: '0' });
    await launch(runtime, plan);
    const logFile = path.join(workDirOf(plan.execId), 'container.log');
    await waitFor('the env line in the container log', () => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').includes('\n'));
    const line = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('ENV '));
    const env = JSON.parse(line!.slice(4)) as Record<string, string>;
    assert.equal(env.CAISSON_WORK_DIR, workDirOf(plan.execId));
    assert.equal(env.CAISSON_CONTROL_PORT, '0');
    assert.equal(env.CAISSON_CONTROL_HOST, '127.0.0.1');
    assert.equal(env.CAISSON_EXEC_ID, String(plan.execId));
    assert.equal(env.CAISSON_API_URL, 'http://127.0.0.1:1');
    assert.equal(env.CAISSON_EXEC_TOKEN, 'tok');
    assert.equal(env.CUSTOM_VAR, 'custom value');
    assert.equal(env.HOME, '/home/x');
    assert.match(env.FLOW_CONTAINER_SESSION ?? '', new RegExp(`^${plan.execId}\\.`));
    assert.equal(env.CAISSON_ADMIN_PASSWORD, undefined);
    assert.equal(env.CAISSON_DATABASE_URL, undefined);
  });

  it('adopts the running container on a second launch, in this runtime and after a restart', async () => {
    const first = newRuntime();
    const plan = planFor();
    const launched = await launch(first.runtime, plan);
    const again = await launch(first.runtime, plan);
    assert.deepEqual(again, { runtimeInfo: launched.runtimeInfo, adopted: true });

    await waitFor('the container to be set up', () => fs.existsSync(path.join(workDirOf(plan.execId), 'ready')));
    await first.runtime.stop();
    const restarted = newRuntime();
    const adopted = await launch(restarted.runtime, plan);
    assert.deepEqual(adopted, { runtimeInfo: launched.runtimeInfo, adopted: true });

    const log = fs.readFileSync(path.join(workDirOf(plan.execId), 'container.log'), 'utf8');
    assert.equal(log.split('\n').filter((l) => l.startsWith('ENV ')).length, 1, 'one container process started');
    assert.deepEqual(
      first.events.map((e) => e.type),
      ['started'],
    );
    assert.deepEqual(restarted.events, []);
  });

  it('starts one container for concurrent launches of the same execution', async () => {
    const { runtime, events } = newRuntime();
    const plan = planFor();
    const [a, b] = await Promise.all([launch(runtime, plan), launch(runtime, plan)]);
    assert.deepEqual([a.adopted, b.adopted].sort(), [false, true]);
    assert.equal(a.runtimeInfo.pid, b.runtimeInfo.pid);
    assert.equal(events.filter((e) => e.type === 'started').length, 1);
  });

  it('stops a container and its detached grandchild with SIGTERM well within the grace', async () => {
    const { runtime, events } = newRuntime();
    await runtime.start();
    const plan = planFor({ FAKE_GRANDCHILD: '1' });
    const { runtimeInfo } = await launch(runtime, plan);
    const grandchild = await readyGrandchild(plan.execId);
    assert.equal(isGone(grandchild), false);
    const began = Date.now();
    await runtime.stopContainer(plan.execId, 5000);
    assert.ok(Date.now() - began < 5000, `stopped after ${Date.now() - began} ms`);
    assert.equal(isGone(pidOf(runtimeInfo)), true, 'the container is gone');
    assert.equal(isGone(grandchild), true, 'the grandchild is gone');
    assert.deepEqual(
      { ...exitedEvent(events, plan.execId), at: 0 },
      { type: 'exited', execId: plan.execId, at: 0, exitCode: null, signal: 'SIGTERM' },
    );
    await runtime.stopContainer(plan.execId, 5000); // idempotent
    await runtime.stopContainer(987_654, 5000); // unknown: nothing to do
    assert.equal(events.filter((e) => e.type === 'exited').length, 1);
  });

  it('kills a container that ignores SIGTERM once the grace has passed', async () => {
    const { runtime, events } = newRuntime();
    const plan = planFor({ FAKE_IGNORE_SIGTERM: '1', FAKE_GRANDCHILD: '1' });
    const { runtimeInfo } = await launch(runtime, plan);
    await waitFor('the container to be set up', () => fs.existsSync(path.join(workDirOf(plan.execId), 'ready')));
    const grandchild = await readyGrandchild(plan.execId);
    const began = Date.now();
    await runtime.stopContainer(plan.execId, 300);
    const took = Date.now() - began;
    assert.ok(took >= 290 && took < 5000, `stopped after ${took} ms`);
    assert.equal(isGone(pidOf(runtimeInfo)), true);
    assert.equal(isGone(grandchild), true);
    assert.equal(exitedEvent(events, plan.execId)?.signal, 'SIGKILL');
  });

  it('reports a container killed from outside and kills its orphaned grandchild (found by its environment marker)', async () => {
    // A long poll interval: no ancestry walk happens before the kill, so only the marker finds the job.
    const { runtime, events } = newRuntime({ pollIntervalMs: 60_000 });
    await runtime.start();
    const plan = planFor({ FAKE_GRANDCHILD: '1' });
    const { runtimeInfo } = await launch(runtime, plan);
    const grandchild = await readyGrandchild(plan.execId);
    process.kill(pidOf(runtimeInfo), 'SIGKILL');
    await waitFor('the exit event', () => exitedEvent(events, plan.execId) !== undefined);
    assert.deepEqual(
      { ...exitedEvent(events, plan.execId), at: 0 },
      { type: 'exited', execId: plan.execId, at: 0, exitCode: null, signal: 'SIGKILL' },
    );
    assert.equal(isGone(grandchild), true, 'the grandchild was killed before exited was reported');
  });

  it('kills an orphaned grandchild with a cleared environment that the ancestry walk tracked', async () => {
    const { runtime, events } = newRuntime();
    await runtime.start();
    const plan = planFor({ FAKE_GRANDCHILD: 'clean-env' });
    const { runtimeInfo } = await launch(runtime, plan);
    const grandchild = await readyGrandchild(plan.execId);
    const recordFile = path.join(workDirOf(plan.execId), 'container.json');
    await waitFor('the grandchild to be tracked', () => {
      const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as { tracked: { pid: number }[] };
      return record.tracked.some((t) => t.pid === grandchild);
    });
    process.kill(pidOf(runtimeInfo), 'SIGKILL');
    await waitFor('the exit event', () => exitedEvent(events, plan.execId) !== undefined);
    assert.equal(isGone(grandchild), true);
  });

  it('re-attaches after a restart and reports the exit (code unknown) and kills what the container left', async () => {
    const first = newRuntime();
    await first.runtime.start();
    const plan = planFor({ FAKE_GRANDCHILD: 'clean-env' });
    const { runtimeInfo } = await launch(first.runtime, plan);
    const grandchild = await readyGrandchild(plan.execId);
    const recordFile = path.join(workDirOf(plan.execId), 'container.json');
    await waitFor('the grandchild to be tracked', () =>
      (JSON.parse(fs.readFileSync(recordFile, 'utf8')) as { tracked: { pid: number }[] }).tracked.some((t) => t.pid === grandchild),
    );
    await first.runtime.stop();

    const restarted = newRuntime();
    await restarted.runtime.start();
    await restarted.runtime.reattach(plan.execId, { ...runtimeInfo, controlUrl: 'http://127.0.0.1:5' });
    assert.equal((await restarted.runtime.describe(plan.execId))?.state, 'running');
    fs.writeFileSync(path.join(workDirOf(plan.execId), 'exit-now'), '0');
    await waitFor('the exit event', () => exitedEvent(restarted.events, plan.execId) !== undefined);
    assert.deepEqual(
      { ...exitedEvent(restarted.events, plan.execId), at: 0 },
      { type: 'exited', execId: plan.execId, at: 0, exitCode: null, signal: null },
    );
    assert.equal(isGone(grandchild), true);
    assert.deepEqual(
      first.events.map((e) => e.type),
      ['started'],
      'the stopped runtime no longer reports',
    );
  });

  it('reports a recycled pid (start time differs) as exited and never signals it', async () => {
    const stranger = spawn(SLEEP, ['600'], { detached: true, stdio: 'ignore' });
    stranger.unref();
    const pid = remember(stranger.pid!);
    const real = readProcStatSync(pid)!;
    const { runtime, events } = newRuntime();
    await runtime.start();
    const [a, b] = [nextExecId++, nextExecId++];
    await runtime.reattach(a, { pid, startTicks: real.startTicks - 360_000, startTime: 1, workDir: workDirOf(a) });
    // Only an epoch-ms start time, an hour off.
    await runtime.reattach(b, { pid, startTime: Date.now() - 3_600_000, workDir: workDirOf(b) });
    await waitFor('both exit events', () => exitedEvent(events, a) !== undefined && exitedEvent(events, b) !== undefined);
    assert.equal(exitedEvent(events, a)?.exitCode, null);
    await runtime.stopContainer(a, 100);
    await runtime.stopContainer(b, 100);
    assert.equal(isGone(pid), false, 'the stranger still runs');
    assert.equal((await runtime.describe(a))?.state, 'exited');
  });

  it('refuses a launch whose executable is missing or not executable, as a permanent error', async () => {
    const missing = newRuntime({ command: { executable: path.join(dataDir, 'no-such-program'), args: [] } });
    const plan = planFor();
    await assert.rejects(missing.runtime.launch(plan), (e: unknown) => {
      assert.ok(e instanceof RuntimeError);
      assert.equal(e.transient, false);
      assert.match(e.message, /ENOENT/);
      return true;
    });
    const notExecutable = path.join(dataDir, 'not-executable.sh');
    fs.writeFileSync(notExecutable, 'echo hi\n', { mode: 0o644 });
    const denied = newRuntime({ command: { executable: notExecutable, args: [] } });
    await assert.rejects(
      denied.runtime.launch(planFor()),
      (e: unknown) => e instanceof RuntimeError && !e.transient && /EACCES/.test(e.message),
    );
    assert.deepEqual([...missing.events, ...denied.events], []);
    assert.equal(await missing.runtime.describe(plan.execId), undefined);
  });

  it('keeps the working directory for the retention after the exit, then removes it', async () => {
    const clock = new FakeClock();
    const { runtime, events } = newRuntime({ clock: clock as Clock, retentionMs: 60_000 });
    const plan = planFor({ FAKE_EXIT_CODE: '0' });
    await launch(runtime, plan);
    await waitFor('the exit event', () => exitedEvent(events, plan.execId) !== undefined);
    const dir = workDirOf(plan.execId);
    await runtime.cleanup(plan.execId);
    assert.equal(fs.existsSync(dir), true);
    clock.advance(59_999);
    await runtime.cleanup(plan.execId);
    assert.equal(fs.existsSync(dir), true);
    clock.advance(1);
    await runtime.cleanup(plan.execId);
    assert.equal(fs.existsSync(dir), false);
    assert.equal(await runtime.describe(plan.execId), undefined);
  });

  it('never removes the working directory of a live container, and sweeps expired ones', async () => {
    const clock = new FakeClock();
    const { runtime, events } = newRuntime({ clock: clock as Clock, retentionMs: 1000 });
    const live = planFor();
    await launch(runtime, live);
    const done = planFor({ FAKE_EXIT_CODE: '0' });
    await launch(runtime, done);
    await waitFor('the exit event', () => exitedEvent(events, done.execId) !== undefined);
    // Left by an earlier server: its container is long gone (a pid that cannot exist).
    const earlier = nextExecId++;
    fs.mkdirSync(workDirOf(earlier), { recursive: true });
    const orphanRecord = {
      execId: earlier,
      pid: 4_194_304,
      startTicks: 1,
      startTime: 1,
      workDir: workDirOf(earlier),
      exitedAt: null,
      tracked: [],
    };
    fs.writeFileSync(path.join(workDirOf(earlier), 'container.json'), JSON.stringify(orphanRecord));

    clock.advance(100_000);
    await runtime.cleanup(live.execId);
    assert.equal(fs.existsSync(workDirOf(live.execId)), true);
    // The earlier server's container died unobserved: its retention counts from now.
    assert.deepEqual(await runtime.sweepExpiredWorkDirs(), [done.execId]);
    clock.advance(1000);
    assert.deepEqual(await runtime.sweepExpiredWorkDirs(), [earlier]);
    assert.equal(fs.existsSync(workDirOf(live.execId)), true);
    assert.equal((await runtime.describe(live.execId))?.state, 'running');
  });

  it('picks the built flow container when it exists, else the TypeScript source through tsx', () => {
    const repo = fs.mkdtempSync(path.join(dataDir, 'repo-'));
    fs.writeFileSync(path.join(repo, 'package.json'), '{"type":"module"}');
    fs.symlinkSync(path.resolve('node_modules'), path.join(repo, 'node_modules'));
    const fromSource = defaultFlowContainerCommand(repo);
    assert.equal(fromSource.executable, process.execPath);
    assert.equal(fromSource.args.length, 3);
    assert.equal(fromSource.args[0], '--import');
    assert.match(fromSource.args[1]!, /^file:\/\/.*\/node_modules\/tsx\/dist\/loader\.mjs$/);
    assert.equal(fromSource.args[2], path.join(repo, 'flow-container', 'src', 'main.ts'));

    const built = path.join(repo, 'dist', 'flow-container', 'src', 'main.js');
    fs.mkdirSync(path.dirname(built), { recursive: true });
    fs.writeFileSync(built, '');
    assert.deepEqual(defaultFlowContainerCommand(repo), { executable: process.execPath, args: [built] });
  });
});
