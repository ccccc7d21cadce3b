import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtInJobtypes } from '../../../flow-container/src/jobtypes/registry.js';
import { resolvePluginProperties } from '../../../flow-container/src/jobtypes/plugin.js';

describe('plugin jobtypes', () => {
  it('puts the payload defaults below the job properties and substitutes references', () => {
    const r = resolvePluginProperties({ properties: { 'bash.options': '-eu', greeting: 'hi' } }, [
      { script: 'echo ${greeting} ${who}', who: 'you' },
      { greeting: 'hello' },
    ]);
    assert.deepEqual(r, { ok: true, value: { 'bash.options': '-eu', greeting: 'hello', script: 'echo hello you', who: 'you' } });
  });

  it('fails on an unresolved reference, naming the property', () => {
    const r = resolvePluginProperties({ properties: {} }, [{ script: 'echo ${nope}' }]);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.message, / in script$/);
  });

  it('loads each payload with a valid jobtype.yaml, never replacing a built-in, and warns about broken ones', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-jobtypes-'));
    try {
      for (const [name, manifest] of [
        ['Bash', 'version: 1.0.0\nlauncher: run\n'],
        ['command', 'version: 1.0.0\nlauncher: run\n'],
        ['broken', 'version: x\nlauncher: run\n'],
      ] as const) {
        fs.mkdirSync(path.join(dir, name));
        fs.writeFileSync(path.join(dir, name, 'jobtype.yaml'), manifest);
      }
      const warnings: string[] = [];
      const types = builtInJobtypes(dir, (m) => warnings.push(m));
      assert.deepEqual([...types.keys()].sort(), ['bash', 'command', 'noop']);
      assert.deepEqual(warnings, [
        `jobtype payload ${path.join(dir, 'broken')} is ignored: version must be 1 to 4 dot-separated numbers, got "x"`,
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
