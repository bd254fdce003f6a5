import { z } from 'zod';
import { FhirfedError } from '../../core/errors.js';
import { defineTransformer, quarantine, type Cell } from './contract.js';

/**
 * HbA1c NGSP (%) <-> IFCC (mmol/mol). The IFCC-NGSP master equation is affine, so UCUM's % -> mmol/mol (x10) is
 * wrong: IFCC = (NGSP - 2.15) x 10.929 (Hoelzel et al., Clin Chem 2004). Values already in the canonical unit pass
 * through; any other unit passes through unchanged for `ucum` (or a quarantine) to deal with.
 */

const NGSP_OFFSET = 2.15;
const IFCC_PER_NGSP = 10.929;

export function ngspToIfcc(percent: number): number {
  return (percent - NGSP_OFFSET) * IFCC_PER_NGSP;
}

export function ifccToNgsp(mmolPerMol: number): number {
  return mmolPerMol / IFCC_PER_NGSP + NGSP_OFFSET;
}

const params = z.strictObject({}).default({});

export const hba1cTransformer = defineTransformer({
  name: 'hba1c',
  version: '1.0.0',
  description: 'HbA1c % (NGSP) <-> mmol/mol (IFCC) by the master equation',
  stage: 'value',
  params,
  create(_p, ctx) {
    const target = ctx.feature.unit;
    if (target !== '%' && target !== 'mmol/mol') {
      throw new FhirfedError('FHIRFED_ERR_UNIT', `hba1c needs a schema unit of % or mmol/mol, feature \`${ctx.feature.name}\` has \`${target ?? 'none'}\``, { hint: 'use hba1c only on the HbA1c feature' });
    }
    return (cell: Cell) => {
      if (cell.unit !== '%' && cell.unit !== 'mmol/mol') return cell;
      if (cell.unit === target) return cell;
      const value = typeof cell.value === 'string' ? Number(cell.value) : cell.value;
      if (typeof value !== 'number' || !Number.isFinite(value)) return quarantine(cell, 'not-a-number', 'value is not a number');
      return { ...cell, value: target === 'mmol/mol' ? ngspToIfcc(value) : ifccToNgsp(value), unit: target };
    };
  },
});
