import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4/index.js';
import { describe, expect, it } from 'vitest';
import { FhirfedError } from '../../src/core/errors.js';
import { compileView } from '../../src/harmonize/view/index.js';
import { compileFastPath, SLOW } from '../../src/harmonize/view/fastpath.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const samples = join(root, '..', 'shared', 'samples', 'fhir', 'pathling-encoders-r4-9pt');
const haveSamples = existsSync(join(samples, 'Observation.ndjson'));

const col = (name: string, path: string, extra: Record<string, unknown> = {}) => ({ name, path, ...extra });
const view = (select: unknown[], extra: Record<string, unknown> = {}) => ({ resource: 'Patient', select, ...extra });

function errorOf(fn: () => unknown): FhirfedError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FhirfedError) return e;
    throw new Error(`expected a FhirfedError, got ${String(e)}`);
  }
  throw new Error('expected an error, none was thrown');
}

describe('view validation names the bad path', () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['not an object', [], '(view)', /JSON object/],
    ['missing resource', { select: [{ column: [col('id', 'id')] }] }, 'resource', /required/],
    ['unknown resource type', { resource: 'Patientt', select: [{ column: [col('id', 'id')] }] }, 'resource', /not a FHIR R4 resource/],
    ['unknown top-level field', { ...view([{ column: [col('id', 'id')] }]), selct: [] }, 'selct', /unknown field 'selct'/],
    ['unknown column field', view([{ column: [{ ...col('id', 'id'), nam: 'x' }] }]), 'select[0].column[0].nam', /unknown field/],
    ['bad column name', view([{ column: [col('id', 'id'), col('1x', 'id')] }]), 'select[0].column[1].name', /not valid/],
    ['duplicate column', view([{ column: [col('id', 'id')] }, { column: [col('id', 'id')] }]), 'select[1].column[0]', /used twice/],
    ['FHIRPath syntax', view([{ column: [col('a', 'id'), col('b', 'id'), col('c', 'name.(')] }]), 'select[0].column[2].path', /invalid FHIRPath/],
    ['unknown function', view([{ column: [col('a', 'name.frist()')] }]), 'select[0].column[0].path', /Not implemented: frist/],
    ['undefined constant', { ...view([{ column: [col('id', 'id')] }]), where: [{ path: 'gender = %sex' }] }, 'where[0].path', /undefined constant %sex/],
    ['constant without value', { ...view([{ column: [col('id', 'id')] }]), constant: [{ name: 'x' }] }, 'constant[0]', /has no value/],
    ['constant of the wrong JSON type', { ...view([{ column: [col('id', 'id')] }]), constant: [{ name: 'x', valueInteger: '1' }] }, 'constant[0].valueInteger', /JSON integer/],
    ['bad date constant', { ...view([{ column: [col('id', 'id')] }]), constant: [{ name: 'd', valueDate: '12/03/1978' }] }, 'constant[0].valueDate', /not a FHIR date/],
    ['forEach and forEachOrNull together', view([{ forEach: 'name', forEachOrNull: 'name', column: [col('f', 'family')] }]), 'select[0].forEachOrNull', /only one of/],
    ['forEach not a string', view([{ forEach: 1, column: [col('f', 'family')] }]), 'select[0].forEach', /FHIRPath string/],
    ['unionAll column mismatch', view([{ unionAll: [{ column: [col('a', 'id')] }, { column: [col('b', 'id')] }] }]), 'select[0].unionAll[1]', /branch 1 has columns \[b\]/],
    ['empty select list', view([]), 'select', /at least one/],
    ['select without content', view([{ forEach: 'name' }]), 'select[0]', /at least one of column/],
  ];
  for (const [what, def, path, message] of cases) {
    it(what, () => {
      const e = errorOf(() => compileView(def, { source: 'views/x.json' }));
      expect(e.code).toBe('FHIRFED_ERR_VIEW_INVALID');
      expect(e.where).toMatchObject({ file: 'views/x.json', path });
      expect(e.message).toMatch(message);
    });
  }
});

describe('runtime errors name the expression path', () => {
  const pt = { resourceType: 'Patient', id: 'p1', name: [{ family: 'A' }, { family: 'B' }] };

  it('collection false with several values', () => {
    const v = compileView(view([{ column: [col('id', 'id'), col('family', 'name.family', { collection: false })] }]));
    const e = errorOf(() => v.evaluate(pt));
    expect(e.code).toBe('FHIRFED_ERR_FHIRPATH');
    expect(e.where?.path).toBe('select[0].column[1].path');
    expect(e.message).toMatch(/returned 2 values on resource 'p1'/);
  });

  it('where not boolean', () => {
    const v = compileView({ ...view([{ column: [col('id', 'id')] }]), where: [{ path: 'name.family.first()' }] });
    const e = errorOf(() => v.evaluate(pt));
    expect(e.code).toBe('FHIRFED_ERR_FHIRPATH');
    expect(e.where?.path).toBe('where[0].path');
  });

  it('collection true gives an array, other resource types give no rows', () => {
    const v = compileView(view([{ column: [col('family', 'name.family', { collection: true })] }]));
    expect(v.evaluate(pt)).toEqual([{ family: ['A', 'B'] }]);
    expect(v.evaluate({ resourceType: 'Observation', id: 'o' })).toEqual([]);
    expect(v.columns).toEqual([{ name: 'family', path: 'name.family', collection: true }]);
  });
});

