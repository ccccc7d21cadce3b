import assert from 'node:assert/strict';
import yazl from 'yazl';
import { CaissonError } from '../../../common/errors.js';
import type { ErrorCode } from '../../../common/errors.js';
import { readProjectArchive } from '../../../web-server/src/projects/archive.js';
import type { ArchiveFile, ArchiveLimits } from '../../../web-server/src/projects/archive.js';
import { buildZip } from '../../support/zip-builder.js';
import type { ZipEntrySpec } from '../../support/zip-builder.js';

const MiB = 1024 * 1024;
const LIMITS: ArchiveLimits = { maxArchiveBytes: 10 * MiB, maxEntries: 100, maxExpandedBytes: 64 * MiB, maxCompressionRatio: 100 };
const EXPECTED_ZIP = 'expected a .zip file such as one made by "zip -r project.zip my-project"';
const EXPECTED_PATH = 'expected a path inside the project such as "flows/hello.flow"';
const NOT_A_ZIP = `The project archive is not a valid zip archive (no end-of-central-directory record: the file is not a zip or is truncated); ${EXPECTED_ZIP}.`;

async function read(entries: ZipEntrySpec[], limits: ArchiveLimits = LIMITS): Promise<Record<string, string>> {
  const files = await readProjectArchive(buildZip(entries), limits);
  return asRecord(files);
}

function asRecord(files: ArchiveFile[]): Record<string, string> {
  return Object.fromEntries(files.map((f) => [f.path, f.content.toString('utf8')]));
}

async function assertRefused(zip: Buffer, code: ErrorCode, message: string, limits: ArchiveLimits = LIMITS): Promise<void> {
  await assert.rejects(readProjectArchive(zip, limits), (err: unknown) => {
    assert.ok(err instanceof CaissonError, `expected a CaissonError, got ${String(err)}`);
    assert.equal(err.message, message);
    assert.equal(err.code, code);
    return true;
  });
}

function zipWithYazl(build: (zip: yazl.ZipFile) => void): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  build(zip);
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

