/**
 * Keeps docs/kubernetes.md, the Helm chart (charts/caisson) and the Dockerfiles (docker/) in step
 * with the code they describe. Neither Helm nor Docker runs here, so the chart and Dockerfiles are
 * read as text: templates may hold `{{ }}`, so they are parsed by lines, never as whole YAML files.
 * Each checker is a pure function run once on the real files and once on a broken sample, to show
 * it can fail.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { SERVER_OPTIONS } from '../../web-server/src/config.js';
import { REQUIRED_PERMISSIONS, type RequiredPermission } from '../../web-server/src/runtime/kubernetes/permissions.js';
import { POD_PATHS } from '../../web-server/src/runtime/kubernetes/settings.js';
import { REPO_ROOT } from '../support/projects.js';

const read = (...parts: string[]): string => fs.readFileSync(path.join(REPO_ROOT, ...parts), 'utf8');
const TEMPLATES = path.join('charts', 'caisson', 'templates');
const OPTION_BY_NAME = SERVER_OPTIONS as Record<string, { env: string; key: string; default: unknown; defaultText?: string }>;
const OPTION_KEYS = new Set(Object.values(OPTION_BY_NAME).map((o) => o.key));
const OPTION_ENVS = new Set(Object.values(OPTION_BY_NAME).map((o) => o.env));
/** Settings that hold secrets: the chart passes them from its Secret, never in the ConfigMap. */
const SECRET_KEYS = ['secretKey', 'databaseUrl', 'adminPassword'];

// ---------------------------------------------------------------------------------------------
// Checkers (pure)

/** Names (SERVER_OPTIONS property names) of the options in config.ts's kubernetes section. */
function kubernetesOptionNames(configSource: string): string[] {
  const start = configSource.indexOf('// --- kubernetes runtime');
  if (start < 0) return [];
  const rest = configSource.slice(configSource.indexOf('\n', start));
  const end = rest.indexOf('// ---');
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^ {2}(\w+): option\(/gm)].map((m) => m[1]!);
}

/** How the docs write a default: the option's defaultText, or its value in backticks. */
function documentedDefault(o: { default: unknown; defaultText?: string }): string {
  if (o.defaultText !== undefined) return o.defaultText;
  return o.default === '' ? '(empty)' : String(o.default);
}

/** Problems with the settings table of docs/kubernetes.md for the given options. */
function settingsTableProblems(doc: string, optionNames: readonly string[]): string[] {
  const rows = doc.split('\n').filter((l) => l.startsWith('| `CAISSON_'));
  const problems: string[] = [];
  for (const name of optionNames) {
    const o = OPTION_BY_NAME[name];
    if (!o) {
      problems.push(`${name} is not an option of SERVER_OPTIONS`);
      continue;
    }
    const row = rows.find((l) => l.startsWith(`| \`${o.env}\` |`));
    if (!row) {
      problems.push(`no settings-table row for ${o.env}`);
      continue;
    }
    const cells = row
      .split(' | ')
      .map((c) => c.replace(/^\|/, '').trim())
      .map((c) => c.replace(/^`(.*)`$/, '$1'));
    if (cells[1] !== o.key) problems.push(`${o.env}: YAML key is "${cells[1]}", expected "${o.key}"`);
    if (cells[2] !== documentedDefault(o)) problems.push(`${o.env}: default is "${cells[2]}", expected "${documentedDefault(o)}"`);
  }
  for (const row of rows) {
    const env = /^\| `(CAISSON_[A-Z0-9_]+)`/.exec(row)?.[1];
    if (env && !OPTION_ENVS.has(env)) problems.push(`the table documents ${env}, which the server does not read`);
  }
  return problems;
}

interface TemplateRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  /** Conditions of the `{{ if }}` blocks around the rule, innermost last. */
  conditions: string[];
}

/**
 * The rules of every `kind: Role` (and ClusterRole) document of a template, read line by line:
 * `{{ if }}`/`{{ end }}` lines are tracked as conditions, and each rule's own lines (free of
 * templating) are parsed as YAML.
 */
