import { z } from 'zod';
import { FhirfedError } from '../../core/errors.js';
import { isConvertible, isValidUcum } from '../units.js';
import { defineTransformer, type Cell } from './contract.js';

/**
 * Hospitals send unit strings that are not UCUM (`mmHg`, `mg/dl`, `µmol/L`) or that are UCUM but mean something else
 * (`C` is the coulomb). This table rewrites them to UCUM before conversion. Temperature spellings are only rewritten
 * when the feature's canonical unit is a temperature, so a `C` on a charge-like feature is never silently read as
 * Celsius.
 */

/** Always safe: the left side is not valid UCUM or is a plain spelling variant. */
const GENERAL: Readonly<Record<string, string>> = {
  mmHg: 'mm[Hg]',
  'mm Hg': 'mm[Hg]',
  mmhg: 'mm[Hg]',
  'mg/dl': 'mg/dL',
  'mmol/l': 'mmol/L',
  'umol/l': 'umol/L',
  'µmol/L': 'umol/L',
  'μmol/L': 'umol/L',
  'µmol/l': 'umol/L',
  'g/dl': 'g/dL',
  'kg/m²': 'kg/m2',
  'kg/m^2': 'kg/m2',
  'mL/min/1.73m2': 'mL/min/{1.73_m2}',
  'mL/min/1.73 m2': 'mL/min/{1.73_m2}',
  'ml/min/1.73m2': 'mL/min/{1.73_m2}',
  'ml/min/1.73 m2': 'mL/min/{1.73_m2}',
  'mL/min/1.73m²': 'mL/min/{1.73_m2}',
  'ml/min': 'mL/min',
  'mmol/mol Hb': 'mmol/mol',
  years: 'a',
  yr: 'a',
  lbs: '[lb_av]',
  lb: '[lb_av]',
  bpm: '/min',
};

/** Only for features whose canonical unit is a temperature. */
const TEMPERATURE: Readonly<Record<string, string>> = {
  C: 'Cel',
  '°C': 'Cel',
  degC: 'Cel',
  F: '[degF]',
  '°F': '[degF]',
  degF: '[degF]',
};

const params = z
  .strictObject({
    /** Site-specific additions (`raw: UCUM`); the right side must be valid UCUM. */
    extra: z.record(z.string().min(1), z.string().min(1)).default({}),
  })
  .default({ extra: {} });

export const unitRepairTransformer = defineTransformer({
  name: 'unit-repair',
  version: '1.0.0',
  description: 'rewrite common non-UCUM unit strings (mmHg -> mm[Hg]; C -> Cel for temperatures only)',
  stage: 'value',
  params,
  create(p, ctx) {
    for (const [raw, ucum] of Object.entries(p.extra)) {
      if (!isValidUcum(ucum)) {
        throw new FhirfedError('FHIRFED_ERR_UNIT', `extra.${raw}: \`${ucum}\` is not a valid UCUM unit`, { hint: 'write the UCUM code, e.g. mm[Hg], Cel, mL/min/{1.73_m2}' });
      }
    }
    const isTemperature = ctx.feature.unit !== undefined && isConvertible('Cel', ctx.feature.unit).ok;
    const table: Record<string, string> = { ...GENERAL, ...(isTemperature ? TEMPERATURE : {}), ...p.extra };
    return (cell: Cell) => {
      if (cell.unit === undefined) return cell;
      const unit = cell.unit.trim();
      const repaired = table[unit] ?? unit;
      return repaired === cell.unit ? cell : { ...cell, unit: repaired };
    };
  },
});
