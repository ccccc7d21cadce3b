/**
 * Downloads the project files listed in the plan into `<workDir>/project/`, a few at a time, each
 * retried while the server is unreachable. A path that would land outside the project directory
 * (absolute, `..`, empty segments, NUL) is refused before anything is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ProjectFileRef } from '../../common/control-api.js';
import { CaissonError } from '../../common/errors.js';
import { isRetryable, type ContainerApiClient } from './api-client.js';
import { withRetries } from './retry.js';

/** Where project file `filePath` goes; throws BAD_REQUEST when it would escape `projectDir`. */
export function projectFileDestination(projectDir: string, filePath: string): string {
  const refuse = (why: string): never => {
    throw new CaissonError('BAD_REQUEST', `refusing project file path ${JSON.stringify(filePath)}: ${why}`);
  };
  if (filePath === '' || filePath.includes('\u0000')) refuse('it is empty or contains NUL');
  if (filePath.startsWith('/') || filePath.includes('\\') || /^[A-Za-z]:/.test(filePath))
    refuse('it must be a relative path with / separators');
  const segments = filePath.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) refuse('it has an empty, "." or ".." segment');
  const root = path.resolve(projectDir);
  const destination = path.resolve(root, ...segments);
  const relative = path.relative(root, destination);
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) refuse('it leaves the project directory');
  return destination;
}

export interface DownloadOptions {
  client: Pick<ContainerApiClient, 'downloadFile'>;
  files: readonly ProjectFileRef[];
  projectDir: string;
  logger: Logger;
  signal?: AbortSignal;
  concurrency?: number;
  giveUpAfterMs?: number;
}

/** Downloads every file; resolves with the total bytes written. */
export async function downloadProjectFiles(options: DownloadOptions): Promise<number> {
  const { client, files, projectDir, logger } = options;
  // The first failure stops the other downloads.
  const failed = new AbortController();
  const signal = options.signal === undefined ? failed.signal : AbortSignal.any([options.signal, failed.signal]);
  const targets = files.map((f) => ({ ref: f, destination: projectFileDestination(projectDir, f.path) }));
  await fs.promises.mkdir(projectDir, { recursive: true });
  let next = 0;
  let total = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < targets.length && !signal.aborted; i = next++) {
      const { ref, destination } = targets[i]!;
      await fs.promises.mkdir(path.dirname(destination), { recursive: true });
      const written = await withRetries(
        async () => {
          const n = await client.downloadFile(ref.path, destination, signal);
          if (n !== ref.size) {
            throw new CaissonError('UNAVAILABLE', `${ref.path}: received ${n} bytes, the plan lists ${ref.size}`, { retryable: true });
          }
          return n;
        },
        {
          signal,
          isRetryable,
          giveUpAfterMs: options.giveUpAfterMs ?? 5 * 60_000,
          onRetry: (e, attempt, waitMs) =>
            logger.warn({ err: e, file: ref.path, attempt, waitMs }, `Downloading ${ref.path} failed; retrying.`),
        },
      );
      total += written;
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, targets.length)) }, () =>
    worker().catch((e: unknown) => {
      failed.abort();
      throw e;
    }),
  );
  await Promise.all(workers);
  return total;
}
