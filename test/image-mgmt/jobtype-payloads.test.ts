import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseJobtypeManifest } from '../../common/jobtype-manifest.js';
import { copyPayloads, findPayloadDir, shippedJobtypes } from '../../image-mgmt/src/jobtype-payloads.js';
import { REPO_ROOT } from '../support/projects.js';

const MANIFEST = 'version: 2.1\nlauncher: bin/run\nproperties:\n  a: 1\nenv:\n  X: y\n';

describe('jobtype payloads', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-payloads-'));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  function payload(dir: string, manifest = MANIFEST): string {
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'jobtype.yaml'), manifest);
    fs.writeFileSync(path.join(dir, 'bin', 'run'), '#!/bin/sh\n', { mode: 0o755 });
    return dir;
  }

  it('parses a manifest with launcher, version, default properties and environment', () => {
    assert.deepEqual(parseJobtypeManifest(MANIFEST), {
      launcher: 'bin/run',
      version: '2.1',
      description: '',
      properties: { a: '1' },
      env: { X: 'y' },
    });
  });

  it('refuses a launcher outside the payload and a bad version, with exact messages', () => {
    assert.throws(() => parseJobtypeManifest('version: 1\nlauncher: ../x\n'), {
      message: 'launcher must name an executable inside the payload, got "../x"',
    });
    assert.throws(() => parseJobtypeManifest('version: v1\nlauncher: x\n'), {
      message: 'version must be 1 to 4 dot-separated numbers, got "v1"',
    });
  });

  it('finds <dir>/<path>/<version>/ first, then <dir>/<name>/payload/, in directory order', () => {
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    payload(path.join(b, 'reg', 'spark', '2.1'));
    payload(path.join(a, 'spark', 'payload'));
    assert.equal(findPayloadDir([a, b], 'reg/spark', '2.1'), path.join(a, 'spark', 'payload'));
    assert.equal(findPayloadDir([b, a], 'reg/spark', '2.1'), path.join(b, 'reg', 'spark', '2.1'));
    assert.equal(findPayloadDir([b], 'reg/spark', '9.9'), undefined);
  });

  it('copies each payload into <target>/<imageType>/ keeping the launcher executable', async () => {
    payload(path.join(root, 'imgs', 'spark', 'payload'));
    const target = path.join(root, 'exec', 'jobtypes');
    await copyPayloads([{ imageType: 'spark', path: 'spark', version: '2.1' }], [path.join(root, 'imgs')], target);
    assert.equal(fs.readFileSync(path.join(target, 'spark', 'jobtype.yaml'), 'utf8'), MANIFEST);
    assert.ok((fs.statSync(path.join(target, 'spark', 'bin', 'run')).mode & 0o111) !== 0);
  });

  it('names every image without a payload and copies nothing', async () => {
    payload(path.join(root, 'imgs', 'spark', 'payload'));
    const target = path.join(root, 'exec', 'jobtypes');
    await assert.rejects(
      copyPayloads(
        [
          { imageType: 'spark', path: 'spark', version: '2.1' },
          { imageType: 'hive', path: 'reg/hive', version: '1.0' },
        ],
        [path.join(root, 'imgs')],
        target,
      ),
      { message: `no jobtype payload for image reg/hive:1.0 under ${path.join(root, 'imgs')}` },
    );
    assert.equal(fs.existsSync(target), false);
  });

  it('lists the jobtypes shipped in docker/jobtypes at the version their payload declares', () => {
    const shipped = shippedJobtypes(path.join(REPO_ROOT, 'docker', 'jobtypes'));
    assert.deepEqual(
      shipped.find((s) => s.imageType === 'bash'),
      { imageType: 'bash', path: 'bash', version: '1.0.0', description: "Runs the job's script property with bash" },
    );
  });
});
