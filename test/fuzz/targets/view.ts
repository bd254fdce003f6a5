/**
 * Fuzz target: the ViewDefinition engine. Any JSON given to compileView compiles or is refused with
 * FHIRFED_ERR_VIEW_INVALID (or FHIRPATH); a compiled view evaluated on any resource returns rows whose keys are
 * exactly its columns, or refuses with FHIRFED_ERR_FHIRPATH, and never throws anything else.
 */
import fc from 'fast-check';
import { compileView } from '../../../src/harmonize/view/index.js';
import { Tally, type FuzzTarget } from '../harness/target.js';
import { expectThat, typedOrResult } from '../harness/typed.js';
import { resourceArb, viewArb } from './view-gen.js';

export interface ViewInput {
  readonly view: unknown;
  readonly resources: readonly unknown[];
}

const tally = new Tally();

function check(input: ViewInput): void {
  const compiled = typedOrResult('compileView', () => compileView(input.view, { source: 'fuzz.json' }));
  if (!compiled.ok) {
    expectThat(['FHIRFED_ERR_VIEW_INVALID', 'FHIRFED_ERR_FHIRPATH'].includes(compiled.error.code), `compileView refused with ${compiled.error.code}`);
    tally.add(`refused ${compiled.error.code}`);
    return;
  }
  tally.add('compiled');
  const names = compiled.value.columns.map((c) => c.name).sort().join(',');
  // Each resource as generated and re-typed to the view's resource, so most reach the selects.
  const typed = input.resources.map((r) => (r && typeof r === 'object' ? { ...r, resourceType: compiled.value.resource } : r));
  for (const r of [...input.resources, ...typed]) {
    const rows = typedOrResult('evaluate', () => compiled.value.evaluate(r));
    if (!rows.ok) {
      expectThat(rows.error.code === 'FHIRFED_ERR_FHIRPATH', `evaluate refused with ${rows.error.code}: ${rows.error.message}`);
      tally.add('evaluation refused');
      continue;
    }
    tally.add(rows.value.length > 0 ? 'rows' : 'no rows');
    for (const row of rows.value) expectThat(Object.keys(row).sort().join(',') === names, `row keys ${Object.keys(row).join(',')} differ from columns ${names}`);
    JSON.stringify(rows.value);
  }
}

export const target: FuzzTarget<ViewInput> = {
  name: 'view',
  arbitrary: () => fc.record({ view: viewArb(), resources: fc.array(resourceArb(), { maxLength: 4 }) }),
  check,
  stats: () => tally.toJSON(),
};
