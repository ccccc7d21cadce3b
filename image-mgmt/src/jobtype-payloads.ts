/**
 * Jobtype payloads on disk (solo mode, DESIGN §2 and docs/jobtypes.md): a directory holding
 * `jobtype.yaml` (launcher, default properties, environment) and its files. A payload for image
 * `<path>:<version>` is found under the image directories as `<dir>/<path>/<version>/` or
 * `<dir>/<name>/payload/` (`<name>` the last segment of the path), in directory order.
 */
import fs from 'node:fs';
import path from 'node:path';
import { JOBTYPE_MANIFEST_FILE, parseJobtypeManifest, type JobtypeManifest } from '../../common/jobtype-manifest.js';

export const MANIFEST_FILE = JOBTYPE_MANIFEST_FILE;

/** Reads and checks a payload's `jobtype.yaml`; throws an Error naming the file and the problem. */
export function readJobtypeManifest(payloadDir: string): JobtypeManifest {
  const file = path.join(payloadDir, MANIFEST_FILE);
  try {
    return parseJobtypeManifest(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The payload directory of `<imagePath>:<version>`, or undefined. */
export function findPayloadDir(imageDirs: readonly string[], imagePath: string, version: string): string | undefined {
  const name =
    imagePath
      .split('/')
      .filter((s) => s !== '')
      .at(-1) ?? imagePath;
  for (const dir of imageDirs) {
    const versioned = path.join(dir, imagePath, version);
    if (isDir(versioned) && fs.existsSync(path.join(versioned, MANIFEST_FILE))) return versioned;
    const shipped = path.join(dir, name, 'payload');
    if (isDir(shipped) && fs.existsSync(path.join(shipped, MANIFEST_FILE))) return shipped;
  }
  return undefined;
}

export interface PayloadImage {
  imageType: string;
  path: string;
  version: string;
}

/**
 * Copies each image's payload to `<targetDir>/<imageType>/` (the init containers' work). Throws an
 * Error naming every image without a payload, before copying anything.
 */
export async function copyPayloads(images: readonly PayloadImage[], imageDirs: readonly string[], targetDir: string): Promise<void> {
  const found = images.map((i) => ({ image: i, dir: findPayloadDir(imageDirs, i.path, i.version) }));
  const missing = found.filter((f) => f.dir === undefined).map((f) => `${f.image.path}:${f.image.version}`);
  if (missing.length > 0) {
    throw new Error(`no jobtype payload for image ${missing.join(', ')} under ${imageDirs.join(', ') || '(no image directories)'}`);
  }
  for (const f of found) {
    const to = path.join(targetDir, f.image.imageType);
    await fs.promises.rm(to, { recursive: true, force: true });
    await fs.promises.cp(f.dir!, to, { recursive: true });
  }
}

/** The jobtypes shipped in `<root>/<name>/payload/`, as images to register (path = name). */
export function shippedJobtypes(root: string): { imageType: string; path: string; version: string; description: string }[] {
  if (!isDir(root)) return [];
  const out: { imageType: string; path: string; version: string; description: string }[] = [];
  for (const name of fs.readdirSync(root).sort()) {
    const payload = path.join(root, name, 'payload');
    if (!fs.existsSync(path.join(payload, MANIFEST_FILE))) continue;
    const m = readJobtypeManifest(payload);
    out.push({ imageType: name.toLowerCase(), path: name, version: m.version, description: m.description });
  }
  return out;
}
