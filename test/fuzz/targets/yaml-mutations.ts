/**
 * Mutations of a site.yaml: text-level (lines dropped, duplicated, swapped or re-indented, scalars replaced,
 * truncation, tabs, YAML tags, anchors and alias bombs) and value-level (a field set to any JSON value, a key
 * removed, file paths pointed outside the mappings folder), so both the YAML reader and the schema/loader checks
 * see broken input.
 */
import fc from 'fast-check';
import { parse, stringify } from 'yaml';

export type YamlMutation =
  | { readonly op: 'dropLine' | 'duplicateLine' | 'swapLines' | 'indent' | 'dedent' | 'tab'; readonly at: number }
  | { readonly op: 'scalar'; readonly at: number; readonly value: string }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'insert'; readonly at: number; readonly s: string }
  | { readonly op: 'setPath'; readonly path: readonly number[]; readonly value: unknown }
  | { readonly op: 'deletePath'; readonly path: readonly number[] }
  | { readonly op: 'append'; readonly s: string };

const at = fc.double({ min: 0, max: 1, noNaN: true });

const SCALARS = ['', '~', 'null', '[]', '{}', '0', '-1', '1e309', '.nan', 'true', "'quoted'", '"unterminated', '*nosuchanchor', '&a x', '!!binary AAAA',
  '!!js/function "x"', '../../schema.yaml', '../../../../etc/passwd', '/etc/passwd', 'view-labs.json', 'nope.json', '[a, b', '{a: 1', 'x'.repeat(500),
  'mg/dL', 'concept-map', 'aggregate', 'earliest', 'view', 'ü\u0000\u{1F600}', '"\\uD800"', '|', '>-', '- item', 'a: b: c', '? complex'];

/** Values for value-level mutations: the right shapes in wrong places and wrong shapes in right places. */
const jsonValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SCALARS.slice(0, 20)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constantFrom({ name: 'ucum', params: { accept: 7 } }, { name: 'custom-x' }, ['age', 'nope'], { fn: 'latest', days: -1 }, { policy: 'view', view: 'nope' }) },
);

const BOMB = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
  'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]', 'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]'].join('\n');

export function yamlMutation(): fc.Arbitrary<YamlMutation> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('dropLine' as const, 'duplicateLine' as const, 'swapLines' as const, 'indent' as const, 'dedent' as const, 'tab' as const), at }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('scalar' as const), at, value: fc.oneof(fc.constantFrom(...SCALARS), fc.string({ maxLength: 12 })) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at, s: fc.oneof(fc.constantFrom(':', '- ', '\t', '#', '"', "'", '&x ', '*x', '\n  ', '---\n', '%YAML 1.2\n', '\uFEFF'), fc.string({ unit: 'binary', maxLength: 10 })) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('setPath' as const), path: fc.array(fc.nat(30), { minLength: 1, maxLength: 5 }), value: jsonValue }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('deletePath' as const), path: fc.array(fc.nat(30), { minLength: 1, maxLength: 5 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('append' as const), s: fc.constantFrom(BOMB, 'extra: 1', 'site: other', 'customTransformers: .', 'customTransformers: ../..', 'customTransformers: /tmp', '---\nsecond: doc', 'views: {x: ../../../schema.yaml}') }) },
  );
}

type Container = Record<string, unknown> | unknown[];

/** Walks `path` (each number picks the n-th key or element, modulo the size) and applies `fn` at its end. */
function atPath(data: unknown, path: readonly number[], fn: (parent: Container, key: string | number) => void): void {
  let node = data;
  for (let i = 0; i < path.length; i++) {
    if (!node || typeof node !== 'object') return;
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, k) => k) : Object.keys(node);
    if (keys.length === 0) return;
    const key = keys[(path[i] as number) % keys.length] as string | number;
    const child = (node as Record<string | number, unknown>)[key];
    if (i === path.length - 1 || !child || typeof child !== 'object') {
      fn(node as Container, key);
      return;
    }
    node = child;
  }
}

function valueLevel(text: string, m: Extract<YamlMutation, { op: 'setPath' | 'deletePath' }>): string {
  let data: unknown;
  try {
    data = parse(text, { maxAliasCount: 100 });
  } catch {
    return text;
  }
  atPath(data, m.path, (parent, key) => {
    if (m.op === 'deletePath') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key as string];
    } else (parent as Record<string | number, unknown>)[key] = m.value;
  });
  return stringify(data);
}

export function mutateYaml(seed: string, mutations: readonly YamlMutation[]): string {
  let text = seed;
  for (const m of mutations) {
    const lines = text.split('\n');
    const line = Math.min(lines.length - 1, Math.floor(('at' in m ? m.at : 0) * lines.length));
    switch (m.op) {
      case 'dropLine':
        lines.splice(line, 1);
        break;
      case 'duplicateLine':
        lines.splice(line, 0, lines[line] ?? '');
        break;
      case 'swapLines':
        if (line + 1 < lines.length) [lines[line], lines[line + 1]] = [lines[line + 1] as string, lines[line] as string];
        break;
      case 'indent':
        lines[line] = `  ${lines[line] ?? ''}`;
        break;
      case 'dedent':
        lines[line] = (lines[line] ?? '').replace(/^ {1,2}/, '');
        break;
      case 'tab':
        lines[line] = `\t${lines[line] ?? ''}`;
        break;
      case 'scalar':
        // Replaces what follows the first `: ` or `- ` on the line: a value, a list item or a flow mapping.
        lines[line] = (lines[line] ?? '').replace(/(:\s|-\s)(.*)$/, (_, p: string) => p + m.value);
        break;
      case 'truncate':
        return mutateYaml(text.slice(0, Math.floor(m.at * text.length)), mutations.slice(mutations.indexOf(m) + 1));
      case 'insert': {
        const pos = Math.floor(m.at * text.length);
        text = text.slice(0, pos) + m.s + text.slice(pos);
        continue;
      }
      case 'setPath':
      case 'deletePath':
        text = valueLevel(text, m);
        continue;
      case 'append':
        text = `${text}\n${m.s}\n`;
        continue;
    }
    text = lines.join('\n');
  }
  return text;
}
