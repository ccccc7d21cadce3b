import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isGroupAlive, ProcessGroup } from '../../../flow-container/src/jobtypes/process-group.js';

describe('a job process group', () => {
  let dir: string;
  let fd: number;
  const out = (): string => fs.readFileSync(path.join(dir, 'out.log'), 'utf8');
  const group = (args: string[], killGraceMs = 300): ProcessGroup =>
    new ProcessGroup(args, { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, outputFd: fd, killGraceMs });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-pg-'));
    fd = fs.openSync(path.join(dir, 'out.log'), 'a');
  });
  afterEach(() => {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs without a shell and appends stdout and stderr to the file', async () => {
    const exit = await group(['sh', '-c', 'echo out; echo err >&2; exit 4']).exited;
    assert.deepEqual(exit, { code: 4, signal: null });
    assert.equal(out(), 'out\nerr\n');
    const literal = await group(['echo', '$HOME', '*', '|', 'x']).exited;
    assert.equal(literal.code, 0);
    assert.equal(out(), 'out\nerr\n$HOME * | x\n');
  });

  it('is the leader of its own process group', async () => {
    const g = group(['sh', '-c', 'ps -o pgid= -p $$']);
    const exit = await g.exited;
    assert.equal(exit.code, 0);
    assert.equal(Number(out().trim()), g.pid);
  });

  it('ends what the job left running in its group once the job ended', async () => {
    const g = group(['sh', '-c', 'sleep 600 & echo started']);
    const exit = await g.exited;
    assert.equal(exit.code, 0);
    assert.equal(isGroupAlive(g.pid!), false);
  });

  it('sends SIGTERM, then SIGKILL after the grace to processes that ignore it', async () => {
    const g = group(['bash', '-c', 'trap "" TERM; echo ready; sleep 600 & wait'], 200);
    const deadline = Date.now() + 5_000;
    while (!out().includes('ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    g.terminate();
    const exit = await g.exited;
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(Date.now() - started >= 150, 'the grace passed first');
    assert.equal(isGroupAlive(g.pid!), false);
  });

  it('reports a program that cannot start', async () => {
    const exit = await group(['no-such-program-caisson']).exited;
    assert.equal(exit.code, null);
    assert.match(exit.error?.message ?? '', /ENOENT/);
  });
});
