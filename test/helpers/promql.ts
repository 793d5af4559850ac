// PromQL helpers for the operations tests: which metric names an expression reads, and every
// expression the repo's dashboards and rule files contain. A small tokenizer, not a full parser:
// it knows enough of the grammar to tell metric names from functions, keywords, label names,
// durations, numbers, strings and Grafana template variables.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Aggregation operators and keywords: never metric names, whether or not a `(` follows. */
const KEYWORDS: ReadonlySet<string> = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk',
  'quantile', 'limitk', 'limit_ratio',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool',
  'and', 'or', 'unless', 'atan2', 'offset',
  'inf', 'nan',
]);
/** Keywords followed by a parenthesised list of label names (optional for group_left/right). */
const LABEL_LIST_KEYWORDS: ReadonlySet<string> = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

type Token =
  | { readonly kind: 'ident'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'punct'; readonly text: string }
  | { readonly kind: 'other' };

function isPunct(token: Token | undefined, text: string): boolean {
  return token?.kind === 'punct' && token.text === text;
}

const IDENT_START = /[A-Za-z_:]/;
const IDENT_PART = /[A-Za-z0-9_:]/;

function readString(expr: string, start: number): { value: string; end: number } {
  const quote = expr[start];
  let value = '';
  let i = start + 1;
  while (i < expr.length && expr[i] !== quote) {
    if (expr[i] === '\\' && quote !== '`' && i + 1 < expr.length) {
      value += expr[i + 1];
      i += 2;
    } else {
      value += expr[i];
      i += 1;
    }
  }
  return { value, end: i + 1 };
}

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i] as string;
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === '#') {
      // A comment runs to the end of the line.
      while (i < expr.length && expr[i] !== '\n') i += 1;
    } else if (c === '"' || c === "'" || c === '`') {
      const { value, end } = readString(expr, i);
      tokens.push({ kind: 'string', text: value });
      i = end;
    } else if (c === '[') {
      // Range or subquery: durations, Grafana's $__rate_interval, `5m:1m`. Nothing to read in it.
      while (i < expr.length && expr[i] !== ']') i += 1;
      i += 1;
      tokens.push({ kind: 'other' });
    } else if (c === '$') {
      // Grafana template variable: $name, ${name}, ${name:format}.
      i += 1;
      if (expr[i] === '{') {
        while (i < expr.length && expr[i] !== '}') i += 1;
        i += 1;
      } else {
        while (i < expr.length && IDENT_PART.test(expr[i] as string)) i += 1;
      }
      tokens.push({ kind: 'other' });
    } else if (/[0-9.]/.test(c)) {
      // Numbers and durations: 0.99, 1e3, 0x1f, 5m, 1h30m.
      while (i < expr.length && /[0-9A-Za-z_.]/.test(expr[i] as string)) i += 1;
      tokens.push({ kind: 'other' });
    } else if (IDENT_START.test(c)) {
      let j = i;
      while (j < expr.length && IDENT_PART.test(expr[j] as string)) j += 1;
      tokens.push({ kind: 'ident', text: expr.slice(i, j) });
      i = j;
    } else if ('(){},'.includes(c)) {
      tokens.push({ kind: 'punct', text: c });
      i += 1;
    } else {
      // Operators (=, !=, =~, !~, +, ==, >=, @, ...), read one character at a time.
      tokens.push({ kind: 'punct', text: c });
      i += 1;
    }
  }
  return tokens;
}

/**
 * The metric names a PromQL expression reads, in order of first appearance, without duplicates.
 * Function and aggregation names, keywords, label names (in `{}` matchers and in
 * `by`/`without`/`on`/`ignoring`/`group_left`/`group_right` lists), durations, numbers, strings and
 * Grafana variables are not metric names. A `{__name__="x"}` matcher names metric `x`.
 */