function templateRoleRules(template: string): { kind: string; rules: TemplateRule[] }[] {
  const out: { kind: string; rules: TemplateRule[] }[] = [];
  for (const doc of template.split(/^---\s*$/m)) {
    const kind = /^kind:\s*(\w+)\s*$/m.exec(doc)?.[1];
    if (kind !== 'Role' && kind !== 'ClusterRole') continue;
    const lines = doc.split('\n');
    const from = lines.findIndex((l) => /^rules:\s*$/.test(l));
    const rules: TemplateRule[] = [];
    const conditions: string[] = [];
    let current: { lines: string[]; conditions: string[] } | undefined;
    const flush = (): void => {
      if (!current) return;
      const parsed = YAML.parse(current.lines.join('\n')) as { apiGroups?: string[]; resources?: string[]; verbs?: string[] }[];
      const r = parsed[0] ?? {};
      rules.push({ apiGroups: r.apiGroups ?? [], resources: r.resources ?? [], verbs: r.verbs ?? [], conditions: current.conditions });
      current = undefined;
    };
    for (const line of from < 0 ? [] : lines.slice(from + 1)) {
      if (line.trim() === '' || /^\s*\{\{-?\s*\/\*/.test(line)) continue;
      if (/^\S/.test(line)) break; // the next top-level key
      const directive = /^\s*\{\{-?\s*(if|else|end|with|range)\b(.*?)-?\}\}\s*$/.exec(line);
      if (directive) {
        flush();
        if (directive[1] === 'if' || directive[1] === 'with' || directive[1] === 'range') conditions.push(directive[2]!.trim());
        else if (directive[1] === 'end') conditions.pop();
        else conditions.push(`not (${conditions.pop() ?? ''})`);
        continue;
      }
      if (/^\s*- /.test(line)) {
        flush();
        current = { lines: [], conditions: [...conditions] };
      }
      current?.lines.push(line);
    }
    flush();
    out.push({ kind, rules });
  }
  return out;
}

/** Problems when the rules do not grant exactly `required` (mapping-only rules behind a mapping condition). */
function rbacProblems(roles: { kind: string; rules: TemplateRule[] }[], required: readonly RequiredPermission[]): string[] {
  const problems: string[] = [];
  if (!roles.some((r) => r.kind === 'Role')) problems.push('no Role in the chart templates');
  for (const role of roles) if (role.kind !== 'Role') problems.push(`the chart has a ${role.kind}: Caisson needs nothing cluster-wide`);
  const granted = roles.flatMap((r) => r.rules);
  for (const rule of granted) {
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        const need = required.find((p) => p.group === group && p.resource === resource);
        if (!need) {
          problems.push(`the Role grants ${resource} in group "${group}", which Caisson does not need`);
          continue;
        }
        const extra = rule.verbs.filter((v) => !need.verbs.includes(v));
        if (extra.length > 0) problems.push(`the Role grants ${resource} verbs Caisson does not need: ${extra.join(', ')}`);
        const guarded = rule.conditions.some((c) => c.includes('"mapping"'));
        if (need.onlyFor === 'mapping' && !guarded) problems.push(`${resource} is granted outside an ingress-mode "mapping" condition`);
        if (!need.onlyFor && rule.conditions.length > 0) problems.push(`${resource} is granted only when ${rule.conditions.join(' and ')}`);
      }
    }
  }
  for (const need of required) {
    for (const verb of need.verbs) {
      const ok = granted.some((r) => r.apiGroups.includes(need.group) && r.resources.includes(need.resource) && r.verbs.includes(verb));
      if (!ok) problems.push(`the Role does not grant ${verb} on ${need.resource} (group "${need.group}")`);
    }
  }
  return problems;
}

