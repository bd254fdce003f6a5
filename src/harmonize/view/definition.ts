import { FhirfedError } from '../../core/errors.js';
import type { ColumnDef, ConstantDef, Iteration, SelectDef, ViewDef, WhereDef } from './types.js';

/**
 * Structural validation of a ViewDefinition: every problem names its JSON path inside the view, so a user can find
 * it in the file. FHIRPath syntax is checked later, when the expressions compile.
 */

/** Resource-level elements a ViewDefinition may carry besides the ones the engine reads. */
const VIEW_KEYS = new Set([
  'resourceType', 'id', 'meta', 'implicitRules', 'language', 'text', 'contained', 'extension', 'modifierExtension',
  'url', 'identifier', 'version', 'name', 'title', 'status', 'experimental', 'date', 'publisher', 'contact',
  'description', 'useContext', 'jurisdiction', 'purpose', 'copyright', 'resource', 'resourceVersion', 'fhirVersion',
  'profile', 'constant', 'select', 'where',
]);
const SELECT_KEYS = new Set(['id', 'extension', 'column', 'select', 'forEach', 'forEachOrNull', 'repeat', 'unionAll']);
const COLUMN_KEYS = new Set(['id', 'extension', 'name', 'path', 'description', 'collection', 'type', 'tag']);
const WHERE_KEYS = new Set(['id', 'extension', 'path', 'description']);

/** value[x] types a constant may use (SQL on FHIR v2), with the JSON type each must have. */
export const CONSTANT_TYPES: Readonly<Record<string, 'string' | 'boolean' | 'integer' | 'number'>> = {
  Base64Binary: 'string', Boolean: 'boolean', Canonical: 'string', Code: 'string', Date: 'string',
  DateTime: 'string', Decimal: 'number', Id: 'string', Instant: 'string', Integer: 'integer', Integer64: 'integer',
  Markdown: 'string', Oid: 'string', PositiveInt: 'integer', String: 'string', Time: 'string', UnsignedInt: 'integer',
  Uri: 'string', Url: 'string', Uuid: 'string',
};

const COLUMN_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const CONSTANT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Json = Record<string, unknown>;

class Checker {
  constructor(private readonly source: string | undefined) {}

  fail(at: string, message: string, hint?: string): never {
    throw new FhirfedError('FHIRFED_ERR_VIEW_INVALID', message, {
      where: { file: this.source, path: at || '(view)' },
      hint: hint ?? 'see https://build.fhir.org/ig/FHIR/sql-on-fhir-v2/StructureDefinition-ViewDefinition.html',
    });
  }

  object(v: unknown, at: string, what: string): Json {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(at, `${what} must be a JSON object`);
    return v as Json;
  }

  knownKeys(o: Json, allowed: ReadonlySet<string>, at: string, what: string): void {
    for (const k of Object.keys(o)) {
      if (!allowed.has(k)) {
        this.fail(join(at, k), `unknown field '${k}' in ${what}`, `allowed fields: ${[...allowed].join(', ')}`);
      }
    }
  }

