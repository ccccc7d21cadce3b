/**
 * Reads an uploaded project zip (Azkaban style) into memory, defensively: the archive comes from a
 * user, so every name, file type and size is treated as hostile. Nothing is written to disk.
 *
 * What is refused, and with which code:
 * - PAYLOAD_TOO_LARGE: an archive over `maxArchiveBytes`, more than `maxEntries` entries, or more
 *   than `maxExpandedBytes` of content. The expanded size is the count of bytes actually inflated,
 *   checked chunk by chunk, so reading stops as soon as the limit is passed whatever the headers say.
 * - INVALID_ARCHIVE: anything that is not an intact zip; entry names that are absolute, contain a
 *   `..` segment or a control character; symlinks, devices, fifos and sockets; encrypted entries;
 *   compression methods other than store/deflate; two entries with the same normalised path, or a
 *   path that is both a file and a folder; and compression ratios typical of zip bombs (below).
 *
 * Compression-ratio rule: an entry, or the archive as a whole, may inflate to at most
 * `maxCompressionRatio` times its compressed size, but the rule is only applied once more than
 * RATIO_JUDGED_ABOVE_BYTES (1 MiB) has been inflated from it. Small text files routinely compress
 * 10–1000×, and a megabyte or less of content is harmless however well it compresses. The entry's
 * compressed size is trustworthy for this purpose because yauzl never reads more compressed bytes
 * than the central directory declares; the archive's compressed size is the upload's length. Both
 * ratios only grow while inflating, so they are checked on every chunk and a bomb is stopped after
 * inflating about `maxCompressionRatio` × its compressed size.
 *
 * After reading, macOS junk (`__MACOSX/`, `.DS_Store`) is dropped, and while every file sits under
 * one single top-level folder that folder is stripped (`zip -r x.zip hello-flow` → root). Files
 * come back sorted by path (code-unit order).
 */
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { CaissonError } from '../../../common/errors.js';

export interface ArchiveLimits {
  /** Largest accepted upload, in bytes. */
  maxArchiveBytes: number;
  /** Most central-directory entries (files, folders and junk alike). */
  maxEntries: number;
  /** Most bytes of content once inflated, summed over all files. */
  maxExpandedBytes: number;
  /** Highest inflated/compressed ratio for an entry or the archive; see the rule above. */
  maxCompressionRatio: number;
}

export interface ArchiveFile {
  /** Relative, '/'-separated, with the shared root folder stripped. */
  path: string;
  content: Buffer;
}

/** Entries and archives that inflate to no more than this are never judged by their ratio. */
export const RATIO_JUDGED_ABOVE_BYTES = 1024 * 1024;

const EXPECTED_ZIP = 'expected a .zip file such as one made by "zip -r project.zip my-project"';
const EXPECTED_PATH = 'expected a path inside the project such as "flows/hello.flow"';

const S_IFMT = 0o170000;
const SPECIAL_FILE_TYPES: ReadonlyMap<number, string> = new Map([
  [0o120000, 'a symbolic link'],
  [0o140000, 'a socket'],
  [0o060000, 'a block device'],
  [0o020000, 'a character device'],
  [0o010000, 'a named pipe (FIFO)'],
]);
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
const MACOS_JUNK_FOLDER = '__MACOSX';
const MACOS_JUNK_FILE = '.DS_Store';

// yauzl documents getFileNameLowLevel (for decodeStrings: false) but @types/yauzl predates it.
type DecodeFileName = (generalPurposeBitFlag: number, fileName: Buffer, extraFields: Entry['extraFields'], strict: boolean) => string;
const { getFileNameLowLevel } = yauzl as unknown as { getFileNameLowLevel: DecodeFileName };

interface ReadFile {
  path: string;
  rawName: string;
  content: Buffer;
}

