import assert from 'node:assert/strict';
import { protectedPidsOf, selectContainerProcesses } from '../../../web-server/src/runtime/process/container-processes.js';
import { parseProcStat, startTicksToEpochMs, type ProcStat } from '../../../web-server/src/runtime/process/proc-table.js';

function proc(pid: number, ppid: number, pgid: number, sid: number, startTicks: number, state = 'S'): ProcStat {
  return { pid, ppid, pgid, sid, startTicks, state };
}

describe('parseProcStat', () => {
  it('reads pid, state, ppid, pgid, session and start time, whatever the command name holds', () => {
    const text = '4242 (evil) (name 1 2) R 17 4242 4242 0 -1 4194560 99 0 0 0 1 2 0 0 20 0 1 0 123456 1000 200 18446744073709551615\n';
    assert.deepEqual(parseProcStat(text), { pid: 4242, state: 'R', ppid: 17, pgid: 4242, sid: 4242, startTicks: 123456 });
  });

  it('answers undefined for text of another shape', () => {
    assert.equal(parseProcStat(''), undefined);
    assert.equal(parseProcStat('12 (x) S 1 2'), undefined);
  });

  it('converts start ticks (1/100 s since boot) to epoch ms', () => {
    assert.equal(startTicksToEpochMs(12_345, 1_700_000_000_000), 1_700_000_123_450);
  });
});

describe('selectContainerProcesses', () => {
  const none = new Set<number>();

  it('takes the container, its session, the jobs it tracked with their groups, and their descendants', () => {
    const table = [
      proc(1, 0, 1, 1, 1),
      proc(100, 1, 100, 100, 500), // the container
      proc(101, 100, 100, 100, 501), // a helper in its group
      proc(102, 1, 102, 100, 502), // orphaned, own group, container session
      proc(200, 1, 200, 200, 510), // a job (setsid), orphaned, tracked
      proc(201, 200, 200, 200, 511), // its child
      proc(300, 1, 300, 300, 520), // a job not tracked, orphaned: invisible to the walk
      proc(301, 201, 301, 301, 530), // grandchild of the job, after setsid
      proc(400, 1, 400, 400, 100), // unrelated
    ];
    const found = selectContainerProcesses(
      table,
      [
        { pid: 100, startTicks: 500 },
        { pid: 200, startTicks: 510 },
      ],
      none,
    );
    assert.deepEqual(
      found.members.map((p) => p.pid),
      [100, 101, 102, 200, 201, 301],
    );
    assert.deepEqual(found.groups, [100, 102, 200, 301]);
  });

  it('keeps a group whose tracked leader died and ignores a tracked pid that now names another process', () => {
    const table = [
      proc(200, 1, 200, 200, 999), // pid 200 recycled: a different process
      proc(250, 1, 240, 240, 520), // member of the group of dead leader 240
      proc(260, 1, 260, 260, 530),
    ];
    const found = selectContainerProcesses(
      table,
      [
        { pid: 200, startTicks: 510 },
        { pid: 240, startTicks: 515 },
      ],
      none,
    );
    assert.deepEqual(
      found.members.map((p) => p.pid),
      [250],
    );
    assert.deepEqual(found.groups, [240]);
  });

  it('never takes zombies or protected processes', () => {
    const table = [proc(100, 1, 100, 100, 500), proc(101, 100, 100, 100, 501, 'Z'), proc(102, 100, 100, 100, 502)];
    const found = selectContainerProcesses(table, [{ pid: 100, startTicks: 500 }], new Set([102]));
    assert.deepEqual(
      found.members.map((p) => p.pid),
      [100],
    );
  });

  it('protects this process, its ancestors and init', () => {
    const table = [proc(1, 0, 1, 1, 1), proc(10, 1, 10, 10, 2), proc(20, 10, 10, 10, 3), proc(30, 20, 30, 10, 4)];
    assert.deepEqual(
      [...protectedPidsOf(table, 30)].sort((a, b) => a - b),
      [0, 1, 10, 20, 30],
    );
  });
});