export function extractMetricNames(expr: string): string[] {
  const tokens = tokenize(expr);
  const names: string[] = [];
  const add = (name: string): void => {
    if (!names.includes(name)) names.push(name);
  };
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i] as Token;
    if (isPunct(t, '{')) {
      // Label matchers: `label op "value"`, comma-separated; only __name__= names a metric.
      i += 1;
      while (i < tokens.length && !isPunct(tokens[i], '}')) {
        const label = tokens[i];
        if (label?.kind === 'ident' && label.text === '__name__') {
          const op = tokens[i + 1];
          const value = tokens[i + 2];
          if (isPunct(op, '=') && value?.kind === 'string') {
            add(value.text);
            i += 2;
          }
        }
        i += 1;
      }
      i += 1;
      continue;
    }
    if (t.kind !== 'ident') {
      i += 1;
      continue;
    }
    const lower = t.text.toLowerCase();
    if (LABEL_LIST_KEYWORDS.has(lower)) {
      i += 1;
      if (isPunct(tokens[i], '(')) {
        while (i < tokens.length && !isPunct(tokens[i], ')')) i += 1;
        i += 1;
      }
      continue;
    }
    if (KEYWORDS.has(lower)) {
      i += 1;
      continue;
    }
    if (isPunct(tokens[i + 1], '(')) {
      i += 1; // a function call: rate(, histogram_quantile(, absent(, vector(, start( ...
      continue;
    }
    add(t.text);
    i += 1;
  }
  return names;
}

export interface CollectedExpression {
  /** Where it comes from, e.g. `grafana/dashboards/x.json panel 12 "Batch fill" A`. */
  readonly source: string;
  readonly expr: string;
}

export interface CollectOptions {
  /** Repository root (default: this repo). */
  readonly root?: string;
  /**
   * Replace Grafana variables by what the dashboard would send (default true), so the expressions
   * can be run against Prometheus as they are: $job -> its default, $instance -> `.*`,
   * $__rate_interval -> 1m, $__interval -> 15s, $__range -> 1h.
   */
  readonly substituteVariables?: boolean;
}

const BUILT_IN_VARIABLES: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '1h',
};

interface DashboardVariable {
  name?: string;
  type?: string;
  query?: unknown;
  definition?: string;
  allValue?: string;
  includeAll?: boolean;
  current?: { value?: unknown };
}

interface DashboardPanel {
  id?: number;
  title?: string;
  type?: string;
  panels?: DashboardPanel[];
  targets?: { refId?: string; expr?: string }[];
}

interface Dashboard {
  panels?: DashboardPanel[];
  templating?: { list?: DashboardVariable[] };
}

function variableValues(dashboard: Dashboard): Record<string, string> {
  const values: Record<string, string> = { ...BUILT_IN_VARIABLES };
  for (const v of dashboard.templating?.list ?? []) {
    if (v.name === undefined) continue;
    const current = Array.isArray(v.current?.value) ? v.current?.value[0] : v.current?.value;
    if (v.includeAll === true && (current === '$__all' || current === undefined)) {
      values[v.name] = v.allValue ?? '.*';
    } else if (typeof current === 'string') {
      values[v.name] = current;
    }
  }
  return values;
}

export function substituteVariables(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    return values[name] ?? whole;
  });
}

function variableQuery(v: DashboardVariable): string | undefined {
  const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
  return q ?? v.definition;
}

