/** Structured logging (pino): one root logger per process, child loggers per component. */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'caisson-web-server' } });
}

export const silentLogger: Logger = pino({ level: 'silent' });