/** Reads every regular file of a project zip into memory, refusing anything unsafe (see above). */
export async function readProjectArchive(zip: Buffer, limits: ArchiveLimits): Promise<ArchiveFile[]> {
  if (zip.length > limits.maxArchiveBytes) {
    throw new CaissonError(
      'PAYLOAD_TOO_LARGE',
      `The project archive is ${formatBytes(zip.length)}; expected at most ${formatBytes(limits.maxArchiveBytes)} ` +
        `(leave build outputs and data files out of the zip).`,
    );
  }
  const zipfile = await openZip(zip);
  try {
    if (zipfile.entryCount > limits.maxEntries) {
      throw new CaissonError(
        'PAYLOAD_TOO_LARGE',
        `The project archive has ${zipfile.entryCount} entries; expected at most ${limits.maxEntries} files and folders.`,
      );
    }
    const guard = new ExpansionGuard(zip.length, limits);
    const files: ReadFile[] = [];
    const rawNameByPath = new Map<string, string>();
    for (let index = 1; ; index++) {
      const entry = await readNextEntry(zipfile, index);
      if (entry === undefined) break;
      const rawName = getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileName as unknown as Buffer, entry.extraFields, true);
      const name = JSON.stringify(rawName);
      const { path, endsWithSlash } = normaliseEntryName(rawName);
      if (isMacosJunk(path)) continue;

      const fileType = (entry.externalFileAttributes >>> 16) & S_IFMT;
      const special = SPECIAL_FILE_TYPES.get(fileType);
      if (special !== undefined) {
        throw invalid(`Project archive entry ${name} is ${special}; expected only regular files and folders.`, rawName);
      }
      if (fileType !== 0 && fileType !== S_IFREG && fileType !== S_IFDIR) {
        throw invalid(
          `Project archive entry ${name} has unknown file type 0o${fileType.toString(8)}; expected only regular files and folders.`,
          rawName,
        );
      }
      if (endsWithSlash || fileType === S_IFDIR) continue;
      if (path === '') throw invalid(`Project archive entry ${name} has an empty path; ${EXPECTED_PATH}.`, rawName);
      if (entry.isEncrypted()) throw encrypted(name, rawName);

      const earlier = rawNameByPath.get(path);
      if (earlier !== undefined) {
        throw invalid(
          `Project archive has two entries for ${JSON.stringify(path)} (${JSON.stringify(earlier)} and ${name}); expected each path once.`,
          rawName,
        );
      }
      rawNameByPath.set(path, rawName);

      if (entry.compressionMethod !== METHOD_STORE && entry.compressionMethod !== METHOD_DEFLATE) {
        throw invalid(
          `Project archive entry ${name} uses compression method ${entry.compressionMethod}; ` +
            `expected stored or deflated entries (the default of zip tools).`,
          rawName,
        );
      }
      const content = await inflateEntry(zipfile, entry, rawName, guard);
      files.push({ path, rawName, content });
    }
    refuseFileFolderClashes(files);
    return stripSharedRootFolders(files)
      .map(({ path, content }) => ({ path, content }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  } finally {
    zipfile.close();
  }
}

/**
 * Counts inflated bytes as they stream and enforces the expansion limits: per-entry ratio, archive
 * ratio, then total size (so a bomb is reported as a bomb even when it also passes the total).
 */
class ExpansionGuard {
  private totalBytes = 0;

  constructor(
    private readonly archiveBytes: number,
    private readonly limits: ArchiveLimits,
  ) {}

  /** Records `chunkBytes` more inflated bytes of an entry that has now produced `entryBytes`. */
  add(rawName: string, compressedSize: number, entryBytes: number, chunkBytes: number): void {
    this.totalBytes += chunkBytes;
    const name = JSON.stringify(rawName);
    const { maxCompressionRatio: ratio, maxExpandedBytes } = this.limits;
    if (entryBytes > RATIO_JUDGED_ABOVE_BYTES && entryBytes > ratio * compressedSize) {
      throw invalid(
        `Project archive entry ${name} inflates to more than ${ratio} times its compressed size; ` +
          `expected at most ${ratio}:1 for files over ${formatBytes(RATIO_JUDGED_ABOVE_BYTES)} (this looks like a zip bomb).`,
        rawName,
      );
    }
    if (this.totalBytes > RATIO_JUDGED_ABOVE_BYTES && this.totalBytes > ratio * this.archiveBytes) {
      throw invalid(
        `The project archive inflates to more than ${ratio} times its size of ${formatBytes(this.archiveBytes)} ` +
          `(limit passed while inflating ${name}); expected at most ${ratio}:1 overall (this looks like a zip bomb).`,
        rawName,
      );
    }
    if (this.totalBytes > maxExpandedBytes) {
      throw new CaissonError(
        'PAYLOAD_TOO_LARGE',
        `The project archive expands to more than ${formatBytes(maxExpandedBytes)} (limit passed while inflating ${name}); ` +
          `expected at most ${formatBytes(maxExpandedBytes)} of uncompressed files.`,
        { details: { entry: rawName } },
      );
    }
  }
}

function openZip(zip: Buffer): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    // decodeStrings: false so that yauzl neither rewrites backslashes nor rejects names itself:
    // we decode them with its own getFileNameLowLevel and report bad names with their raw text.
    yauzl.fromBuffer(zip, { lazyEntries: true, validateEntrySizes: true, decodeStrings: false }, (err, zipfile) => {
      if (err !== null) {
        const detail = err.message.startsWith('End of central directory record signature not found')
          ? 'no end-of-central-directory record: the file is not a zip or is truncated'
          : err.message;
        reject(notAZip(detail, err));
      } else {
        resolve(zipfile);
      }
    });
  });
}

