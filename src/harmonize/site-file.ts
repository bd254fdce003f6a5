import { z } from 'zod';

/**
 * The shape of a site mapping file (mappings/sites/<site>/site.yaml). Kept apart from the loader so the file format
 * reads in one place.
 *
 * ```yaml
 * site: hospital-a
 * indexDate: { policy: latest-record }        # or { policy: fixed, date: 2020-01-01 }
 *                                              # or { policy: view, view: meds, codes: [...], pick: earliest }
 * customTransformers: ../../transformers       # optional, relative to this folder, inside the mappings root
 * views: { labs: view-labs.json, patients: view-patients.json }
 * features:
 *   glucose:
 *     view: labs
 *     codes: ['http://loinc.org|2339-0']
 *     columns: { patient: patient, value: value, unit: unit, code: code, date: date }
 *     transformers: [unit-repair, { name: ucum, params: { accept: [mg/dL] } }, plausibility,
 *                    { name: aggregate, params: { fn: latest, days: 365 } }]
 * ```
 */

const transformerRef = z.union([
  z.string().min(1),
  z.strictObject({ name: z.string().min(1), params: z.unknown().optional() }),
]);

const columnsSchema = z.strictObject({
  patient: z.string().min(1),
  value: z.string().min(1),
  unit: z.string().min(1).optional(),
  code: z.string().min(1).optional(),
  date: z.string().min(1).optional(),
});

const featureMappingSchema = z.strictObject({
  view: z.string().min(1),
  /** Keep only values with one of these codes (`system|code`, or a bare code matching any system). */
  codes: z.array(z.string().min(1)).min(1).optional(),
  columns: columnsSchema,
  transformers: z.array(transformerRef).default([]),
  description: z.string().optional(),
});

const indexDateSchema = z.discriminatedUnion('policy', [
  z.strictObject({ policy: z.literal('latest-record') }),
  z.strictObject({ policy: z.literal('fixed'), date: z.iso.date() }),
  z.strictObject({
    policy: z.literal('view'),
    view: z.string().min(1),
    codes: z.array(z.string().min(1)).min(1).optional(),
    columns: z.strictObject({ patient: z.string().min(1), date: z.string().min(1), code: z.string().min(1).optional() }),
    pick: z.enum(['earliest', 'latest']).default('earliest'),
  }),
]);

export const siteFileSchema = z.strictObject({
  site: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'site ids are lower-case kebab-case'),
  description: z.string().optional(),
  indexDate: indexDateSchema.default({ policy: 'latest-record' }),
  customTransformers: z.string().min(1).optional(),
  views: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'view names are identifiers'), z.string().min(1)),
  features: z.record(z.string(), featureMappingSchema),
});

export type SiteFile = z.infer<typeof siteFileSchema>;
export type FeatureMappingFile = z.infer<typeof featureMappingSchema>;
export type IndexDatePolicy = z.infer<typeof indexDateSchema>;
export type TransformerRef = z.infer<typeof transformerRef>;
