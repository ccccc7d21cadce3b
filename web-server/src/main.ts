/** Entry point of `npm start`: read the config, start the server, stop gracefully on signals. */
import { isCaissonError } from '../../common/errors.js';
import { readServerConfig } from './config.js';
import { createLogger } from './log.js';
import { CaissonServer } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = readServerConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (isCaissonError(e)) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  let server: CaissonServer;
  try {
    server = new CaissonServer({ config, log, announce: (line) => console.log(line) });
  } catch (e) {
    if (isCaissonError(e)) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn(`Received ${signal} again: exiting at once.`);
      process.exit(1);
    }
    stopping = true;
    log.info(`Received ${signal}: stopping.`);
    server.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e }, 'stopping failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  try {
    await server.start();
  } catch (e) {
    log.error({ err: e }, `Caisson could not start: ${(e as Error).message}`);
    await server.stop().catch(() => undefined);
    process.exit(1);
  }
}

void main();
