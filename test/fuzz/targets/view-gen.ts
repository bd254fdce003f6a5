/**
 * Generators of ViewDefinition-shaped JSON and of FHIR-ish resources. Views are built from the SQL on FHIR v2
 * grammar (select/column/forEach/forEachOrNull/repeat/where/unionAll/constant) with FHIRPath snippets assembled from
 * paths, functions, operators and literals, plus a share of broken pieces (wrong types, unknown keys, bad names,
 * unbalanced FHIRPath), so both compile errors and evaluation run.
 */
import fc from 'fast-check';

const RESOURCES = ['Patient', 'Observation', 'Condition', 'Encounter', 'MedicationRequest', 'Bundle', 'patient', 'NotAType', 'Quantity'];
const ELEMENTS = ['id', 'name', 'given', 'family', 'use', 'code', 'coding', 'system', 'display', 'value', 'valueQuantity', 'valueString', 'unit',
  'component', 'telecom', 'birthDate', 'gender', 'status', 'subject', 'reference', 'extension', 'url', 'effectiveDateTime', 'identifier',
  'address', 'line', 'period', 'start', 'text', 'contained', 'active', 'deceased', 'valueBoolean', 'item'];
const FUNCTIONS = ['first()', 'last()', 'exists()', 'empty()', 'count()', 'not()', 'distinct()', 'single()', 'toString()', 'toInteger()',
  "join(',')", 'join()', 'getResourceKey()', 'getReferenceKey()', 'getReferenceKey(Patient)', 'ofType(Quantity)', 'ofType(string)',
  'ofType(Patient)', 'lowBoundary()', 'children()', 'descendants()', 'hasValue()', 'length()', 'upper()', "substring(1, 2)",
  "startsWith('a')", "extension('http://x')", 'iif(true, 1, 2)', 'repeat(item)', 'aggregate($this)', 'unknownFn()', 'first(1)'];
const LITERALS = ["'abc'", "''", '1', '-1', '0.5', '1e3', 'true', 'false', '@2020-01-01', '@2020-01-01T10:00:00Z', '@T10:00', "5 'mg'",
  '{}', '%rowIndex', '%c0', '%c1', '%undefinedConst', '$this', '$index', '$total', '%resource', '%context', "'\\u0041'"];
const OPERATORS = ['=', '!=', '~', '>', '<=', 'and', 'or', 'xor', 'implies', '+', '-', '*', '/', 'div', 'mod', '|', '&', 'in', 'contains', 'is', 'as'];
const BROKEN = ['(', ')', 'name.', '.name', "'unterminated", 'where(', 'a..b', '`', '%', '[0', 'name[', '@', '1 +', '!', '\u0000', '\uD800'];

function pathArb(): fc.Arbitrary<string> {
  const step = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...ELEMENTS) },
    { weight: 3, arbitrary: fc.constantFrom(...FUNCTIONS) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ELEMENTS), fc.nat(3)).map(([e, i]) => `${e}[${i}]`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ELEMENTS), fc.constantFrom(...OPERATORS), fc.constantFrom(...LITERALS)).map(([e, o, l]) => `where(${e} ${o} ${l})`) },
  );
  return fc.array(step, { minLength: 1, maxLength: 4 }).map((s) => s.join('.'));
}

const VALID_FUNCTIONS = FUNCTIONS.filter((f) => !['unknownFn()', 'first(1)', 'aggregate($this)'].includes(f));
const VALID_LITERALS = LITERALS.filter((l) => !['1e3', '%undefinedConst', '%resource', '%context', '$index', '$total'].includes(l));

/** FHIRPath from the well-formed part of the grammar only: it should compile, so evaluation gets exercised. */
export function validFhirpathArb(): fc.Arbitrary<string> {
  const step = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...ELEMENTS) },
    { weight: 3, arbitrary: fc.constantFrom(...VALID_FUNCTIONS) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ELEMENTS), fc.constantFrom('=', '!=', '>', 'and', 'or', '|', '+'), fc.constantFrom(...VALID_LITERALS)).map(([e, o, l]) => `where(${e} ${o} ${l})`) },
  );
  const path = fc.array(step, { minLength: 1, maxLength: 3 }).map((s) => s.join('.'));
  return fc.oneof(
    { weight: 6, arbitrary: path },
    { weight: 1, arbitrary: fc.tuple(path, fc.constantFrom('=', '!=', '|', 'and', '+', '>'), fc.constantFrom(...VALID_LITERALS)).map(([a, o, b]) => `${a} ${o} ${b}`) },
  );
}

