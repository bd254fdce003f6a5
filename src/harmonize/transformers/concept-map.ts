import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { FhirfedError } from '../../core/errors.js';
import { resolveInside } from '../paths.js';
import { defineTransformer, type Cell } from './contract.js';

/**
 * Translates local codes to the federation's codes with a FHIR R4 ConceptMap from the site folder. Only mappings
 * whose equivalence says the concepts correspond are used (`unmatched` and `disjoint` are not translations).
 * A code with no mapping is skipped (counted as unmapped in the coverage report) unless `unmapped: keep`, which lets
 * codes already in the target system through.
 */

const conceptMapSchema = z.object({
  resourceType: z.literal('ConceptMap'),
  group: z
    .array(
      z.object({
        source: z.string().optional(),
        target: z.string().optional(),
        element: z.array(
          z.object({
            code: z.string(),
            target: z.array(z.object({ code: z.string().optional(), equivalence: z.string().optional(), relationship: z.string().optional() })).optional(),
          }),
        ),
      }),
    )
    .min(1),
});

const NOT_A_MATCH = new Set(['unmatched', 'disjoint', 'not-related-to']);

/** `system|code` -> translated `system|code` values. */
export function readConceptMap(file: string): Map<string, string[]> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FhirfedError('FHIRFED_ERR_MAPPING_INVALID', `ConceptMap ${file} is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = conceptMapSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FhirfedError('FHIRFED_ERR_MAPPING_INVALID', `ConceptMap ${file}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(), {
      hint: 'a FHIR R4 ConceptMap with group[].source/target and element[].code/target[].code',
    });
  }
  const map = new Map<string, string[]>();
  for (const g of parsed.data.group) {
    for (const el of g.element) {
      const targets = (el.target ?? [])
        .filter((t) => t.code !== undefined && !NOT_A_MATCH.has(t.equivalence ?? t.relationship ?? 'equivalent'))
        .map((t) => (g.target ? `${g.target}|${t.code}` : (t.code as string)));
      if (targets.length === 0) continue;
      const key = g.source ? `${g.source}|${el.code}` : el.code;
      map.set(key, [...(map.get(key) ?? []), ...targets]);
    }
  }
  return map;
}

const params = z.strictObject({
  /** ConceptMap JSON file, relative to the site folder. */
  file: z.string().min(1),
  unmapped: z.enum(['skip', 'keep']).default('skip'),
});

export const conceptMapTransformer = defineTransformer({
  name: 'concept-map',
  version: '1.0.0',
  description: 'translate source codes with a FHIR ConceptMap from the site folder',
  stage: 'code',
  params,
  create(p, ctx) {
    const map = readConceptMap(resolveInside(ctx.siteDir, p.file, 'ConceptMap'));
    return (cell: Cell) => {
      const codes = cell.codes ?? [];
      const translated = codes.flatMap((c) => map.get(c) ?? []);
      if (translated.length > 0) return { ...cell, codes: translated };
      if (p.unmapped === 'keep') return cell;
      return { kind: 'skip', code: 'unmapped-code', sourceCode: codes[0] ?? '(no code)' };
    };
  },
});
