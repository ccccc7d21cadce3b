/**
 * Benchmark 8 — logs: one `command` job writes 200 MiB to stdout inside the real flow container
 * (started by a real server's process runtime, from the sources), which ships its log to that
 * server (MariaDB). Measures the shipping rate (job start → every byte stored), checks that every
 * byte is stored and readable back through the REST API (same length and SHA-256 as what the job
 * wrote), and reads the flow container's peak RSS (VmHWM in /proc/<pid>/status, sampled every
 * 50 ms while it lives).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { storedLogEnd } from '../web-server/src/executions/logs-store.js';
import { zipOfFiles } from '../test/support/projects.js';
import { ADMIN_PASSWORD, ajaxLogin, postForm, postMultipart, restCall, startTestServer } from '../test/support/test-server.js';
import { figure, megabytesAsMiB, type Benchmark } from './support/report.js';

const MIB = 1024 * 1024;
const SIZE = 200 * MIB;
const LINE = 'caisson log shipping benchmark: 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const READ_SLICE = 10 * MIB;

/** SHA-256 of the first `size` bytes of `line\n` repeated (what `yes line | head -c size` writes). */
function expectedSha256(line: string, size: number): string {
  // Whole lines per block, so consecutive blocks continue the pattern.
  const block = Buffer.from(`${line}\n`.repeat(Math.ceil(MIB / (line.length + 1))));
  const h = crypto.createHash('sha256');
  let left = size;
  while (left > 0) {
    const take = Math.min(left, block.length);
    h.update(block.subarray(0, take));
    left -= take;
  }
  return h.digest('hex');
}

/** Peak resident set (VmHWM, KiB) of a live process, or undefined once it is gone. */
function peakRssKiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export const logShipping: Benchmark = {
  id: '8',
  title: 'logs: 200 MiB of stdout through the flow container',
  async run(ctx) {
    const rounds = ctx.quick ? 1 : 3;
    const want = expectedSha256(LINE, SIZE);
    // Production ship settings (the test server's default interval is shorter).
    const t = await startTestServer('mysql', { CAISSON_LOG_SHIP_INTERVAL: '2s', CAISSON_HEARTBEAT_TIMEOUT: '5m' });
    try {
      const session = await ajaxLogin(t.url, 'azkaban', ADMIN_PASSWORD);
      await postForm(`${t.url}/manager?action=create`, { 'session.id': session, name: 'logs', description: 'logs' });
      const up = await postMultipart(
        `${t.url}/manager`,
        { 'session.id': session, ajax: 'upload', project: 'logs' },
        {
          file: {
            name: 'p.zip',
            type: 'application/zip',
            content: zipOfFiles({
              'p.project': 'azkaban-flow-version: 2.0\n',
              'gen.sh': `yes '${LINE}' | head -c ${SIZE}\n`,
              'big.flow': 'nodes:\n  - name: big\n    type: command\n    config:\n      command: bash gen.sh\n',
            }),
          },
        },
      );
      if (up.json.error) throw new Error(`upload failed: ${up.text}`);
      const rates: number[] = [];
      const peaks: number[] = [];
      const readRates: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const sub = await postForm(`${t.url}/executor`, { 'session.id': session, ajax: 'executeFlow', project: 'logs', flow: 'big' });
        const execId = Number(sub.json.execid);
        if (!execId) throw new Error(`submit failed: ${sub.text}`);
        const key = { execId, name: 'big', attempt: 0 };
        let pid: number | undefined;
        let peakKiB = 0;
        let jobStart: number | undefined;
        let storedAt: number | undefined;
        const deadline = Date.now() + 600_000;
        for (;;) {
          if (Date.now() > deadline) throw new Error(`execution ${execId} did not finish in 10 minutes`);
          const row = (await t.tdb.db('execution_flows').where({ exec_id: execId }).first('status', 'runtime_info')) as {
            status: string;
            runtime_info: string | null;
          };
          if (pid === undefined && row.runtime_info) pid = (JSON.parse(row.runtime_info) as { pid?: number }).pid;
          if (pid !== undefined) peakKiB = Math.max(peakKiB, peakRssKiB(pid) ?? 0);
          if (jobStart === undefined) {
            const job = (await t.tdb.db('execution_jobs').where({ exec_id: execId, job_id: 'big' }).first('start_time')) as
              { start_time: number | null } | undefined;
            if (job?.start_time) jobStart = Number(job.start_time);
          }
          if (storedAt === undefined && (await storedLogEnd(t.tdb.db, key)) >= SIZE) storedAt = Date.now();
          if (['SUCCEEDED', 'FAILED', 'KILLED', 'EXECUTION_STOPPED'].includes(row.status)) {
            if (row.status !== 'SUCCEEDED') throw new Error(`execution ${execId} ended ${row.status}`);
            if (storedAt === undefined && (await storedLogEnd(t.tdb.db, key)) >= SIZE) storedAt = Date.now();
            if (pid === undefined || peakRssKiB(pid) === undefined) break;
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        if (jobStart === undefined || storedAt === undefined) throw new Error(`the job's start or its stored log is missing`);

        // Every byte, read back through the REST API in 10 MiB slices.
        const readStart = Date.now();
        const h = crypto.createHash('sha256');
        let offset = 0;
        for (;;) {
          const slice = await restCall(
            `${t.url}/api/v1/executions/${execId}/logs?job=big&attempt=0&offset=${offset}&length=${READ_SLICE}`,
            'GET',
            { cookie: `azkaban.browser.session.id=${session}` },
          );
          const data = Buffer.from(String(slice.json.data ?? ''), 'utf8');
          if (data.length === 0) break;
          h.update(data);
          offset += data.length;
        }
        const got = h.digest('hex');
        if (offset !== SIZE || got !== want) throw new Error(`stored log: ${offset} bytes, sha256 ${got}; expected ${SIZE} bytes, ${want}`);
        const readMs = Date.now() - readStart;
        const shipMs = storedAt - jobStart;
        rates.push(SIZE / MIB / (shipMs / 1000));
        peaks.push(peakKiB / 1024);
        readRates.push(SIZE / MIB / (readMs / 1000));
        ctx.log(
          `  round ${r + 1}: 200 MiB stored ${shipMs} ms after the job started (${rates.at(-1)!.toFixed(1)} MiB/s); all ${SIZE} bytes read back and equal (${readMs} ms); flow container peak RSS ${(peakKiB / 1024).toFixed(0)} MiB`,
        );
      }
      return {
        figures: [
          figure('shipping rate, job start → all 200 MiB stored (target 50 MB/s)', 'MiB/s', rates, megabytesAsMiB('>=', 50)),
          figure('flow container peak RSS (VmHWM) (target 150 MB)', 'MiB', peaks, megabytesAsMiB('<=', 150)),
          figure('reading the stored log back through REST (10 MiB slices)', 'MiB/s', readRates),
        ],
        notes: [
          'Every byte checked: the log read back through GET /api/v1/executions/:id/logs has the length and SHA-256 of what `yes … | head -c 200MiB` wrote.',
          'The flow container runs from the sources (node --import tsx), as in the tests; its RSS includes the TypeScript loader. Shipping uses the production settings (2 s interval, 64 KiB threshold, 1 MiB chunks).',
        ],
      };
    } finally {
      await t.stop();
    }
  },
};
