/**
 * `npm run bench` (full, under 20 minutes) and `npm run bench -- --quick` (under 2 minutes):
 * runs each benchmark in turn, prints a table of medians, spreads, targets and verdicts, and
 * writes every round to bench/results/<time>.json. `--only=1,3` runs a subset. Each benchmark
 * creates and drops its own database on TEST_DATABASE_URL (default mysql://root@127.0.0.1:3306/).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { claimDepth } from './claim-depth.bench.js';
import { flowEngine } from './flow-engine.bench.js';
import { kubeBurst } from './kube-burst.bench.js';
import { logShipping } from './log-shipping.bench.js';
import { memory } from './memory.bench.js';
import { peers } from './peers.bench.js';
import { queueCore } from './queue-core.bench.js';
import { replicas } from './replicas.bench.js';
import { statusPolling } from './status-polling.bench.js';
import { submitLatency } from './submit-latency.bench.js';
import { formatTable, type Benchmark, type BenchResult } from './support/report.js';

const BENCHMARKS: Benchmark[] = [
  queueCore,
  claimDepth,
  submitLatency,
  kubeBurst,
  replicas,
  statusPolling,
  flowEngine,
  logShipping,
  memory,
  peers,
];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');

const results: BenchResult[] = [];
const began = new Date();
for (const b of BENCHMARKS) {
  if (only && !only.includes(b.id)) continue;
  console.log(`benchmark ${b.id}: ${b.title}${quick ? ' (quick)' : ''}`);
  const start = process.hrtime.bigint();
  try {
    const r = await b.run({ quick, log: (line) => console.log(line) });
    results.push({ id: b.id, title: b.title, ...r, seconds: Number(process.hrtime.bigint() - start) / 1e9 });
  } catch (e) {
    console.error(e);
    results.push({ id: b.id, title: b.title, figures: [], notes: [], error: e instanceof Error ? e.message : String(e) });
  }
}

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
console.log(`\nCaisson benchmarks, ${quick ? 'quick' : 'full'} run, ${began.toISOString()} on ${machine}\n`);
console.log(formatTable(results));
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
fs.mkdirSync(dir, { recursive: true });
const file = path.join(dir, `${began.toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`);
fs.writeFileSync(file, `${JSON.stringify({ date: began.toISOString(), quick, machine, results }, null, 2)}\n`);
console.log(`\nResults written to ${path.relative(process.cwd(), file)}`);
const failed = results.some((r) => r.error);
process.exit(failed ? 1 : 0);
