/**
 * A tiny in-memory zip writer for tests. Unlike yazl it writes any raw entry name as given
 * (`../evil`, `/etc/passwd`, `C:\x`, names with NUL bytes), any unix mode (symlinks, devices) and,
 * on request, headers that lie, so the archive reader can be tested against hostile uploads.
 *
 * Layout: one local file header + data per entry, then the central directory, then the end of
 * central directory record (APPNOTE 4.3). No zip64, no data descriptors, no extra fields; every
 * name is flagged UTF-8 (general purpose bit 11) and every entry is "made by" Unix.
 */
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntrySpec {
  /** The raw entry name, written byte for byte (UTF-8). Directories get a trailing `/` added. */
  name: string;
  content?: Buffer | string;
  /** Unix mode including the file type bits; defaults to 0o100644 (0o040755 for directories). */
  mode?: number;
  /** Defaults to 'deflate'. */
  method?: 'store' | 'deflate';
  directory?: boolean;
  /** Sets the "encrypted" flag and prefixes the data with a 12-byte (fake) ZipCrypto header. */
  encrypted?: boolean;
  /** Uncompressed size written to the headers instead of the real one (to test lying headers). */
  declaredSize?: number;
  /** Compression method number written to the headers, e.g. 12 (bzip2); the data is stored as is. */
  rawMethod?: number;
  /** CRC-32 written to the headers instead of the real one (to test corrupt data). */
  crc32?: number;
}

const LOCAL_FILE_HEADER = 0x04034b50;
const CENTRAL_DIRECTORY_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const VERSION_NEEDED = 20; // 2.0: deflate and folders
const MADE_BY_UNIX = (3 << 8) | VERSION_NEEDED;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
const MSDOS_DIRECTORY = 0x10;
// 2024-01-01 00:00:00 in MS-DOS format, so archives are byte-for-byte reproducible.
const DOS_DATE = ((2024 - 1980) << 9) | (1 << 5) | 1;
const DOS_TIME = 0;

/** Builds a zip archive holding `entries` in the given order. */
export function buildZip(entries: ZipEntrySpec[]): Buffer {
  const localParts: Buffer[] = [];
  const centralParts: Buffer[] = [];
  let offset = 0;

  for (const spec of entries) {
    const directory = spec.directory ?? false;
    const rawName = directory && !spec.name.endsWith('/') ? `${spec.name}/` : spec.name;
    const name = Buffer.from(rawName, 'utf8');
    const content = toBuffer(spec.content);
    const method = spec.method === 'store' || directory || spec.rawMethod !== undefined ? METHOD_STORE : METHOD_DEFLATE;
    let data = method === METHOD_DEFLATE ? deflateRawSync(content, { level: 9 }) : content;
    let flags = FLAG_UTF8;
    if (spec.encrypted === true) {
      flags |= FLAG_ENCRYPTED;
      data = Buffer.concat([Buffer.alloc(12, 0xa5), data]);
    }
    const crc = spec.crc32 ?? crc32(content);
    const uncompressedSize = spec.declaredSize ?? content.length;
    const mode = spec.mode ?? (directory ? 0o040755 : 0o100644);
    const externalAttributes = ((mode << 16) | (directory ? MSDOS_DIRECTORY : 0)) >>> 0;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL_FILE_HEADER, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(spec.rawMethod ?? method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(uncompressedSize, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra field length

    const central = Buffer.alloc(46);
    central.writeUInt32LE(CENTRAL_DIRECTORY_HEADER, 0);
    central.writeUInt16LE(MADE_BY_UNIX, 4);
    central.writeUInt16LE(VERSION_NEEDED, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(spec.rawMethod ?? method, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(uncompressedSize, 24);
    central.writeUInt16LE(name.length, 28);
    // 30 extra field length, 32 comment length, 34 disk number, 36 internal attributes: all 0
    central.writeUInt32LE(externalAttributes, 38);
    central.writeUInt32LE(offset, 42);

    localParts.push(local, name, data);
    centralParts.push(central, name);
    offset += local.length + name.length + data.length;
  }

  const centralDirectory = Buffer.concat(centralParts);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
  // 4 this disk, 6 disk with the central directory: both 0
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDirectory.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20); // comment length

  return Buffer.concat([...localParts, centralDirectory, end]);
}

function toBuffer(content: Buffer | string | undefined): Buffer {
  if (content === undefined) return Buffer.alloc(0);
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
}
