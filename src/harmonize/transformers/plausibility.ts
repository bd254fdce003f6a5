import { z } from 'zod';
import { FhirfedError } from '../../core/errors.js';
import { convertUnit } from '../units.js';
import { analyte } from './analytes.js';
import { defineTransformer, quarantine, type Cell } from './contract.js';

/**
 * Plausibility: a numeric value must lie in a range (params, else the schema's `range`, else the analyte table
 * derived from the OMOP DQD); a categorical value must be one of the schema's `codes`. Failing values are
 * quarantined, not the patient. Runs after unit conversion, so the value is in the canonical unit.
 */

const params = z
  .strictObject({
    range: z.tuple([z.number(), z.number()]).optional(),
  })
  .default({});

export const plausibilityTransformer = defineTransformer({
  name: 'plausibility',
  version: '1.0.0',
  description: 'quarantine values outside the plausible range or the allowed codes',
  stage: 'value',
  params,
  create(p, ctx) {
    const f = ctx.feature;
    if (f.type === 'categorical') {
      const allowed = new Set(f.codes ?? []);
      return (cell: Cell) =>
        cell.value === null || allowed.has(String(cell.value))
          ? cell
          : quarantine(cell, 'code-not-allowed', `\`${String(cell.value)}\` is not one of ${[...allowed].join(', ')}`);
    }
    let range = p.range ?? f.range;
    if (!range) {
      const facts = analyte(f.loinc)?.range;
      if (facts && f.unit) {
        const low = convertUnit(facts.low, facts.unit, f.unit, analyte(f.loinc)?.molecularWeight);
        const high = convertUnit(facts.high, facts.unit, f.unit, analyte(f.loinc)?.molecularWeight);
        if (low.ok && high.ok) range = [low.value, high.value];
      }
    }
    if (!range) {
      throw new FhirfedError('FHIRFED_ERR_MAPPING_INVALID', `no plausible range for feature \`${f.name}\``, {
        hint: 'give `params.range`, a schema `range`, or a schema `loinc` known to the analyte table',
      });
    }
    if (range[0] > range[1]) throw new FhirfedError('FHIRFED_ERR_MAPPING_INVALID', 'range low must not exceed high');
    const [low, high] = range;
    return (cell: Cell) => {
      if (cell.value === null) return cell;
      if (typeof cell.value !== 'number' || !Number.isFinite(cell.value)) return quarantine(cell, 'not-a-number', 'value is not a number');
      if (f.unit !== undefined && cell.unit !== undefined && cell.unit !== f.unit) {
        return quarantine(cell, 'unit-not-canonical', `value is in \`${cell.unit}\`, not \`${f.unit}\`; convert before the plausibility check`);
      }
      if (cell.value < low || cell.value > high) {
        return quarantine(cell, 'implausible-value', `${cell.value} ${f.unit ?? ''} is outside the plausible range [${low}, ${high}]`.replace('  ', ' '));
      }
      return cell;
    };
  },
});