/** `label_values(selector, label)` and `query_result(expr)` hold PromQL; `label_values(label)` does not. */
function promqlOfVariableQuery(query: string): string | undefined {
  const labelValues = /^\s*label_values\(\s*(.+),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/s.exec(query);
  if (labelValues) return labelValues[1];
  const queryResult = /^\s*query_result\(\s*(.+)\)\s*$/s.exec(query);
  return queryResult ? queryResult[1] : undefined;
}

function walkPanels(panels: DashboardPanel[] | undefined, visit: (p: DashboardPanel) => void): void {
  for (const p of panels ?? []) {
    visit(p);
    walkPanels(p.panels, visit);
  }
}

function dashboardExpressions(root: string, substitute: boolean): CollectedExpression[] {
  const dir = join(root, 'grafana', 'dashboards');
  const out: CollectedExpression[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const path = join(dir, file);
    const rel = relative(root, path);
    const dashboard = JSON.parse(readFileSync(path, 'utf8')) as Dashboard;
    const values = variableValues(dashboard);
    const finish = (expr: string): string => (substitute ? substituteVariables(expr, values) : expr);
    for (const v of dashboard.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      const query = variableQuery(v);
      const expr = query === undefined ? undefined : promqlOfVariableQuery(query);
      if (expr !== undefined) out.push({ source: `${rel} variable ${v.name ?? '?'}`, expr: finish(expr) });
    }
    walkPanels(dashboard.panels, (p) => {
      for (const t of p.targets ?? []) {
        if (typeof t.expr === 'string' && t.expr.trim() !== '') {
          out.push({ source: `${rel} panel ${p.id ?? '?'} "${p.title ?? ''}" ${t.refId ?? ''}`.trim(), expr: finish(t.expr) });
        }
      }
    });
  }
  return out;
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) return JSON.parse(v) as string;
  if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) return v.slice(1, -1).replace(/''/g, "'");
  return v;
}

/**
 * The `expr:` values of a Prometheus rule file. Handles the YAML forms rule files use: plain,
 * single- or double-quoted scalars (with plain continuation lines), and `|` / `>` block scalars.
 */
export function ruleExpressions(text: string, source: string): CollectedExpression[] {
  const lines = text.split(/\r?\n/);
  const out: CollectedExpression[] = [];
  let group = '?';
  let rule = '?';
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] as string;
    const groupMatch = /^\s*-\s*name:\s*(.+?)\s*$/.exec(line);
    if (groupMatch) group = unquote(groupMatch[1] as string);
    const ruleMatch = /^\s*-\s*(alert|record):\s*(.+?)\s*$/.exec(line);
    if (ruleMatch) rule = `${ruleMatch[1] as string} ${unquote(ruleMatch[2] as string)}`;
    const exprMatch = /^(\s*(?:-\s+)?)expr:\s*(.*)$/.exec(line);
    if (!exprMatch) continue;
    const keyIndent = (exprMatch[1] as string).length;
    const head = (exprMatch[2] as string).replace(/\s+#.*$/, '');
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length) {
      const next = lines[j] as string;
      if (next.trim() !== '' && indentOf(next) <= keyIndent) break;
      body.push(next);
      j += 1;
    }
    while (body.length > 0 && (body[body.length - 1] as string).trim() === '') body.pop();
    let expr: string;
    if (/^[|>][+-]?\d*$/.test(head.trim())) {
      const indent = Math.min(...body.filter((l) => l.trim() !== '').map(indentOf));
      const content = body.map((l) => l.slice(indent));
      expr = head.startsWith('|') ? content.join('\n') : content.join(' ');
    } else {
      expr = unquote([head, ...body.map((l) => l.trim())].join(' '));
    }
    out.push({ source: `${source} group ${group} ${rule}`, expr: expr.trim() });
    i = j - 1;
  }
  return out;
}

function ruleFileExpressions(root: string): CollectedExpression[] {
  const dir = join(root, 'prometheus');
  const out: CollectedExpression[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const text = readFileSync(join(dir, file), 'utf8');
    if (!/^groups:/m.test(text)) continue; // prometheus.yml is the server config, not rules
    out.push(...ruleExpressions(text, relative(root, join(dir, file))));
  }
  return out;
}

/** Every PromQL expression in grafana/dashboards/*.json (panels, query variables) and prometheus rule files. */
export function collectExpressions(options: CollectOptions = {}): CollectedExpression[] {
  const root = options.root ?? REPO_ROOT;
  return [...dashboardExpressions(root, options.substituteVariables ?? true), ...ruleFileExpressions(root)];
}
