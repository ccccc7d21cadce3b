// Prints the settings table of docs/configuration.md from SERVER_OPTIONS:
//   npx tsx scripts/config-doc.ts
import path from 'node:path';
import { SERVER_OPTIONS } from '../web-server/src/config.js';

const shown = (v: unknown): string => {
  if (typeof v === 'function') return '(see description)';
  if (v === '') return '(empty)';
  if (typeof v === 'string' && path.isAbsolute(v)) return `\`./${path.relative(process.cwd(), v)}\``;
  return `\`${String(v)}\``;
};

console.log('| Environment variable | YAML key | Default | Meaning |');
console.log('| --- | --- | --- | --- |');
for (const spec of Object.values(SERVER_OPTIONS)) {
  console.log(
    `| \`${spec.env}\` | \`${spec.key}\` | ${'defaultText' in spec && spec.defaultText ? `\`${spec.defaultText}\`` : shown(spec.default)} | ${spec.doc} |`,
  );
}
