/** Project archives for tests, built in memory from the examples folder or from literal files. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildZip } from './zip-builder.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function zipOfFiles(files: Record<string, string | Buffer>): Buffer {
  return buildZip(Object.entries(files).map(([name, content]) => ({ name, content, method: 'deflate' as const })));
}

/** Zips examples/<name>/ with the folder as the archive's single top-level directory. */
export function zipOfExample(name: string): Buffer {
  const dir = path.join(REPO_ROOT, 'examples', name);
  const files: Record<string, Buffer> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[`${name}/${path.relative(dir, full).split(path.sep).join('/')}`] = fs.readFileSync(full);
  }
  return zipOfFiles(files);
}