export function fhirpathArb(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: pathArb() },
    { weight: 2, arbitrary: fc.tuple(pathArb(), fc.constantFrom(...OPERATORS), fc.oneof(pathArb(), fc.constantFrom(...LITERALS))).map(([a, o, b]) => `${a} ${o} ${b}`) },
    { weight: 1, arbitrary: fc.constantFrom(...LITERALS) },
    { weight: 1, arbitrary: fc.tuple(pathArb(), fc.constantFrom(...BROKEN)).map(([a, b]) => `${a}${b}`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 15 }) },
  );
}

type Json = Record<string, unknown>;

const columnName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('id', 'a', 'b', 'c', 'value', 'code', 'name_1', 'x') },
  { weight: 1, arbitrary: fc.constantFrom('1bad', '', 'has space', 'dup', 'a-b') },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);

function maybe<T>(arb: fc.Arbitrary<T>, weight = 1): fc.Arbitrary<T | undefined> {
  return fc.option(arb, { nil: undefined, freq: weight + 1 });
}

const columnFor = (fp: fc.Arbitrary<string>): fc.Arbitrary<Json> => fc.record(
  {
    name: columnName,
    path: fc.oneof({ weight: 9, arbitrary: fp }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }),
    collection: fc.oneof(fc.boolean(), fc.constantFrom('yes', 1)),
    type: fc.constantFrom('string', 'integer', 'boolean', '', 7),
    description: fc.string({ maxLength: 5 }),
    tag: fc.constantFrom([], 'x'),
    bogus: fc.constant(1),
  },
  { requiredKeys: ['name', 'path'] },
);


const selectFor = (fp: fc.Arbitrary<string>): fc.Memo<Json> => {
  const column = columnFor(fp);
  const memo: fc.Memo<Json> = fc.memo((depth: number): fc.Arbitrary<Json> => {
  // Small trees: compiling FHIRPath dominates the cost of a case, and depth matters more than width.
  const child = (n: number) => (depth <= 1 ? fc.constant([]) : fc.array(memo(depth - 1), { maxLength: n }));
  return fc
    .record({
      column: fc.array(column, { maxLength: 3 }),
      select: child(1),
      unionAll: child(2),
      forEach: maybe(fp, 2),
      forEachOrNull: maybe(fp, 4),
      repeat: maybe(fc.oneof(fc.array(fp, { maxLength: 2 }), fc.constant('item')), 4),
      extra: maybe(fc.constant(true), 8),
    })
    .map((s) => {
      const out: Json = {};
      for (const [k, v] of Object.entries(s)) if (v !== undefined && !(Array.isArray(v) && v.length === 0 && k !== 'column')) out[k] = v;
      return out;
    });
  });
  return memo;
};

const constantArb = fc.record({
  name: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('c0', 'c1') }, { weight: 1, arbitrary: fc.constantFrom('bad name', '', '9x') }),
  valueKey: fc.constantFrom('valueString', 'valueInteger', 'valueBoolean', 'valueDate', 'valueDateTime', 'valueTime', 'valueDecimal', 'valueInteger64', 'valueCode', 'valueFoo', 'value'),
  value: fc.oneof(fc.constantFrom('2020-01-01', '2020-13-45', '10:00', 'abc', '123', '2020-01-01T10:00:00Z'), fc.integer(), fc.boolean(), fc.double(), fc.constant(null)),
}).map(({ name, valueKey, value }) => ({ name, [valueKey]: value }));

/** Paths of every column under a select, in order. */
function columnPaths(s: unknown, out: string[] = []): string[] {
  if (!s || typeof s !== 'object') return out;
  const o = s as Json;
  for (const c of Array.isArray(o.column) ? o.column : []) if (typeof (c as Json)?.path === 'string') out.push((c as Json).path as string);
  for (const k of ['select', 'unionAll']) for (const x of Array.isArray(o[k]) ? (o[k] as unknown[]) : []) columnPaths(x, out);
  return out;
}

/** A copy of `s` whose column paths are taken, in turn, from `paths` (names and structure kept). */
function withPaths(s: Json, paths: readonly string[]): Json {
  let i = 0;
  const walk = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(walk);
    if (!x || typeof x !== 'object') return x;
    const o: Json = {};
    for (const [k, v] of Object.entries(x as Json)) o[k] = walk(v);
    if (typeof o.name === 'string' && typeof o.path === 'string' && paths.length > 0) o.path = paths[i++ % paths.length];
    return o;
  };
  return walk(s) as Json;
}

/**
 * Makes a generated select structurally valid (unique column names, one iteration kind, unionAll branches with the
 * same columns), so most views get past structure checks and the FHIRPath compiler and evaluator get exercised.
 */