describe('readProjectArchive', () => {
  describe('reading', () => {
    it('returns every file with its content, sorted by path', async () => {
      const files = await readProjectArchive(
        buildZip([
          { name: 'z.properties', content: 'z=1' },
          { name: 'flows/b.flow', content: 'b', method: 'store' },
          { name: 'flows/a.flow', content: 'a' },
          { name: 'README.md', content: '# hi' },
        ]),
        LIMITS,
      );
      assert.deepEqual(
        files.map((f) => f.path),
        ['README.md', 'flows/a.flow', 'flows/b.flow', 'z.properties'],
      );
      assert.deepEqual(asRecord(files), { 'README.md': '# hi', 'flows/a.flow': 'a', 'flows/b.flow': 'b', 'z.properties': 'z=1' });
    });

    it('strips the single top-level folder that holds every file and skips folder entries', async () => {
      const files = await read([
        { name: 'hello-flow/', directory: true },
        { name: 'hello-flow/flows/', directory: true },
        { name: 'hello-flow/flows/hello.flow', content: 'nodes: []' },
        { name: 'hello-flow/run.sh', content: 'echo hi', mode: 0o100755 },
      ]);
      assert.deepEqual(files, { 'flows/hello.flow': 'nodes: []', 'run.sh': 'echo hi' });
    });

    it('strips shared top-level folders repeatedly', async () => {
      const files = await read([
        { name: 'examples/hello-flow/flows/hello.flow', content: 'h' },
        { name: 'examples/hello-flow/flows/bye.flow', content: 'b' },
      ]);
      assert.deepEqual(files, { 'bye.flow': 'b', 'hello.flow': 'h' });
    });

    it('keeps the paths when there are two top-level items', async () => {
      assert.deepEqual(
        await read([
          { name: 'hello-flow/a.flow', content: 'a' },
          { name: 'other/b.flow', content: 'b' },
        ]),
        {
          'hello-flow/a.flow': 'a',
          'other/b.flow': 'b',
        },
      );
      assert.deepEqual(
        await read([
          { name: 'hello-flow/a.flow', content: 'a' },
          { name: 'README.md', content: 'r' },
        ]),
        {
          'README.md': 'r',
          'hello-flow/a.flow': 'a',
        },
      );
    });

    it('skips __MACOSX resource forks and .DS_Store files before stripping the root folder', async () => {
      const files = await read([
        { name: 'hello-flow/a.flow', content: 'a' },
        { name: 'hello-flow/.DS_Store', content: 'junk' },
        { name: '__MACOSX/', directory: true },
        { name: '__MACOSX/hello-flow/._a.flow', content: 'junk' },
      ]);
      assert.deepEqual(files, { 'a.flow': 'a' });
    });

    it('normalises backslashes, empty segments and "." segments into "/"-separated paths', async () => {
      const files = await read([
        { name: 'flows\\a.flow', content: 'a' },
        { name: './b.flow', content: 'b' },
        { name: 'lib//c.jar', content: 'c' },
      ]);
      assert.deepEqual(files, { 'b.flow': 'b', 'flows/a.flow': 'a', 'lib/c.jar': 'c' });
    });

    it('accepts a file under 1 MiB that compresses far beyond the ratio limit', async () => {
      const text = 'a'.repeat(MiB - 1);
      const files = await read([{ name: 'big.txt', content: text }], { ...LIMITS, maxCompressionRatio: 2 });
      assert.deepEqual(files, { 'big.txt': text });
    });

    it('returns no files for an archive that holds only folders', async () => {
      assert.deepEqual(await read([{ name: 'empty/', directory: true }]), {});
    });

    it('reads a zip written by yazl the way zip tools write them', async () => {
      const zip = await zipWithYazl((z) => {
        const mtime = new Date('2024-05-01T12:00:00Z');
        z.addEmptyDirectory('hello-flow/', { mtime });
        z.addEmptyDirectory('hello-flow/flows/', { mtime });
        z.addBuffer(Buffer.from('nodes:\n  - name: hello\n'), 'hello-flow/flows/hello.flow', { mtime });
        z.addBuffer(Buffer.from('#!/bin/sh\necho hello\n'), 'hello-flow/scripts/run.sh', { mtime, mode: 0o100755 });
        z.addBuffer(Buffer.from('# Hello flow\n'), 'hello-flow/README.md', { mtime, compress: false });
        z.addBuffer(Buffer.from('x'.repeat(100_000)), 'hello-flow/data/big.csv', { mtime });
        z.addBuffer(Buffer.from('junk'), '__MACOSX/hello-flow/._README.md', { mtime });
      });
      const files = await readProjectArchive(zip, LIMITS);
      assert.deepEqual(
        files.map((f) => f.path),
        ['README.md', 'data/big.csv', 'flows/hello.flow', 'scripts/run.sh'],
      );
      assert.equal(files[1]!.content.length, 100_000);
      assert.equal(files[2]!.content.toString(), 'nodes:\n  - name: hello\n');
    });
  });

  describe('refusing damaged input', () => {
    it('refuses a text file that is not a zip', async () => {
      await assertRefused(Buffer.from('nodes:\n  - name: hello\n'), 'INVALID_ARCHIVE', NOT_A_ZIP);
    });

    it('refuses an empty upload', async () => {
      await assertRefused(Buffer.alloc(0), 'INVALID_ARCHIVE', NOT_A_ZIP);
    });

    it('refuses a truncated zip', async () => {
      const zip = buildZip([{ name: 'a.flow', content: 'a' }]);
      await assertRefused(zip.subarray(0, zip.length - 10), 'INVALID_ARCHIVE', NOT_A_ZIP);
    });

    it('refuses an entry whose data fails its CRC-32 check', async () => {
      await assertRefused(
        buildZip([{ name: 'a.flow', content: 'a', crc32: 0x12345678 }]),
        'INVALID_ARCHIVE',
        `The project archive is not a valid zip archive (entry "a.flow": CRC-32 mismatch, the data is corrupt); ${EXPECTED_ZIP}.`,
      );
    });

    it('refuses an entry that inflates to more than its header declares', async () => {
      await assertRefused(
        buildZip([{ name: 'a.bin', content: Buffer.alloc(100_000), declaredSize: 10 }]),
        'INVALID_ARCHIVE',
        `The project archive is not a valid zip archive (entry "a.bin": too many bytes in the stream. expected 10. got at least 16384); ${EXPECTED_ZIP}.`,
      );
    });

    it('refuses an entry compressed with a method other than store or deflate', async () => {
      await assertRefused(
        buildZip([{ name: 'a.flow', content: 'a', rawMethod: 12 }]),
        'INVALID_ARCHIVE',
        'Project archive entry "a.flow" uses compression method 12; expected stored or deflated entries (the default of zip tools).',
      );
    });
  });

  describe('refusing unsafe names', () => {
    it('refuses an entry that escapes the archive root', async () => {
      await assertRefused(
        buildZip([{ name: '../evil.sh', content: 'rm -rf /' }]),
        'INVALID_ARCHIVE',
        `Project archive entry "../evil.sh" has a ".." segment that could escape the archive root; ${EXPECTED_PATH}.`,
      );
    });

    it('refuses an entry whose ".." segments climb out from a folder', async () => {
      await assertRefused(
        buildZip([{ name: 'a/../../x', content: 'x' }]),
        'INVALID_ARCHIVE',
        `Project archive entry "a/../../x" has a ".." segment that could escape the archive root; ${EXPECTED_PATH}.`,
      );
    });

    it('refuses a backslash traversal', async () => {
      await assertRefused(
        buildZip([{ name: '..\\x', content: 'x' }]),
        'INVALID_ARCHIVE',
        `Project archive entry "..\\\\x" has a ".." segment that could escape the archive root; ${EXPECTED_PATH}.`,
      );
    });

    it('refuses an absolute entry name', async () => {
      await assertRefused(
        buildZip([{ name: '/etc/passwd', content: 'root' }]),
        'INVALID_ARCHIVE',
        `Project archive entry "/etc/passwd" is an absolute path; ${EXPECTED_PATH}.`,
      );
    });

    it('refuses a Windows drive path', async () => {
      await assertRefused(
        buildZip([{ name: 'C:\\x', content: 'x' }]),
        'INVALID_ARCHIVE',
        `Project archive entry "C:\\\\x" is an absolute path; ${EXPECTED_PATH}.`,
      );
    });

    it('refuses a name containing a NUL byte', async () => {
      await assertRefused(
        buildZip([{ name: 'a.flow\u0000.txt', content: 'x' }]),
        'INVALID_ARCHIVE',
        `Project archive entry "a.flow\\u0000.txt" contains the control character U+0000; ${EXPECTED_PATH}.`,
      );
    });

    it('refuses two entries with the same path after normalisation', async () => {
      await assertRefused(
        buildZip([
          { name: 'flows/a.flow', content: 'one' },
          { name: 'flows\\a.flow', content: 'two' },
        ]),
        'INVALID_ARCHIVE',
        'Project archive has two entries for "flows/a.flow" ("flows/a.flow" and "flows\\\\a.flow"); expected each path once.',
      );
    });

    it('refuses a path that is both a file and a folder', async () => {
      await assertRefused(
        buildZip([
          { name: 'flows', content: 'a file' },
          { name: 'flows/a.flow', content: 'a' },
        ]),
        'INVALID_ARCHIVE',
        'Project archive entry "flows/a.flow" is inside "flows", which is also a file; expected each path to be either a file or a folder.',
      );
    });
  });

  describe('refusing unsafe entries', () => {
    it('refuses a symbolic link', async () => {
      await assertRefused(
        buildZip([
          { name: 'hello-flow/a.flow', content: 'a' },
          { name: 'hello-flow/passwd', content: '/etc/passwd', mode: 0o120777 },
        ]),
        'INVALID_ARCHIVE',
        'Project archive entry "hello-flow/passwd" is a symbolic link; expected only regular files and folders.',
      );
    });

    it('refuses devices, named pipes and sockets', async () => {
      const kinds: [number, string][] = [
        [0o020666, 'a character device'],
        [0o060660, 'a block device'],
        [0o010644, 'a named pipe (FIFO)'],
        [0o140755, 'a socket'],
      ];
      for (const [mode, kind] of kinds) {
        await assertRefused(
          buildZip([{ name: 'dev/thing', mode }]),
          'INVALID_ARCHIVE',
          `Project archive entry "dev/thing" is ${kind}; expected only regular files and folders.`,
        );
      }
    });

    it('refuses an encrypted entry', async () => {
      await assertRefused(
        buildZip([{ name: 'secret.properties', content: 'password=hunter2', encrypted: true }]),
        'INVALID_ARCHIVE',
        'Project archive entry "secret.properties" is encrypted; expected an unencrypted zip (create it without a password).',
      );
    });
  });

  describe('enforcing size limits', () => {
    it('refuses an archive larger than maxArchiveBytes', async () => {
      const zip = buildZip([{ name: 'a.bin', content: Buffer.alloc(3000, 7), method: 'store' }]);
      assert.equal(zip.length, 3108);
      await assertRefused(
        zip,
        'PAYLOAD_TOO_LARGE',
        `The project archive is 3 KiB; expected at most 2 KiB (leave build outputs and data files out of the zip).`,
        { ...LIMITS, maxArchiveBytes: 2048 },
      );
    });

    it('refuses more entries than maxEntries, folders included', async () => {
      await assertRefused(
        buildZip([
          { name: 'a/', directory: true },
          { name: 'a/b.flow', content: 'b' },
          { name: 'a/c.flow', content: 'c' },
        ]),
        'PAYLOAD_TOO_LARGE',
        'The project archive has 3 entries; expected at most 2 files and folders.',
        { ...LIMITS, maxEntries: 2 },
      );
    });

    it('refuses content that expands beyond maxExpandedBytes, naming the entry that passed it', async () => {
      await assertRefused(
        buildZip([
          { name: 'a.bin', content: Buffer.alloc(600, 1) },
          { name: 'b.bin', content: Buffer.alloc(600, 2) },
        ]),
        'PAYLOAD_TOO_LARGE',
        'The project archive expands to more than 1000 bytes (limit passed while inflating "b.bin"); expected at most 1000 bytes of uncompressed files.',
        { ...LIMITS, maxExpandedBytes: 1000 },
      );
    });

    it('refuses an archive whose many small entries together inflate beyond the ratio limit', async () => {
      const entries = ['a', 'b', 'c', 'd'].map((n) => ({ name: `${n}.bin`, content: Buffer.alloc(900 * 1024) }));
      const zip = buildZip(entries);
      assert.ok(zip.length > 1024 && zip.length < 10 * 1024, `the archive is ${zip.length} bytes`);
      await assertRefused(
        zip,
        'INVALID_ARCHIVE',
        `The project archive inflates to more than 100 times its size of ${Number((zip.length / 1024).toFixed(1))} KiB ` +
          '(limit passed while inflating "b.bin"); expected at most 100:1 overall (this looks like a zip bomb).',
      );
    });

    describe('with a 200 MiB zip bomb', function () {
      this.timeout(20_000);
      let bomb: Buffer;

      before(() => {
        bomb = buildZip([
          { name: 'bomb/README.md', content: 'nothing to see' },
          { name: 'bomb/zeros.bin', content: Buffer.alloc(200 * MiB) },
        ]);
        assert.ok(bomb.length < 300 * 1024, `the bomb is ${bomb.length} bytes`);
      });

      it('stops inflating it once the compression ratio passes the limit', async () => {
        await assertRefused(
          bomb,
          'INVALID_ARCHIVE',
          'Project archive entry "bomb/zeros.bin" inflates to more than 100 times its compressed size; ' +
            'expected at most 100:1 for files over 1 MiB (this looks like a zip bomb).',
        );
      });

      it('stops inflating it at maxExpandedBytes when the ratio limit is lax', async () => {
        await assertRefused(
          bomb,
          'PAYLOAD_TOO_LARGE',
          'The project archive expands to more than 8 MiB (limit passed while inflating "bomb/zeros.bin"); ' +
            'expected at most 8 MiB of uncompressed files.',
          { ...LIMITS, maxCompressionRatio: 100_000, maxExpandedBytes: 8 * MiB },
        );
      });
    });
  });
});
