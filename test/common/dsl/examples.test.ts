import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlow1Project } from '../../../common/dsl/flow1.js';
import { parseFlow2Project } from '../../../common/dsl/flow2.js';

const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples');

function filesOf(name: string): Map<string, string> {
  const root = path.join(EXAMPLES, name);
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.set(path.relative(root, full).split(path.sep).join('/'), fs.readFileSync(full, 'utf8'));
    }
  };
  walk(root);
  return out;
}

describe('the example projects', () => {
  it('conditional-flow parses with its conditions', () => {
    const parsed = parseFlow2Project(filesOf('conditional-flow'));
    const nodes = parsed.flows[0]?.nodes ?? [];
    assert.deepEqual(
      nodes.map((n) => [n.name, n.condition]),
      [
        ['JobA', undefined],
        ['JobB', '${JobA:param1} == 1'],
        ['JobC', '${JobA:param1} == 2'],
        ['JobD', 'one_success'],
        ['report_failure', 'one_failed'],
      ],
    );
  });

  it('flow10-project parses to the flows report and goodbye, goodbye embedding report', () => {
    const parsed = parseFlow1Project(filesOf('flow10-project'));
    assert.deepEqual(
      parsed.flows.map((f) => [f.name, f.nodes.map((n) => n.name)]),
      [
        ['goodbye', ['goodbye', 'nightly']],
        ['report', ['extract', 'load', 'report']],
      ],
    );
    const nightly = parsed.flows[0]?.nodes[1];
    assert.deepEqual(
      nightly?.nodes?.map((n) => n.name),
      ['extract', 'load', 'report'],
    );
    assert.deepEqual(parsed.flows[1]?.nodes[0]?.inherited, { greeting: 'hello', type: 'command', stage: 'etl' });
  });
});