/** Option keys the ConfigMap template writes into its `caisson.yaml` block, and those it lists as managed. */
function configMapKeys(template: string): { written: string[]; managed: string[] } {
  const lines = template.split('\n');
  const start = lines.findIndex((l) => /^\s+caisson\.yaml:\s*\|\s*$/.test(l));
  const written: string[] = [];
  if (start >= 0) {
    const indent = /^(\s*)/.exec(lines[start]!)![1]!.length;
    for (const line of lines.slice(start + 1)) {
      if (line.trim() === '') continue;
      if (/^(\s*)/.exec(line)![1]!.length <= indent) break;
      const key = /^\s+([A-Za-z_][\w.-]*):/.exec(line)?.[1];
      if (key) written.push(key);
    }
  }
  const managedLine = /\$managed\s*:=\s*list\s+(.*?)\s*-?\}\}/.exec(template)?.[1] ?? '';
  const managed = [...managedLine.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
  return { written, managed };
}

/** Problems with the option keys a chart uses (ConfigMap keys, managed list, values.yaml `config`). */
function chartKeyProblems(keys: { written: string[]; managed: string[]; valuesConfig: string[] }): string[] {
  const problems: string[] = [];
  if (keys.written.length === 0) problems.push('the ConfigMap writes no setting (no caisson.yaml block found)');
  for (const k of keys.written) {
    if (!OPTION_KEYS.has(k)) problems.push(`the ConfigMap writes "${k}", which is not an option key`);
    if (SECRET_KEYS.includes(k)) problems.push(`the ConfigMap writes the secret setting "${k}"`);
  }
  for (const k of keys.managed) if (!OPTION_KEYS.has(k)) problems.push(`the managed list names "${k}", which is not an option key`);
  for (const k of keys.written)
    if (!keys.managed.includes(k)) problems.push(`"${k}" is written by the chart but missing from its managed list`);
  for (const k of keys.valuesConfig) {
    if (!OPTION_KEYS.has(k)) problems.push(`values.yaml config sets "${k}", which is not an option key`);
    if (keys.managed.includes(k)) problems.push(`values.yaml config sets "${k}", which the chart manages itself`);
  }
  return problems;
}

/** Whether a Dockerfile copies `payload/` to the jobtype payload path of the pod contract. */
function copiesPayload(dockerfile: string): boolean {
  const target = POD_PATHS.jobtypePayload.replace(/\/+$/, '');
  return dockerfile.split('\n').some((line) => {
    const m = /^\s*COPY\s+(?:--\S+\s+)*payload\/?\s+(\S+)\s*$/i.exec(line);
    return m !== null && m[1]!.replace(/\/+$/, '') === target;
  });
}

/** The exec-form ENTRYPOINT (or CMD when there is none) of a Dockerfile, joined by spaces. */
function entrypointOf(dockerfile: string): string {
  const lines = dockerfile.split('\n');
  const pick = (instr: string): string | undefined => {
    const line = lines.filter((l) => new RegExp(`^\\s*${instr}\\s+\\[`, 'i').test(l)).pop();
    if (!line) return undefined;
    return (JSON.parse(line.replace(new RegExp(`^\\s*${instr}\\s+`, 'i'), '')) as string[]).join(' ');
  };
  return pick('ENTRYPOINT') ?? pick('CMD') ?? '';
}

// ---------------------------------------------------------------------------------------------
// The real files

