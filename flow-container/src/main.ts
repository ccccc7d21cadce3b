/**
 * Entry point of the flow container: `node dist/flow-container/src/main.js` (or through tsx).
 * The only module that reads process.env: it parses the environment once, removes every CAISSON_*
 * variable from this process's environment (jobs get theirs from the config), and exits with 0
 * when the flow SUCCEEDED, 1 when it did not, 2 when the environment is invalid.
 */
import { pino } from 'pino';
import { systemClock } from '../../common/clock.js';
import { readContainerConfig, type ContainerConfig } from './config.js';
import { FlowContainer } from './flow-container.js';

async function main(): Promise<number> {
  let config: ContainerConfig;
  try {
    config = readContainerConfig(process.env);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('CAISSON_')) delete process.env[name];
  }
  const logger = pino({ level: config.logLevel, base: { service: 'caisson-flow-container', execId: config.execId } });
  const container = new FlowContainer(config, { clock: systemClock, logger, pid: process.pid });
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, `Received ${signal}; killing the jobs.`);
    container.cancel('SIGTERM');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    return await container.run();
  } catch (e) {
    logger.fatal({ err: e }, 'The flow container failed.');
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
