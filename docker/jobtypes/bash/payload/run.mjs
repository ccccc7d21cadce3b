#!/usr/bin/env node
/* global process, console */
// Launcher of the `bash` jobtype: reads the job's properties from $JOB_PROP_FILE and runs its
// `script` with `bash <bash.options> -c <script>`, exporting `env.NAME` properties as NAME.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const props = JSON.parse(fs.readFileSync(process.env.JOB_PROP_FILE, 'utf8'));
const script = props.script;
if (typeof script !== 'string' || script.trim() === '') {
  console.error('the bash job has no "script" property');
  process.exit(2);
}
const env = { ...process.env };
for (const [k, v] of Object.entries(props)) if (k.startsWith('env.') && k.length > 4) env[k.slice(4)] = v;
const options = String(props['bash.options'] ?? '')
  .split(/\s+/)
  .filter((o) => o !== '');
const r = spawnSync('bash', [...options, '-c', script], { stdio: 'inherit', env });
if (r.error) {
  console.error(`bash could not start: ${r.error.message}`);
  process.exit(127);
}
process.exit(r.status ?? 1);
