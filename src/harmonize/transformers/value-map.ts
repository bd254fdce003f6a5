import { z } from 'zod';
import { defineTransformer, quarantine, type Cell } from './contract.js';

/**
 * Maps source values to schema values by a table (`M: male`, `1: true`): categorical values that are not codes in a
 * CodeableConcept (Patient.gender, local yes/no flags). Unknown values are quarantined unless a default is given.
 */

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const params = z.strictObject({
  map: z.record(z.string(), scalar),
  default: scalar.optional(),
});

export const valueMapTransformer = defineTransformer({
  name: 'value-map',
  version: '1.0.0',
  description: 'map source values to schema values by a table',
  stage: 'value',
  params,
  create(p) {
    return (cell: Cell) => {
      if (cell.value === null) return cell;
      const key = String(cell.value);
      const mapped = Object.hasOwn(p.map, key) ? p.map[key] : p.default;
      if (mapped === undefined) return quarantine(cell, 'value-unmapped', `value \`${key}\` has no entry in the value map`);
      return { ...cell, value: mapped };
    };
  },
});
