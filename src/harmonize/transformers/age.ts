import { z } from 'zod';
import { defineTransformer, quarantine, type Cell, type RowContext } from './contract.js';

/**
 * Age in whole years from a birth date, at the patient's index date (or `at`, or today when neither is known).
 * Whole years on purpose: a birth date is direct PHI, an age in years is not.
 */

const params = z
  .strictObject({
    at: z.iso.date().optional(),
  })
  .default({});

export function ageInYears(birth: Date, at: Date): number {
  let years = at.getUTCFullYear() - birth.getUTCFullYear();
  const beforeBirthday =
    at.getUTCMonth() < birth.getUTCMonth() || (at.getUTCMonth() === birth.getUTCMonth() && at.getUTCDate() < birth.getUTCDate());
  if (beforeBirthday) years -= 1;
  return years;
}

export const ageTransformer = defineTransformer({
  name: 'age',
  version: '1.0.0',
  description: 'age in years from birthDate at the index date',
  stage: 'value',
  params,
  create(p) {
    const fixed = p.at ? new Date(`${p.at}T00:00:00Z`) : undefined;
    return (cell: Cell, row: RowContext) => {
      if (cell.value === null) return cell;
      const text = String(cell.value);
      if (!/^\d{4}(-\d{2}(-\d{2})?)?/.test(text)) return quarantine(cell, 'invalid-date', 'birthDate is not a FHIR date');
      // FHIR allows partial dates (YYYY, YYYY-MM); take the middle of the missing part's range.
      const full = text.length === 4 ? `${text}-07-01` : text.length === 7 ? `${text}-15` : text.slice(0, 10);
      const birth = new Date(`${full}T00:00:00Z`);
      if (Number.isNaN(birth.getTime())) return quarantine(cell, 'invalid-date', 'birthDate is not a valid date');
      const at = fixed ?? row.indexDate ?? new Date();
      const age = ageInYears(birth, at);
      if (age < 0) return quarantine(cell, 'implausible-value', 'birthDate is after the index date');
      return { ...cell, value: age, unit: 'a' };
    };
  },
});
