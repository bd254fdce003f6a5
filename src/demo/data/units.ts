import { CREATININE_UMOL_PER_MGDL, GLUCOSE_MGDL_PER_MMOL, mmolPerMolToPercent } from './model.js';
import type { Analyte } from './record.js';
import { round } from './rng.js';
import type { SiteQuantity } from './fhir-resources.js';

/**
 * How a value in the canonical unit is written in a site's unit, rounded the way labs report it. The unit keys are
 * UCUM codes; `text` is what a site shows when it does not code its units (`mmHg`, `F`, `mL/min/1.73m2`).
 */

export type UnitSpelling = { readonly ucum: string; readonly text?: string; readonly coded?: boolean };

/** Canonical unit per analyte (mappings/schema.yaml). */
export const CANONICAL_UNIT: Readonly<Record<Analyte, string>> = {
  glucose: 'mmol/L',
  hba1c: 'mmol/mol',
  creatinine: 'umol/L',
  egfr: 'mL/min/{1.73_m2}',
  bmi: 'kg/m2',
  temperature: 'Cel',
};

/** Converts from the canonical unit to `ucum` and rounds to the site's reporting precision. */
export function fromCanonical(analyte: Analyte, value: number, ucum: string): number {
  switch (`${analyte} ${ucum}`) {
    case 'glucose mmol/L':
      return round(value, 1);
    case 'glucose mg/dL':
      return Math.round(value * GLUCOSE_MGDL_PER_MMOL);
    case 'hba1c mmol/mol':
      return Math.round(value);
    case 'hba1c %':
      return round(mmolPerMolToPercent(value), 1);
    case 'creatinine umol/L':
      return Math.round(value);
    case 'creatinine mg/dL':
      return round(value / CREATININE_UMOL_PER_MGDL, 2);
    case 'egfr mL/min/{1.73_m2}':
    case 'egfr mL/min':
      return Math.round(value);
    case 'bmi kg/m2':
      return round(value, 1);
    case 'temperature Cel':
      return round(value, 1);
    case 'temperature [degF]':
      return round(value * 1.8 + 32, 1);
    default:
      throw new RangeError(`no demo conversion for ${analyte} in ${ucum}`);
  }
}

export function siteQuantity(analyte: Analyte, canonical: number, spelling: UnitSpelling): SiteQuantity {
  const value = fromCanonical(analyte, canonical, spelling.ucum);
  const coded = spelling.coded ?? spelling.text === undefined;
  return { value, unit: spelling.text ?? spelling.ucum, ...(coded ? { ucum: spelling.ucum } : {}) };
}

/** Inverse of fromCanonical for tests: a site value back to the canonical unit (what harmonization should produce). */
export function toCanonical(analyte: Analyte, value: number, ucum: string): number {
  switch (`${analyte} ${ucum}`) {
    case 'glucose mg/dL':
      return value / GLUCOSE_MGDL_PER_MMOL;
    case 'hba1c %':
      return (value - 2.15) * 10.929;
    case 'creatinine mg/dL':
      return value * CREATININE_UMOL_PER_MGDL;
    case 'temperature [degF]':
      return (value - 32) / 1.8;
    default:
      return value;
  }
}