/** The next central-directory entry, or undefined after the last one. `index` is 1-based. */
function readNextEntry(zipfile: ZipFile, index: number): Promise<Entry | undefined> {
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      zipfile.off('entry', onEntry);
      zipfile.off('end', onEnd);
      zipfile.off('error', onError);
    };
    const onEntry = (entry: Entry): void => {
      settle();
      resolve(entry);
    };
    const onEnd = (): void => {
      settle();
      resolve(undefined);
    };
    const onError = (err: Error): void => {
      settle();
      // yauzl refuses strong encryption (flag bit 6) before it has read the entry's name.
      if (err.message === 'strong encryption is not supported') reject(encrypted(`number ${index}`, undefined, err));
      else reject(notAZip(`entry number ${index}: ${err.message}`, err));
    };
    zipfile.on('entry', onEntry);
    zipfile.on('end', onEnd);
    zipfile.on('error', onError);
    zipfile.readEntry();
  });
}

function openEntryStream(zipfile: ZipFile, entry: Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zipfile.openReadStream(entry, (err, stream) => (err !== null ? reject(err) : resolve(stream)));
  });
}

/** Inflates one entry into memory, charging every chunk to the guard and checking the CRC-32. */
async function inflateEntry(zipfile: ZipFile, entry: Entry, rawName: string, guard: ExpansionGuard): Promise<Buffer> {
  const name = JSON.stringify(rawName);
  const chunks: Buffer[] = [];
  let size = 0;
  let crc = 0;
  try {
    const stream = await openEntryStream(zipfile, entry);
    // Throwing out of the loop destroys the stream, which stops yauzl reading and inflating.
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      guard.add(rawName, entry.compressedSize, size, chunk.length);
      crc = crc32(chunk, crc);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof CaissonError) throw err;
    throw notAZip(`entry ${name}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  // yauzl checks sizes but not checksums.
  if (crc !== entry.crc32) throw notAZip(`entry ${name}: CRC-32 mismatch, the data is corrupt`);
  return Buffer.concat(chunks, size);
}

/**
 * Validates a raw entry name and returns its normalised path: backslashes become '/', empty and
 * '.' segments vanish. Absolute names (`/x`, `\x`, `C:x`), '..' segments and control characters
 * are refused outright rather than resolved: no zip tool writes them.
 */
function normaliseEntryName(rawName: string): { path: string; endsWithSlash: boolean } {
  const name = JSON.stringify(rawName);
  const control = [...rawName].find((char) => char < ' ' || char === '\u007f');
  if (control !== undefined) {
    const codePoint = `U+${control.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    throw invalid(`Project archive entry ${name} contains the control character ${codePoint}; ${EXPECTED_PATH}.`, rawName);
  }
  if (/^[\\/]/.test(rawName) || /^[A-Za-z]:/.test(rawName)) {
    throw invalid(`Project archive entry ${name} is an absolute path; ${EXPECTED_PATH}.`, rawName);
  }
  const slashed = rawName.replace(/\\/g, '/');
  const segments = slashed.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) {
    throw invalid(`Project archive entry ${name} has a ".." segment that could escape the archive root; ${EXPECTED_PATH}.`, rawName);
  }
  return { path: segments.join('/'), endsWithSlash: slashed.endsWith('/') };
}

function isMacosJunk(path: string): boolean {
  const segments = path.split('/');
  return segments.includes(MACOS_JUNK_FOLDER) || segments[segments.length - 1] === MACOS_JUNK_FILE;
}

/** Refuses `a` and `a/b` both being files: no file system can hold both. */
function refuseFileFolderClashes(files: ReadFile[]): void {
  const paths = new Set(files.map((f) => f.path));
  for (const file of files) {
    const segments = file.path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const folder = segments.slice(0, i).join('/');
      if (paths.has(folder)) {
        throw invalid(
          `Project archive entry ${JSON.stringify(file.rawName)} is inside ${JSON.stringify(folder)}, which is also a file; ` +
            `expected each path to be either a file or a folder.`,
          file.rawName,
        );
      }
    }
  }
}

/** While every file sits under the same top-level folder, removes that folder from the paths. */
function stripSharedRootFolders(files: ReadFile[]): ReadFile[] {
  let result = files;
  for (;;) {
    const root = result[0]?.path.split('/')[0];
    if (root === undefined || !result.every((f) => f.path.startsWith(`${root}/`))) return result;
    result = result.map((f) => ({ ...f, path: f.path.slice(root.length + 1) }));
  }
}

function invalid(message: string, entry: string | undefined, cause?: unknown): CaissonError {
  return new CaissonError('INVALID_ARCHIVE', message, { cause, details: entry === undefined ? {} : { entry } });
}

function notAZip(detail: string, cause?: unknown): CaissonError {
  return invalid(`The project archive is not a valid zip archive (${detail}); ${EXPECTED_ZIP}.`, undefined, cause);
}

function encrypted(name: string, rawName: string | undefined, cause?: unknown): CaissonError {
  return invalid(`Project archive entry ${name} is encrypted; expected an unencrypted zip (create it without a password).`, rawName, cause);
}

/** `512 bytes`, `1.5 KiB`, `10 MiB`: binary units, at most one decimal. */
function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(1))} ${units[unit]}`;
}
