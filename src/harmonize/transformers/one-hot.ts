import { z } from 'zod';
import { FhirfedError } from '../../core/errors.js';
import { defineTransformer, quarantine, type Cell } from './contract.js';

/**
 * One-hot encoding of a categorical feature: adds columns `<feature>=<category>` (1 for the value, 0 for the
 * others) next to the categorical value itself. Categories default to the schema's `codes`, so every site emits the
 * same columns in the same order.
 */

const params = z
  .strictObject({
    categories: z.array(z.string().min(1)).min(1).optional(),
  })
  .default({});

export const oneHotTransformer = defineTransformer({
  name: 'one-hot',
  version: '1.0.0',
  description: 'expand a categorical value into 0/1 columns <feature>=<category>',
  stage: 'feature',
  params,
  create(p, ctx) {
    const categories = p.categories ?? ctx.feature.codes;
    if (ctx.feature.type !== 'categorical' || !categories) {
      throw new FhirfedError('FHIRFED_ERR_MAPPING_INVALID', `one-hot needs a categorical feature; \`${ctx.feature.name}\` is ${ctx.feature.type}`, { hint: 'declare the feature as `type: categorical` with `codes` in the schema' });
    }
    return (cell: Cell) => {
      if (cell.value === null) return cell;
      const v = String(cell.value);
      if (!categories.includes(v)) return quarantine(cell, 'code-not-allowed', `\`${v}\` is not one of ${categories.join(', ')}`);
      return { ...cell, expand: Object.fromEntries(categories.map((c) => [c, c === v ? 1 : 0])) };
    };
  },
});
