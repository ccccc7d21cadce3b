/**
 * The flow model every later stage works on (scheduler, dry run, fetchflowgraph): plain, frozen-able
 * data with no YAML library objects in it. Flow 2.0 files parse into it today; Flow 1.0 `.job`
 * projects will parse into the same shape (hence `format`).
 *
 * Config values are strings, as Azkaban properties are: a YAML number or boolean keeps the text the
 * author wrote (`retries: 3` → "3", `ratio: 1.0` → "1.0"), an empty value becomes "".
 */

/** What an archive holds, judged by its file names (DESIGN.md §6). */
export type ProjectFormat = '2.0' | '1.0' | 'none';

/** One job, or one embedded flow when `type` is `flow`. */
export interface FlowNode {
  /** Unique among its siblings (one flow level); embedded nodes are addressed as `outer:inner`. */
  name: string;
  /** The jobtype (`command`, `noop`, …) or `flow` for an embedded flow. */
  type: string;
  /** Names of sibling nodes that must finish first, in the order written, without repeats. */
  dependsOn: string[];
  config: Record<string, string>;
  /** Azkaban's conditional-flow expression, e.g. `all_done` or `${jobA:param} == 1`; kept as written. */
  condition?: string;
  /** Present exactly when `type` is `flow`: the embedded flow's own nodes (never empty). */
  nodes?: FlowNode[];
  /**
   * Flow 1.0 only: the properties of the `.properties` files of the job file's directory and its
   * ancestors (nearer directories win), merged. They rank below every other property source.
   */
  inherited?: Record<string, string>;
}

export interface FlowDefinition {
  /** The flow file's base name without `.flow`. */
  name: string;
  /** Archive-relative path of the file the flow came from, with `/` separators. */
  file: string;
  format: '2.0' | '1.0';
  /** Flow-level properties (the file's `config:` section). */
  config: Record<string, string>;
  /** Top-level nodes in declaration order. */
  nodes: FlowNode[];
}

export interface ParsedProject {
  format: '2.0' | '1.0';
  /** Archive-relative path of the `.project` file ('' for Flow 1.0). */
  projectFile: string;
  /** Sorted by name. */
  flows: FlowDefinition[];
}