describe('docs/kubernetes.md, the Helm chart and the Dockerfiles', () => {
  const configSource = read('web-server', 'src', 'config.ts');
  const doc = read('docs', 'kubernetes.md');
  const k8sOptions = kubernetesOptionNames(configSource);

  describe('docs/kubernetes.md', () => {
    it('finds the kubernetes section of SERVER_OPTIONS', () => {
      assert.ok(k8sOptions.length >= 20, `found only ${k8sOptions.length} options after "// --- kubernetes runtime"`);
      for (const name of k8sOptions) assert.ok(OPTION_BY_NAME[name], `${name} is not in SERVER_OPTIONS`);
    });

    it('names every kubernetes setting by its environment variable', () => {
      const missing = k8sOptions.map((n) => OPTION_BY_NAME[n]!.env).filter((env) => !doc.includes(`\`${env}\``));
      assert.deepEqual(missing, []);
    });

    it('lists every kubernetes setting in its table with the YAML key and default of config.ts', () => {
      assert.deepEqual(settingsTableProblems(doc, k8sOptions), []);
    });

    it('names the paths inside the pod and the images that docker/ and the runtime agree on', () => {
      for (const p of Object.values(POD_PATHS)) assert.ok(doc.includes(p), `docs/kubernetes.md does not mention ${p}`);
    });

    it('covers the ingress modes and the chart install', () => {
      for (const word of ['`mapping`', '`annotation`', '`none`', 'CAISSON_PUBLIC_URL', 'helm install caisson charts/caisson']) {
        assert.ok(doc.includes(word), `docs/kubernetes.md does not mention ${word}`);
      }
    });
  });

  describe('charts/caisson', () => {
    const templates = fs.readdirSync(path.join(REPO_ROOT, TEMPLATES)).filter((f) => /\.ya?ml$/.test(f));
    const allTemplates = templates.map((f) => read(TEMPLATES, f)).join('\n---\n');

    it('grants exactly REQUIRED_PERMISSIONS in a namespaced Role, mappings only in mapping mode', () => {
      const roles = templateRoleRules(allTemplates);
      assert.deepEqual(rbacProblems(roles, REQUIRED_PERMISSIONS), []);
    });

    it('puts the Role and its RoleBinding in the flow namespace', () => {
      const rbac = read(TEMPLATES, 'rbac.yaml');
      const docs = rbac.split(/^---\s*$/m);
      for (const kind of ['Role', 'RoleBinding']) {
        const d = docs.find((x) => new RegExp(`^kind:\\s*${kind}\\s*$`, 'm').test(x));
        assert.ok(d, `rbac.yaml has no ${kind}`);
        assert.match(d, /^ {2}namespace: \{\{ include "caisson\.flowNamespace" \. \}\}$/m, `${kind} is not in the flow namespace`);
      }
    });

    it('writes only real option keys into the config file, and no secret', () => {
      const keys = configMapKeys(read(TEMPLATES, 'configmap.yaml'));
      const values = YAML.parse(read('charts', 'caisson', 'values.yaml')) as { config?: Record<string, unknown> | null };
      assert.deepEqual(chartKeyProblems({ ...keys, valuesConfig: Object.keys(values.config ?? {}) }), []);
      assert.ok(keys.written.includes('runtime') && keys.written.includes('k8sNamespace'), 'the chart must set runtime and k8sNamespace');
    });

    it('sets only real CAISSON_* variables on the web server', () => {
      const deployment = read(TEMPLATES, 'deployment.yaml');
      const names = [...deployment.matchAll(/- name: (CAISSON_[A-Z0-9_]+)/g)].map((m) => m[1]!);
      assert.ok(names.includes('CAISSON_SECRET_KEY') && names.includes('CAISSON_DATABASE_URL'));
      assert.deepEqual(
        names.filter((n) => n !== 'CAISSON_CONFIG' && !OPTION_ENVS.has(n)),
        [],
      );
    });
  });

  describe('docker/', () => {
    const jobtypesDir = path.join(REPO_ROOT, 'docker', 'jobtypes');
    const withPayload = fs.readdirSync(jobtypesDir).filter((t) => fs.existsSync(path.join(jobtypesDir, t, 'payload')));

    it('finds the shipped jobtypes', () => {
      assert.ok(withPayload.includes('bash') && withPayload.includes('python'), `found ${withPayload.join(', ')}`);
    });

    for (const type of ['bash', 'python']) {
      it(`has a Dockerfile for jobtype ${type} copying its payload to ${POD_PATHS.jobtypePayload}`, () => {
        const file = path.join(jobtypesDir, type, 'Dockerfile');
        assert.ok(fs.existsSync(file), `docker/jobtypes/${type}/Dockerfile is missing`);
        assert.ok(
          copiesPayload(fs.readFileSync(file, 'utf8')),
          `docker/jobtypes/${type}/Dockerfile does not COPY payload/ ${POD_PATHS.jobtypePayload}/`,
        );
      });
    }

    it('has a Dockerfile copying the payload of every jobtype folder', () => {
      const bad = withPayload.filter((t) => {
        const file = path.join(jobtypesDir, t, 'Dockerfile');
        return !fs.existsSync(file) || !copiesPayload(fs.readFileSync(file, 'utf8'));
      });
      assert.deepEqual(bad, []);
    });

    for (const [image, entry] of [
      ['flow-container', 'dist/flow-container/src/main.js'],
      ['web-server', 'dist/web-server/src/main.js'],
    ] as const) {
      it(`builds the ${image} image from node:20-bookworm-slim and runs ${entry}`, () => {
        const dockerfile = read('docker', image, 'Dockerfile');
        const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
        assert.ok(froms.length >= 2, `${image}: expected a multi-stage build`);
        assert.ok(
          froms.every((f) => f === 'node:20-bookworm-slim'),
          `${image}: FROM ${froms.join(', ')}`,
        );
        assert.ok(entrypointOf(dockerfile).endsWith(`node ${entry}`), `${image}: entrypoint is "${entrypointOf(dockerfile)}"`);
        assert.ok(fs.existsSync(path.join(REPO_ROOT, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `${entry} has no source`);
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The checkers catch what they are for

describe('the kubernetes docs checkers', () => {
  it('finds nothing without the kubernetes section marker', () => {
    assert.deepEqual(kubernetesOptionNames("  host: option({ env: 'CAISSON_HOST' }),\n"), []);
  });

  it('reports a missing row, a wrong key, a wrong default and an unknown variable', () => {
    const doc = [
      '| `CAISSON_CLUSTER_NAME` | `cluster` | `caisson` | … |',
      '| `CAISSON_K8S_API_QPS` | `k8sApiQps` | `50` | … |',
      '| `CAISSON_K8S_TYPO` | `typo` | `1` | … |',
    ].join('\n');
    assert.deepEqual(settingsTableProblems(doc, ['k8sNamespace', 'clusterName', 'k8sApiQps']), [
      'no settings-table row for CAISSON_K8S_NAMESPACE',
      'CAISSON_CLUSTER_NAME: YAML key is "cluster", expected "clusterName"',
      'CAISSON_K8S_API_QPS: default is "50", expected "150"',
      'the table documents CAISSON_K8S_TYPO, which the server does not read',
    ]);
  });

  const role = (rules: string, kind = 'Role'): string =>
    [
      'apiVersion: rbac.authorization.k8s.io/v1',
      `kind: ${kind}`,
      'metadata:',
      '  name: x',
      'rules:',
      rules,
      '---',
      'kind: RoleBinding',
    ].join('\n');
  const exact = [
    '  - apiGroups: [""]',
    '    resources: ["pods"]',
    '    verbs: ["create", "get", "list", "watch", "delete"]',
    '  - apiGroups: [""]',
    '    resources: ["services", "secrets"]',
    '    verbs: ["create", "get", "list", "patch", "delete"]',
    '  {{- if eq .Values.ingress.mode "mapping" }}',
    '  - apiGroups: ["getambassador.io"]',
    '    resources: ["mappings"]',
    '    verbs: ["create", "get", "list", "patch", "delete"]',
    '  {{- end }}',
  ];

  it('accepts a Role granting exactly the required permissions', () => {
    assert.deepEqual(rbacProblems(templateRoleRules(role(exact.join('\n'))), REQUIRED_PERMISSIONS), []);
  });

  it('reports a missing verb, an extra verb, an extra resource and an unguarded mapping rule', () => {
    const broken = [
      '  - apiGroups: [""]',
      '    resources: ["pods"]',
      '    verbs: ["create", "get", "list", "delete", "update"]',
      '  - apiGroups: [""]',
      '    resources: ["services", "secrets", "configmaps"]',
      '    verbs: ["create", "get", "list", "patch", "delete"]',
      '  - apiGroups: ["getambassador.io"]',
      '    resources: ["mappings"]',
      '    verbs: ["create", "get", "list", "patch", "delete"]',
    ].join('\n');
    assert.deepEqual(rbacProblems(templateRoleRules(role(broken)), REQUIRED_PERMISSIONS), [
      'the Role grants pods verbs Caisson does not need: update',
      'the Role grants configmaps in group "", which Caisson does not need',
      'mappings is granted outside an ingress-mode "mapping" condition',
      'the Role does not grant watch on pods (group "")',
    ]);
  });

  it('reports a ClusterRole and a core rule hidden behind a condition', () => {
    const conditional = exact.map((l) => (l.includes('"mapping"') ? '  {{- if .Values.rbac.create }}' : l));
    assert.deepEqual(rbacProblems(templateRoleRules(role(conditional.join('\n'), 'ClusterRole')), REQUIRED_PERMISSIONS), [
      'no Role in the chart templates',
      'the chart has a ClusterRole: Caisson needs nothing cluster-wide',
      'mappings is granted outside an ingress-mode "mapping" condition',
    ]);
    const hidden = ['  {{- if .Values.x }}', ...exact.slice(0, 3), '  {{- end }}', ...exact.slice(3)];
    assert.deepEqual(rbacProblems(templateRoleRules(role(hidden.join('\n'))), REQUIRED_PERMISSIONS), [
      'pods is granted only when .Values.x',
    ]);
  });

  it('reports unknown option keys, secrets in the ConfigMap and unmanaged keys', () => {
    const template = [
      '{{- $managed := list "host" "runtime" "databaseUrl" "colour" -}}',
      'data:',
      '  caisson.yaml: |',
      '    host: 0.0.0.0',
      '    runtime: kubernetes',
      '    {{- if .Values.x }}',
      '    databaseUrl: {{ .Values.db }}',
      '    {{- end }}',
      '    k8sNamespce: flows',
      '    port: 8081',
      'other: x',
    ].join('\n');
    const keys = configMapKeys(template);
    assert.deepEqual(keys, {
      written: ['host', 'runtime', 'databaseUrl', 'k8sNamespce', 'port'],
      managed: ['host', 'runtime', 'databaseUrl', 'colour'],
    });
    assert.deepEqual(chartKeyProblems({ ...keys, valuesConfig: ['podCpuRequest', 'host', 'cpu'] }), [
      'the ConfigMap writes the secret setting "databaseUrl"',
      'the ConfigMap writes "k8sNamespce", which is not an option key',
      'the managed list names "colour", which is not an option key',
      '"k8sNamespce" is written by the chart but missing from its managed list',
      '"port" is written by the chart but missing from its managed list',
      'values.yaml config sets "host", which the chart manages itself',
      'values.yaml config sets "cpu", which is not an option key',
    ]);
  });

  it('tells a Dockerfile that copies the payload to the contract path from one that does not', () => {
    assert.equal(copiesPayload('FROM busybox:1.36\nCOPY payload/ /caisson/jobtype/\n'), true);
    assert.equal(copiesPayload('FROM busybox:1.36\nCOPY --chown=65534 payload /caisson/jobtype\n'), true);
    assert.equal(copiesPayload('FROM busybox:1.36\nCOPY payload/ /jobtype/\n'), false);
    assert.equal(copiesPayload('FROM busybox:1.36\nCOPY other/ /caisson/jobtype/\n'), false);
  });

  it('reads the exec-form entrypoint of a Dockerfile', () => {
    assert.equal(entrypointOf('FROM x\nENTRYPOINT ["tini", "--", "node", "a.js"]\n'), 'tini -- node a.js');
    assert.equal(entrypointOf('FROM x\nCMD ["node", "b.js"]\n'), 'node b.js');
    assert.equal(entrypointOf('FROM x\n'), '');
  });
});
