/**
 * One web-server process for the multi-process benchmarks: starts a bench server on the database
 * given as argv[2] (env overrides as JSON in argv[3]), tells its parent its URL over IPC, answers
 * {type:'stats'} with its queue counters and launched execution ids, {type:'cpu'} with its CPU time
 * so far (µs, user + system), and stops on {type:'stop'}.
 */
import { startBenchServer } from './bench-server.js';

interface Stats {
  type: 'stats';
  counters: Record<string, number>;
  launched: number[];
}

const databaseUrl = process.argv[2]!;
const env = JSON.parse(process.argv[3] ?? '{}') as Record<string, string>;
const bench = await startBenchServer(databaseUrl, env);
process.send?.({ type: 'ready', url: bench.url });
process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') {
    const stats: Stats = {
      type: 'stats',
      counters: { ...bench.server.queue.stats() },
      launched: bench.runtime.launched.map((p) => p.execId),
    };
    process.send?.(stats);
  } else if (m.type === 'cpu') {
    const u = process.cpuUsage();
    process.send?.({ type: 'cpu', micros: u.user + u.system });
  } else if (m.type === 'stop') {
    bench.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  }
});