function tidySelect(raw: Json, fresh: () => string): Json {
  const out: Json = {};
  if (Array.isArray(raw.column) && raw.column.length > 0) {
    out.column = raw.column.map((c) => {
      const col = c as Json;
      return { name: fresh(), path: typeof col.path === 'string' && col.path.trim() ? col.path : 'id', ...(col.collection === true ? { collection: true } : {}) };
    });
  }
  const iteration = ['forEach', 'forEachOrNull', 'repeat'].find((k) => raw[k] !== undefined);
  if (iteration === 'repeat') out.repeat = Array.isArray(raw.repeat) && raw.repeat.length > 0 ? raw.repeat : ['item'];
  else if (iteration) out[iteration] = raw[iteration];
  if (Array.isArray(raw.select) && raw.select.length > 0) out.select = raw.select.map((x) => tidySelect(x as Json, fresh));
  if (Array.isArray(raw.unionAll) && raw.unionAll.length > 0) {
    const first = tidySelect(raw.unionAll[0] as Json, fresh);
    out.unionAll = raw.unionAll.map((b, i) => (i === 0 ? first : withPaths(first, columnPaths(b))));
  }
  if (!out.column && !out.select && !out.unionAll) out.column = [{ name: fresh(), path: 'id' }];
  return out;
}

function tidyView(raw: Json, resource: string): Json {
  let n = 0;
  const fresh = (): string => `col${n++}`;
  return {
    resourceType: 'ViewDefinition',
    resource,
    constant: [{ name: 'c0', valueString: 'abc' }, { name: 'c1', valueInteger: 2 }],
    ...(Array.isArray(raw.where) ? { where: raw.where.filter((w) => typeof (w as Json)?.path === 'string' && ((w as Json).path as string).trim() !== '') } : {}),
    select: (raw.select as Json[]).map((s) => tidySelect(s, fresh)),
  };
}

function rawViewArb(fp: fc.Arbitrary<string>): fc.Arbitrary<Json> {
  return fc.record(
    {
      resourceType: fc.constantFrom('ViewDefinition', 'ViewDefinition', 'Patient'),
      resource: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...RESOURCES) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }),
      name: fc.constantFrom('v', 3),
      status: fc.constant('active'),
      constant: fc.array(constantArb, { maxLength: 2 }),
      where: fc.array(fc.oneof({ weight: 9, arbitrary: fp.map((path) => ({ path })) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }), { maxLength: 2 }),
      select: fc.array(selectFor(fp)(3), { minLength: 1, maxLength: 2 }),
    },
    { requiredKeys: ['resource', 'select'] },
  ) as fc.Arbitrary<Json>;
}

export function viewArb(): fc.Arbitrary<unknown> {
  const raw = rawViewArb(fhirpathArb());
  const wellFormed = fc.oneof({ weight: 19, arbitrary: validFhirpathArb() }, { weight: 1, arbitrary: fhirpathArb() });
  const tidy = fc.tuple(rawViewArb(wellFormed), fc.constantFrom('Patient', 'Observation', 'Condition', 'Encounter')).map(([v, r]) => tidyView(v, r));
  // Mostly valid structure (the FHIRPath and the evaluator are where the depth is), some raw, some any JSON.
  return fc.oneof({ weight: 14, arbitrary: tidy }, { weight: 5, arbitrary: raw }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) });
}

/** FHIR-shaped resources: the elements views read, with random values and occasional wrong types. */
export function resourceArb(): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constantFrom('2020-01-01', 'Patient/p1', 'urn:uuid:abc', 'http://loinc.org'));
  const node: fc.Memo<unknown> = fc.memo((d: number): fc.Arbitrary<unknown> => {
    if (d <= 0) return leaf;
    const obj = fc.dictionary(fc.constantFrom(...ELEMENTS, 'resourceType'), node(d - 1), { maxKeys: 4 });
    return fc.oneof({ weight: 2, arbitrary: leaf }, { weight: 3, arbitrary: obj }, { weight: 2, arbitrary: fc.array(fc.oneof(obj, leaf), { maxLength: 3 }) });
  });
  return fc
    .tuple(fc.constantFrom('Patient', 'Observation', 'Condition', 'Encounter'), fc.option(fc.constantFrom('p1', 'o-2', '', 7), { nil: undefined }), fc.dictionary(fc.constantFrom(...ELEMENTS), node(3), { maxKeys: 6 }))
    .map(([resourceType, id, body]) => ({ ...body, resourceType, ...(id === undefined ? {} : { id }) }));
}
