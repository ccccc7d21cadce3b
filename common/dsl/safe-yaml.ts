/**
 * Reads untrusted YAML (uploaded `.project` and `.flow` files) defensively: one document only,
 * unique keys, no custom tags, no collection keys, and a small alias budget so that a "billion
 * laughs" file is refused instead of expanded. Every problem is reported with its file and 1-based
 * line and column; nothing is thrown half-way through a file.
 *
 * Problem messages stay on one line: the position travels in the Problem's fields instead of the
 * source excerpt that the library's `prettyErrors` would append to the message.
 */
import { isAlias, isCollection, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node as YamlNode, YAMLError } from 'yaml';
import type { Problem } from '../errors.js';
import { problemsError } from './problem-list.js';

/** Total alias expansions a document may need (the library's measure); real flow files use few. */
export const MAX_ALIAS_COUNT = 100;

const TOO_DEEP = 'the document nests too deeply';
const CORE_TAG_PREFIX = 'tag:yaml.org,2002:';
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => CORE_TAG_PREFIX + t));

/** A parsed YAML file that passed every check, with what is needed to locate its nodes. */
export interface YamlSource {
  readonly file: string;
  readonly text: string;
  readonly document: Document.Parsed;
  readonly lineCounter: LineCounter;
  /** The document as plain JavaScript (mappings as objects). */
  readonly value: unknown;
}

export type YamlReadResult = { ok: true; source: YamlSource } | { ok: false; problems: Problem[] };

/** Parses one YAML file, collecting every problem instead of stopping at the first. */
export function readYaml(text: string, file: string): YamlReadResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter, logLevel: 'error' });
  const problems: { offset: number; message: string }[] = [];

  for (const error of document.errors) problems.push({ offset: error.pos[0], message: describeYamlError(error, document) });
  for (const warning of document.warnings) {
    // Unknown tags are reported below, once, with our own wording.
    if (warning.code !== 'TAG_RESOLVE_FAILED') problems.push({ offset: warning.pos[0], message: warning.message });
  }
  try {
    visit(document, {
      Pair(_, pair) {
        if (isCollection(pair.key)) {
          problems.push({ offset: pair.key.range?.[0] ?? 0, message: 'a mapping key must be a plain value, not a mapping or a list' });
        }
      },
      Node(_, node) {
        const tag = tagOf(node);
        if (tag !== undefined && !CORE_TAGS.has(tag)) {
          const written = shortTag(tag);
          const offset = node.range?.[0] ?? 0;
          const tagOffset = text.lastIndexOf(written, offset);
          problems.push({ offset: tagOffset >= 0 ? tagOffset : offset, message: `custom tag "${written}" is not allowed` });
        }
        if (isAlias(node) && node.resolve(document) === undefined) {
          problems.push({ offset: node.range?.[0] ?? 0, message: `alias "*${node.source}" has no anchor "&${node.source}" before it` });
        }
      },
    });
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    problems.push({ offset: -1, message: TOO_DEEP });
  }

  let value: unknown = null;
  if (problems.length === 0) {
    try {
      value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      problems.push({ offset: -1, message: describeToJsError(e) });
    }
  }

  if (problems.length > 0) {
    problems.sort((a, b) => a.offset - b.offset);
    // The parser reports deep nesting once per level it gave up on; once is enough.
    const firstTooDeep = problems.findIndex((p) => p.message === TOO_DEEP);
    const kept = problems.filter((p, i) => p.message !== TOO_DEEP || i === firstTooDeep);
    return {
      ok: false,
      problems: kept.map(({ offset, message }) => (offset < 0 ? { message, file } : { message, file, ...locate(lineCounter, offset) })),
    };
  }
  return { ok: true, source: { file, text, document, lineCounter, value } };
}

/** Parses one YAML file to plain JavaScript, or throws one INVALID_FLOW_YAML error listing every problem. */
export function parseYamlDocument(text: string, file: string): unknown {
  const result = readYaml(text, file);
  if (!result.ok) throw problemsError('INVALID_FLOW_YAML', result.problems);
  return result.source.value;
}

/** 1-based line and column of a character offset. */
export function locate(lineCounter: LineCounter, offset: number): { line: number; column: number } {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/** A problem located at the start of a node of `source`. */
export function problemAt(source: YamlSource, node: YamlNode | null | undefined, message: string): Problem {
  const offset = node?.range?.[0];
  if (offset === undefined) return { message, file: source.file };
  return { message, file: source.file, ...locate(source.lineCounter, offset) };
}

function describeYamlError(error: YAMLError, document: Document.Parsed): string {
  if (/maximum call stack/i.test(error.message)) return TOO_DEEP;
  switch (error.code) {
    case 'DUPLICATE_KEY': {
      const key = keyAt(document, error.pos[0]);
      return key === undefined ? 'duplicate key' : `duplicate key ${JSON.stringify(key)}`;
    }
    case 'MULTIPLE_DOCS':
      return 'a file must hold a single YAML document, but a second one starts here';
    default:
      return error.message;
  }
}

function describeToJsError(e: unknown): string {
  if (e instanceof RangeError) return TOO_DEEP;
  if (e instanceof ReferenceError && /alias count/i.test(e.message)) {
    return `anchors and aliases expand too much (more than ${MAX_ALIAS_COUNT} alias uses); a "billion laughs" document is refused`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** The text of the scalar key that starts at `offset`, if any. */
function keyAt(document: Document.Parsed, offset: number): string | undefined {
  let found: string | undefined;
  visit(document, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
        found = String(pair.key.value);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

function tagOf(node: YamlNode): string | undefined {
  if (isAlias(node)) return undefined;
  return node.tag;
}

function shortTag(tag: string): string {
  return tag.startsWith(CORE_TAG_PREFIX) ? `!!${tag.slice(CORE_TAG_PREFIX.length)}` : tag;
}