  array(o: Json, key: string, at: string): unknown[] {
    const v = o[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(join(at, key), `'${key}' must be an array`);
    return v;
  }

  expression(v: unknown, at: string, what: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(at, `${what} must be a non-empty FHIRPath string`);
    return v;
  }
}

function join(at: string, key: string | number): string {
  if (typeof key === 'number') return `${at}[${key}]`;
  return at ? `${at}.${key}` : key;
}

/** Validates the structure of a ViewDefinition and returns its normalized form. */
export function parseViewDefinition(raw: unknown, source?: string): ViewDef {
  const c: Checker = new Checker(source);
  const view = c.object(raw, '', 'a ViewDefinition');
  c.knownKeys(view, VIEW_KEYS, '', 'ViewDefinition');
  if (view.resourceType !== undefined && view.resourceType !== 'ViewDefinition') {
    c.fail('resourceType', `resourceType must be 'ViewDefinition', got ${JSON.stringify(view.resourceType)}`);
  }
  const resource = view.resource;
  if (typeof resource !== 'string' || !/^[A-Z][A-Za-z]+$/.test(resource)) {
    c.fail('resource', resource === undefined ? "'resource' is required" : "'resource' must be a FHIR resource type",
      "set 'resource' to the FHIR resource type the view reads, e.g. \"Patient\"");
  }
  if (view.name !== undefined && typeof view.name !== 'string') c.fail('name', "'name' must be a string");
  const constants = c.array(view, 'constant', '').map((x, i) => parseConstant(c, x, join('constant', i)));
  const seen = new Set<string>();
  for (const k of constants) {
    if (seen.has(k.name)) c.fail(k.at, `constant '${k.name}' is defined twice`);
    seen.add(k.name);
  }
  const where = c.array(view, 'where', '').map((x, i): WhereDef => {
    const at = join('where', i);
    const w = c.object(x, at, 'a where clause');
    c.knownKeys(w, WHERE_KEYS, at, 'where');
    return { path: c.expression(w.path, join(at, 'path'), 'where.path'), at: join(at, 'path') };
  });
  const selectRaw = c.array(view, 'select', '');
  if (selectRaw.length === 0) c.fail('select', "'select' must have at least one element", 'add a select with columns');
  const selects = selectRaw.map((x, i) => parseSelect(c, x, join('select', i)));
  const names = new Map<string, string>();
  for (const s of selects) {
    for (const col of columnsOf(s)) {
      const prior = names.get(col.name);
      if (prior !== undefined) {
        c.fail(col.at, `column name '${col.name}' is used twice (also at ${prior})`, 'column names must be unique');
      }
      names.set(col.name, col.at);
    }
  }
  return { name: view.name as string | undefined, resource, constants, where, selects };
}

function parseConstant(c: Checker, raw: unknown, at: string): ConstantDef {
  const o = c.object(raw, at, 'a constant');
  let value: unknown;
  let valueType: string | undefined;
  for (const k of Object.keys(o)) {
    if (k === 'name' || k === 'id' || k === 'extension') continue;
    const t = k.startsWith('value') ? k.slice(5) : undefined;
    if (t === undefined || CONSTANT_TYPES[t] === undefined) {
      c.fail(join(at, k), `unknown field '${k}' in constant`,
        `use one of: name, ${Object.keys(CONSTANT_TYPES).map((x) => `value${x}`).join(', ')}`);
    }
    if (valueType !== undefined) c.fail(join(at, k), 'a constant must have exactly one value[x]');
    valueType = t;
    value = o[k];
  }
  if (typeof o.name !== 'string' || !CONSTANT_NAME.test(o.name)) {
    c.fail(join(at, 'name'), "a constant needs a 'name' made of letters, digits and '_'");
  }
  if (valueType === undefined) {
    c.fail(at, `constant '${o.name}' has no value`, 'add exactly one value[x], e.g. "valueString": "official"');
  }
  const want = CONSTANT_TYPES[valueType];
  const ok = want === 'integer' ? Number.isInteger(value) || (valueType === 'Integer64' && typeof value === 'string' && /^-?\d+$/.test(value))
    : want === 'number' ? typeof value === 'number' && Number.isFinite(value) : typeof value === want;
  if (!ok) c.fail(join(at, `value${valueType}`), `value${valueType} must be a JSON ${want}`);
  return { name: o.name, valueType, value, at };
}

function parseIteration(c: Checker, o: Json, at: string): Iteration | undefined {
  const present = ['forEach', 'forEachOrNull', 'repeat'].filter((k) => o[k] !== undefined);
  if (present.length > 1) {
    c.fail(join(at, present[1] as string), `a select may have only one of forEach, forEachOrNull, repeat (found ${present.join(', ')})`);
  }
  if (o.forEach !== undefined) return { kind: 'forEach', path: c.expression(o.forEach, join(at, 'forEach'), 'forEach'), at: join(at, 'forEach') };
  if (o.forEachOrNull !== undefined) {
    const p = join(at, 'forEachOrNull');
    return { kind: 'forEachOrNull', path: c.expression(o.forEachOrNull, p, 'forEachOrNull'), at: p };
  }
  if (o.repeat !== undefined) {
    const p = join(at, 'repeat');
    if (!Array.isArray(o.repeat) || o.repeat.length === 0) c.fail(p, "'repeat' must be a non-empty array of FHIRPath strings");
    return { kind: 'repeat', paths: o.repeat.map((x, i) => c.expression(x, join(p, i), 'repeat path')), at: p };
  }
  return undefined;
}

function parseSelect(c: Checker, raw: unknown, at: string): SelectDef {
  const o = c.object(raw, at, 'a select');
  c.knownKeys(o, SELECT_KEYS, at, 'select');
  const iteration = parseIteration(c, o, at);
  const columns = c.array(o, 'column', at).map((x, i) => parseColumn(c, x, join(join(at, 'column'), i)));
  const selects = c.array(o, 'select', at).map((x, i) => parseSelect(c, x, join(join(at, 'select'), i)));
  const unionAll = c.array(o, 'unionAll', at).map((x, i) => parseSelect(c, x, join(join(at, 'unionAll'), i)));
  if (columns.length === 0 && selects.length === 0 && unionAll.length === 0) {
    c.fail(at, 'a select needs at least one of column, select or unionAll');
  }
  const def: SelectDef = { at, columns, selects, unionAll, iteration };
  if (unionAll.length > 0) {
    const first = columnsOf(unionAll[0] as SelectDef).map((x) => x.name);
    unionAll.forEach((u, i) => {
      const names = columnsOf(u).map((x) => x.name);
      if (names.join('\u0000') !== first.join('\u0000')) {
        c.fail(u.at, `unionAll branch ${i} has columns [${names.join(', ')}] but branch 0 has [${first.join(', ')}]`,
          'every unionAll branch must produce the same column names in the same order');
      }
    });
  }
  return def;
}

function parseColumn(c: Checker, raw: unknown, at: string): ColumnDef {
  const o = c.object(raw, at, 'a column');
  c.knownKeys(o, COLUMN_KEYS, at, 'column');
  if (typeof o.name !== 'string' || !COLUMN_NAME.test(o.name)) {
    c.fail(join(at, 'name'), `column name ${JSON.stringify(o.name)} is not valid`,
      'a column name starts with a letter and contains only letters, digits and _');
  }
  const path = c.expression(o.path, join(at, 'path'), 'column.path');
  if (o.collection !== undefined && typeof o.collection !== 'boolean') c.fail(join(at, 'collection'), "'collection' must be true or false");
  if (o.type !== undefined && (typeof o.type !== 'string' || o.type === '')) c.fail(join(at, 'type'), "'type' must be a FHIR type name");
  if (o.description !== undefined && typeof o.description !== 'string') c.fail(join(at, 'description'), "'description' must be a string");
  if (o.tag !== undefined && !Array.isArray(o.tag)) c.fail(join(at, 'tag'), "'tag' must be an array");
  return {
    name: o.name, path, collection: o.collection === true, at,
    ...(o.type === undefined ? {} : { type: o.type as string }),
    ...(o.description === undefined ? {} : { description: o.description as string }),
  };
}

/** Output columns of a select, in output order: its columns, nested selects, then the first unionAll branch. */
export function columnsOf(s: SelectDef): ColumnDef[] {
  const out: ColumnDef[] = [...s.columns];
  for (const child of s.selects) out.push(...columnsOf(child));
  if (s.unionAll[0]) out.push(...columnsOf(s.unionAll[0]));
  return out;
}
