#!/usr/bin/env node
/* global process, console */
// Launcher of the `python` jobtype: reads the job's properties from $JOB_PROP_FILE and runs
// `<python.executable> <script> <args...>` in the job's working directory. The script reads the
// properties itself from $JOB_PROP_FILE (a JSON object) and may write its output properties to
// $JOB_OUTPUT_PROP_FILE; `env.NAME` properties are exported as NAME.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const props = JSON.parse(fs.readFileSync(process.env.JOB_PROP_FILE, 'utf8'));
const script = props.script;
if (typeof script !== 'string' || script.trim() === '') {
  console.error('the python job has no "script" property (a .py file of the project)');
  process.exit(2);
}
if (!fs.existsSync(script)) {
  console.error(`the python script ${script} does not exist in ${process.cwd()}`);
  process.exit(2);
}
const env = { ...process.env, PYTHONUNBUFFERED: '1' };
for (const [k, v] of Object.entries(props)) if (k.startsWith('env.') && k.length > 4) env[k.slice(4)] = String(v);
const args = String(props['python.args'] ?? '')
  .split(/\s+/)
  .filter((a) => a !== '');
const python = String(props['python.executable'] ?? 'python3');
const r = spawnSync(python, [script, ...args], { stdio: 'inherit', env });
if (r.error) {
  console.error(`${python} could not start: ${r.error.message}`);
  process.exit(127);
}
process.exit(r.status ?? 1);