describe('fast paths', () => {
  it('are chosen only for model-typed simple paths', () => {
    expect(compileFastPath('subject.reference', 'Observation', true)).toBeDefined();
    expect(compileFastPath('value.ofType(Quantity).value', 'Observation', true)).toBeDefined();
    expect(compileFastPath('value', 'Observation', true)).toBeUndefined(); // choice without ofType
    expect(compileFastPath('value.ofType(Foo)', 'Observation', true)).toBeUndefined();
    expect(compileFastPath('nosuch.thing', 'Observation', true)).toBeUndefined();
    expect(compileFastPath('name.where(use = \'official\')', 'Patient', true)).toBeUndefined();
    expect(compileFastPath('id', 'Patient', false)).toBeUndefined(); // fhirpath.js nodes
  });

  it('defer to fhirpath.js when a primitive carries _metadata', () => {
    const pt = { resourceType: 'Patient', id: 'p', birthDate: '2000-01-01', _birthDate: { extension: [{ url: 'x', valueString: 'y' }] } };
    expect(compileFastPath('birthDate', 'Patient', true)?.eval(pt, 0)).toBe(SLOW);
    const v = compileView(view([{ column: [col('bd', 'birthDate')] }]));
    expect(v.evaluate(pt)).toEqual([{ bd: '2000-01-01' }]);
  });

  const expressions: Record<string, string[]> = {
    Observation: [
      'id', 'status', 'subject.reference', 'encounter.reference', 'code.coding.code', 'code.coding.code.first()',
      'code.coding[0].display', 'category.coding.code', 'effective.ofType(dateTime)', 'issued',
      'value.ofType(Quantity).value', 'value.ofType(Quantity).unit', 'component.code.coding.code',
      'component.value.ofType(Quantity).value', 'component[1].value.ofType(Quantity).code', 'code', 'meta.profile',
    ],
    Patient: ['id', 'gender', 'birthDate', 'name.family', 'name.given', 'name[0].given.first()', 'address.city',
      'telecom.value', 'identifier.type.coding.code', 'deceased.ofType(dateTime)', 'extension.url'],
  };
  for (const [type, list] of Object.entries(expressions)) {
    it.skipIf(!haveSamples)(`agree with fhirpath.js on the ${type} sample (skipped without ../shared samples)`, () => {
      const resources = readFileSync(join(samples, `${type}.ndjson`), 'utf8').split('\n').filter((l) => l.trim())
        .slice(0, 150).map((l) => JSON.parse(l) as Record<string, unknown>);
      let compared = 0;
      for (const e of list) {
        const check = fhirpath.compile(e, r4);
        const fast = compileFastPath(e, type, true);
        expect(fast, e).toBeDefined();
        for (const r of resources) {
          const got = fast?.eval(structuredClone(r), 0);
          if (got === SLOW) continue;
          expect(got, `${e} on ${String(r.id)}`).toEqual(check(structuredClone(r)));
          compared++;
        }
      }
      expect(compared).toBeGreaterThanOrEqual((list.length * resources.length) / 2);
    });
  }

  it.skipIf(!haveSamples)('give the same rows as fhirpath.js inside forEach (skipped without ../shared samples)', () => {
    const resources = readFileSync(join(samples, 'Observation.ndjson'), 'utf8').split('\n').filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const v = compileView({
      resource: 'Observation',
      select: [{ column: [col('id', 'id')] }, {
        forEach: 'component',
        column: [col('code', 'code.coding.code.first()'), col('value', 'value.ofType(Quantity).value'), col('i', '%rowIndex')],
      }],
    });
    let rows = 0;
    for (const r of resources) {
      const comps = fhirpath.evaluate(r, 'component', undefined, r4) as unknown[];
      const want = comps.map((_, i) => ({
        id: r.id,
        code: (fhirpath.evaluate(r, `component[${i}].code.coding.code.first()`, undefined, r4) as unknown[])[0] ?? null,
        value: (fhirpath.evaluate(r, `component[${i}].value.ofType(Quantity).value`, undefined, r4) as unknown[])[0] ?? null,
        i,
      }));
      expect(v.evaluate(r)).toEqual(want);
      rows += want.length;
    }
    expect(rows).toBeGreaterThan(0);
  });
});
