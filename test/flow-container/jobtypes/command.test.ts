import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareCommands } from '../../../flow-container/src/jobtypes/command.js';
import { parseOutputParams, readOutputParams } from '../../../flow-container/src/jobtypes/output-params.js';
import { projectFileDestination } from '../../../flow-container/src/project-download.js';

describe('the command jobtype', () => {
  const base = { projectDir: '/work/project', baseEnv: { PATH: '/usr/bin' }, outputPropFile: '/work/outputs/a.0.json' };

  it('substitutes command, command.1, … in order and stops at the first gap', () => {
    const prepared = prepareCommands({
      ...base,
      properties: [{ command: 'echo ${x}', 'command.1': 'echo one', 'command.2': 'echo two', 'command.4': 'never' }, { x: 'X' }],
    });
    assert.ok(prepared.ok);
    assert.deepEqual(prepared.value.commands, [
      { key: 'command', line: 'echo X' },
      { key: 'command.1', line: 'echo one' },
      { key: 'command.2', line: 'echo two' },
    ]);
    assert.equal(prepared.value.cwd, '/work/project');
  });

  it('fails naming an unresolved property and where it is used', () => {
    assert.deepEqual(prepareCommands({ ...base, properties: [{ command: 'echo ok', 'command.1': 'echo ${nope}' }] }), {
      ok: false,
      message: 'unresolved property ${nope} in command.1',
    });
  });

  it('fails without a command', () => {
    assert.deepEqual(prepareCommands({ ...base, properties: [{}] }), { ok: false, message: 'the command job has no "command" property' });
  });

  it('runs in working.dir relative to the project directory', () => {
    const prepared = prepareCommands({ ...base, properties: [{ command: 'pwd', 'working.dir': 'sub/${d}' }, { d: 'dir' }] });
    assert.ok(prepared.ok);
    assert.equal(prepared.value.cwd, '/work/project/sub/dir');
  });

  it('adds env.NAME properties to the environment, never system variables, and sets JOB_OUTPUT_PROP_FILE', () => {
    const prepared = prepareCommands({
      ...base,
      properties: [
        { command: 'env', 'env.GREETING': 'hi ${who}', 'env.CAISSON_EXEC_TOKEN': 'stolen', 'env.JOB_OUTPUT_PROP_FILE': '/tmp/x' },
        { who: 'there', 'env.GREETING': 'ignored', 'env.LEVEL': 'flow' },
      ],
    });
    assert.ok(prepared.ok);
    assert.deepEqual(prepared.value.env, {
      PATH: '/usr/bin',
      GREETING: 'hi there',
      LEVEL: 'flow',
      JOB_OUTPUT_PROP_FILE: '/work/outputs/a.0.json',
    });
    assert.deepEqual(prepared.ignoredVariables, ['CAISSON_EXEC_TOKEN', 'JOB_OUTPUT_PROP_FILE']);
  });
});

describe('output parameters', () => {
  it('are the JSON object the job wrote, values as strings', () => {
    assert.deepEqual(parseOutputParams('{"a":"x","n":3,"f":1.5,"b":true,"z":null,"o":{"k":[1]}}'), {
      ok: true,
      params: { a: 'x', n: '3', f: '1.5', b: 'true', z: '', o: '{"k":[1]}' },
    });
  });

  it('are none for an empty file', () => {
    assert.deepEqual(parseOutputParams('  \n'), { ok: true, params: {} });
  });

  it('fail on invalid JSON or something other than an object', () => {
    const bad = parseOutputParams('{oops');
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.message : '', /^output parameters in JOB_OUTPUT_PROP_FILE are not valid JSON: /);
    assert.deepEqual(parseOutputParams('[1]'), {
      ok: false,
      message: 'output parameters in JOB_OUTPUT_PROP_FILE must be a JSON object of names to values',
    });
  });

  it('are none when the file is missing', async () => {
    assert.deepEqual(await readOutputParams(path.join(os.tmpdir(), 'caisson-no-such-output.json')), { ok: true, params: {} });
  });

  it('are read from the file', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'caisson-out-')), 'o.json');
    fs.writeFileSync(file, '{"k":"v"}');
    assert.deepEqual(await readOutputParams(file), { ok: true, params: { k: 'v' } });
  });
});

describe('project file destinations', () => {
  it('are under the project directory', () => {
    assert.equal(projectFileDestination('/w/project', 'flows/daily.flow'), '/w/project/flows/daily.flow');
    assert.equal(projectFileDestination('/w/project', 'a b/é.txt'), '/w/project/a b/é.txt');
  });

  for (const bad of ['../etc/passwd', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a\\..\\b', '', 'a\u0000b', 'C:/x', 'a/..']) {
    it(`refuse ${JSON.stringify(bad)}`, () => {
      assert.throws(() => projectFileDestination('/w/project', bad), /refusing project file path/);
    });
  }
});
