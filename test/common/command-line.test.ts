import assert from 'node:assert/strict';
import { splitCommandLine } from '../../common/command-line.js';

describe('splitting a command line the way Azkaban does', () => {
  const cases: [string, string[]][] = [
    ['echo hello world', ['echo', 'hello', 'world']],
    ['  echo   spaced\tout\nlines  ', ['echo', 'spaced', 'out', 'lines']],
    ['echo "Hello, world!"', ['echo', 'Hello, world!']],
    ["echo 'single quoted'", ['echo', 'single quoted']],
    ['bash -c "for i in 1 2 3; do echo step $i; done"', ['bash', '-c', 'for i in 1 2 3; do echo step $i; done']],
    [`echo "it's" 'say "hi"'`, ['echo', "it's", 'say "hi"']],
    ['echo pre"quoted part"post', ['echo', 'prequoted partpost']],
    [`echo 'a'"b"c`, ['echo', 'abc']],
    ['echo "unterminated quote runs to the end', ['echo', 'unterminated quote runs to the end']],
    [`echo '' ""`, ['echo']],
    ['echo a\\ b', ['echo', 'a\\', 'b']],
    ['ls | wc -l > out.txt', ['ls', '|', 'wc', '-l', '>', 'out.txt']],
    ['', []],
    ['   ', []],
    ['echo héllo "wörld ✓"', ['echo', 'héllo', 'wörld ✓']],
  ];
  for (const [line, args] of cases) {
    it(`splits ${JSON.stringify(line)} into ${JSON.stringify(args)}`, () => {
      assert.deepEqual(splitCommandLine(line), args);
    });
  }
});
