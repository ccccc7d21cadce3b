import assert from 'node:assert/strict';
import { pino } from 'pino';
import { FakeClock } from '../../common/clock.js';
import type { ContainerEvent, EventAck, EventBatch } from '../../common/control-api.js';
import { CaissonError } from '../../common/errors.js';
import type { Status } from '../../common/status.js';
import { EventReporter } from '../../flow-container/src/reporter.js';

const silent = pino({ level: 'silent' });
const unavailable = (): CaissonError => new CaissonError('UNAVAILABLE', 'connect ECONNREFUSED', { retryable: true });
const executionFinal = (): CaissonError =>
  new CaissonError('CONFLICT', 'final', { details: { httpStatus: 409, serverCode: 'EXECUTION_FINAL' } });

/** A server that stores events like the real one; `script` decides the answer to each post first. */
class FakeEventServer {
  stored: ContainerEvent[] = [];
  posts: number[][] = [];
  script: ((batch: EventBatch) => EventAck | Error | undefined)[] = [];

  constructor(private readonly firstSeq = 1) {}

  postEvents = (batch: EventBatch): Promise<EventAck> => {
    this.posts.push(batch.events.map((e) => e.seq));
    const scripted = this.script.shift()?.(batch);
    if (scripted instanceof Error) return Promise.reject(scripted);
    if (scripted !== undefined) return Promise.resolve(scripted);
    let acked = this.firstSeq - 1 + this.stored.length;
    for (const e of batch.events) {
      if (e.seq === acked + 1) {
        this.stored.push(e);
        acked = e.seq;
      }
    }
    return Promise.resolve({ ackedSeq: acked, final: false, status: 'RUNNING' });
  };
}

function reporterFor(
  server: FakeEventServer,
  firstSeq = 1,
  onFinal: (status: Status | undefined, reason: string) => void = () => undefined,
) {
  return new EventReporter({
    client: server,
    firstSeq,
    clock: new FakeClock(1000),
    logger: silent,
    onFinal,
    backoff: { initialMs: 1, maxMs: 4 },
  });
}

describe('the event reporter', () => {
  it('numbers events from nextSeq and delivers them in order; flush resolves once all are acknowledged', async () => {
    const server = new FakeEventServer(7);
    const reporter = reporterFor(server, 7);
    reporter.start();
    reporter.emit('FLOW_STARTED', { status: 'RUNNING' });
    reporter.emit('JOB_STARTED', { jobId: 'a', attempt: 0, type: 'command', status: 'RUNNING' });
    await reporter.flush();
    reporter.emit('FLOW_FINISHED', { status: 'SUCCEEDED' });
    await reporter.flush();
    assert.deepEqual(
      server.stored.map((e) => [e.seq, e.type, e.time]),
      [
        [7, 'FLOW_STARTED', 1000],
        [8, 'JOB_STARTED', 1000],
        [9, 'FLOW_FINISHED', 1000],
      ],
    );
    assert.equal(reporter.ackedSeq, 9);
    await reporter.stop();
  });

  it('retries while the server is unreachable and loses nothing', async () => {
    const server = new FakeEventServer();
    server.script = [unavailable, unavailable, () => new CaissonError('UNAVAILABLE', '503', { retryable: true })];
    const reporter = reporterFor(server);
    reporter.start();
    for (let i = 0; i < 5; i += 1) reporter.emit('JOB_STATUS_CHANGED', { i });
    await reporter.flush();
    assert.deepEqual(
      server.stored.map((e) => e.seq),
      [1, 2, 3, 4, 5],
    );
    assert.equal(server.posts.length, 4);
    await reporter.stop();
  });

  it('resends what a partial acknowledgement left out', async () => {
    const server = new FakeEventServer();
    server.script = [
      (batch) => {
        server.stored.push(batch.events[0]!);
        return { ackedSeq: 1, final: false, status: 'RUNNING' };
      },
    ];
    const reporter = reporterFor(server);
    reporter.start();
    reporter.emit('FLOW_STARTED', {});
    reporter.emit('JOB_STARTED', {});
    reporter.emit('JOB_FINISHED', {});
    await reporter.flush();
    assert.deepEqual(server.posts, [
      [1, 2, 3],
      [2, 3],
    ]);
    assert.deepEqual(
      server.stored.map((e) => e.seq),
      [1, 2, 3],
    );
    await reporter.stop();
  });

  it('stops on an acknowledgement saying final, tells the container, and drops later events', async () => {
    const server = new FakeEventServer();
    server.script = [() => ({ ackedSeq: 1, final: true, status: 'KILLED' })];
    const finals: [Status | undefined, string][] = [];
    const reporter = reporterFor(server, 1, (status, reason) => finals.push([status, reason]));
    reporter.start();
    reporter.emit('JOB_STARTED', {});
    await reporter.flush();
    assert.deepEqual(finals, [['KILLED', 'FINAL_ACK']]);
    assert.equal(reporter.emit('JOB_FINISHED', {}), undefined);
    await reporter.flush();
    assert.equal(server.posts.length, 1);
    await reporter.stop();
  });

  it('stops on 409 EXECUTION_FINAL', async () => {
    const server = new FakeEventServer();
    server.script = [executionFinal];
    const finals: string[] = [];
    const reporter = reporterFor(server, 1, (_s, reason) => finals.push(reason));
    reporter.start();
    reporter.emit('JOB_STARTED', {});
    await reporter.flush();
    assert.deepEqual(finals, ['EXECUTION_FINAL']);
    assert.equal(reporter.isFinal, true);
    await reporter.stop();
  });
});
