import { z } from 'zod';
import { FhirfedError } from '../../core/errors.js';
import { annotations, convertUnit, isConvertible, isValidUcum } from '../units.js';
import { analyte } from './analytes.js';
import { defineTransformer, quarantine, type Cell } from './contract.js';

/**
 * Converts a numeric value to the feature's canonical UCUM unit. Analyte rules UCUM alone gets wrong:
 * - mass <-> substance (mg/dL <-> mmol/L) needs the molecular weight: from `molecularWeight` or the analyte table
 *   (by the feature's LOINC code);
 * - HbA1c % (NGSP) <-> mmol/mol (IFCC) is an affine formula, not a unit conversion (UCUM turns 7 % into 70 mmol/mol):
 *   this transformer refuses that pair; put `hba1c` before it;
 * - `{...}` annotations count as 1 in UCUM; with the schema's `strictAnnotations` they must match exactly.
 */

const params = z
  .strictObject({
    /** Source units this site sends. Each is checked against the canonical unit when the mapping loads. */
    accept: z.array(z.string().min(1)).optional(),
    molecularWeight: z.number().positive().optional(),
    /** Target unit when the feature has none (e.g. a label derived from a lab value by `threshold`). */
    to: z.string().min(1).optional(),
    /** Unit to assume when a value comes without one (otherwise it is quarantined). */
    assumeUnit: z.string().min(1).optional(),
  })
  .default({});

function isPercentToIfcc(from: string, to: string): boolean {
  return (from === '%' && to === 'mmol/mol') || (from === 'mmol/mol' && to === '%');
}

export const ucumTransformer = defineTransformer({
  name: 'ucum',
  version: '1.0.0',
  description: "convert to the feature's canonical UCUM unit (molecular weight for mass<->mole)",
  stage: 'value',
  params,
  create(p, ctx) {
    if (p.to !== undefined && ctx.feature.unit !== undefined && p.to !== ctx.feature.unit) {
      throw new FhirfedError('FHIRFED_ERR_UNIT', `\`to: ${p.to}\` differs from the schema unit \`${ctx.feature.unit}\``, { hint: 'drop `to`; the schema unit is the target' });
    }
    const target = p.to ?? ctx.feature.unit;
    if (target === undefined) {
      throw new FhirfedError('FHIRFED_ERR_UNIT', `feature \`${ctx.feature.name}\` has no unit in the schema; nothing to convert to`, { hint: 'add `to: <UCUM unit>` or a `unit:` to the schema feature' });
    }
    if (!isValidUcum(target)) throw new FhirfedError('FHIRFED_ERR_UNIT', `\`${target}\` is not a valid UCUM unit`);
    const mw = p.molecularWeight ?? analyte(ctx.feature.loinc)?.molecularWeight;
    for (const unit of [...(p.accept ?? []), ...(p.assumeUnit ? [p.assumeUnit] : [])]) {
      if (!isValidUcum(unit)) {
        throw new FhirfedError('FHIRFED_ERR_UNIT', `\`${unit}\` is not a valid UCUM unit`, { hint: 'list UCUM codes (mm[Hg], Cel, mg/dL); add a unit-repair transformer for local spellings' });
      }
      if (isPercentToIfcc(unit, target)) {
        throw new FhirfedError('FHIRFED_ERR_UNIT', `\`${unit}\` -> \`${target}\` is HbA1c NGSP/IFCC, an affine formula, not a UCUM conversion`, { hint: 'put the `hba1c` transformer before `ucum`' });
      }
      const probe = isConvertible(unit, target, mw);
      if (!probe.ok) {
        throw new FhirfedError('FHIRFED_ERR_UNIT', `unit not convertible to the schema unit: ${probe.reason}`, { hint: 'fix `accept`, add `molecularWeight`, or map this source to another feature' });
      }
    }
    const targetAnnotations = annotations(target).join();
    return (cell: Cell) => {
      const value = typeof cell.value === 'string' && cell.value.trim() !== '' ? Number(cell.value) : cell.value;
      if (typeof value !== 'number' || !Number.isFinite(value)) return quarantine(cell, 'not-a-number', `value is not a number`);
      const from = cell.unit ?? p.assumeUnit;
      if (from === undefined) return quarantine(cell, 'unit-missing', `no unit; expected one convertible to ${target}`);
      if (ctx.feature.strictAnnotations && annotations(from).join() !== targetAnnotations) {
        return quarantine(cell, 'unit-annotation-mismatch', `\`${from}\` is not \`${target}\` (annotations differ; not normalised the same way)`);
      }
      if (isPercentToIfcc(from, target)) return quarantine(cell, 'unit-needs-analyte-rule', `\`${from}\` -> \`${target}\` needs the hba1c formula`);
      const r = convertUnit(value, from, target, mw);
      if (!r.ok) return quarantine(cell, 'unit-not-convertible', r.reason);
      return { ...cell, value: r.value, unit: target };
    };
  },
});
