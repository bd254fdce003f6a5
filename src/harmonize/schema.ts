import { z } from 'zod';
import { isValidUcum } from './units.js';
import { problem, readSource, zodProblems, type Problem, type SourceFile } from './source.js';

/**
 * The federation's feature schema (mappings/schema.yaml). Every site maps its records onto these features, so this
 * file is the contract that makes model updates from different hospitals comparable.
 */

const scalar = z.union([z.number(), z.string(), z.boolean()]);

/**
 * What a feature holds when a patient has no usable value. `null` keeps it missing; `constant` fills it at
 * harmonization time (e.g. a drug exposure flag absent from the record means "not exposed"); `mean`/`median` are
 * applied by training from the feature store's statistics, so harmonized rows stay free of cross-patient values;
 * `drop-row` (labels) excludes the row from training.
 */
const missingSchema = z.union([
  z.enum(['null', 'mean', 'median', 'drop-row']),
  z.strictObject({ constant: scalar }),
]);

const featureSchema = z
  .strictObject({
    type: z.enum(['number', 'integer', 'boolean', 'categorical']),
    description: z.string().optional(),
    /** Canonical UCUM unit; numeric features with a physical dimension must declare one. */
    unit: z.string().min(1).optional(),
    /** Inclusive plausible range in the canonical unit; values outside are quarantined. */
    range: z.tuple([z.number(), z.number()]).optional(),
    /** Allowed values of a categorical feature. */
    codes: z.array(z.string().min(1)).min(1).optional(),
    missing: missingSchema.default('null'),
    label: z.boolean().default(false),
    /** LOINC code of the analyte, used to look up built-in plausibility and molecular weight. */
    loinc: z.string().regex(/^\d{1,7}-\d$/, 'a LOINC code such as 2339-0').optional(),
    /**
     * UCUM treats `{...}` annotations as 1, so `mL/min` converts to `mL/min/{1.73_m2}` silently. When true the
     * source unit's annotations must equal the canonical unit's, otherwise the value is quarantined.
     */
    strictAnnotations: z.boolean().default(false),
  })
  .superRefine((f, ctx) => {
    if (f.type === 'categorical' && !f.codes) ctx.addIssue({ code: 'custom', path: ['codes'], message: 'a categorical feature needs `codes`' });
    if (f.type !== 'categorical' && f.codes) ctx.addIssue({ code: 'custom', path: ['codes'], message: '`codes` is only for categorical features' });
    if (f.range && f.range[0] > f.range[1]) ctx.addIssue({ code: 'custom', path: ['range'], message: 'range low must not exceed high' });
    if (f.unit && f.type !== 'number' && f.type !== 'integer') ctx.addIssue({ code: 'custom', path: ['unit'], message: 'only numeric features have a unit' });
  });

const schemaFileSchema = z.strictObject({
  version: z.literal(1),
  federation: z.string().min(1),
  description: z.string().optional(),
  features: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'feature names are snake_case'), featureSchema),
});

export type FeatureType = 'number' | 'integer' | 'boolean' | 'categorical';
export type MissingPolicy = z.infer<typeof missingSchema>;

export interface FeatureSpec {
  readonly name: string;
  readonly type: FeatureType;
  readonly description?: string;
  readonly unit?: string;
  readonly range?: readonly [number, number];
  readonly codes?: readonly string[];
  readonly missing: MissingPolicy;
  readonly label: boolean;
  readonly loinc?: string;
  readonly strictAnnotations: boolean;
}

export interface FeatureSchema {
  readonly file: string;
  readonly federation: string;
  readonly features: ReadonlyMap<string, FeatureSpec>;
  /** Feature names in file order; labels included. */
  readonly names: readonly string[];
  readonly labels: readonly string[];
}

/** Checks the parsed data of a schema file; returns the schema only when there are no problems. */
export function checkSchema(source: SourceFile): { schema?: FeatureSchema; problems: Problem[] } {
  const parsed = schemaFileSchema.safeParse(source.data);
  if (!parsed.success) return { problems: zodProblems(parsed.error, source) };
  const problems: Problem[] = [];
  const features = new Map<string, FeatureSpec>();
  for (const [name, f] of Object.entries(parsed.data.features)) {
    if (f.unit && !isValidUcum(f.unit)) {
      problems.push(problem('FHIRFED_ERR_UNIT', source, ['features', name, 'unit'], `\`${f.unit}\` is not a valid UCUM unit`));
    }
    const spec: FeatureSpec = { name, ...f };
    features.set(name, Object.freeze(spec));
  }
  const labels = [...features.values()].filter((f) => f.label).map((f) => f.name);
  if (labels.length === 0) problems.push(problem('FHIRFED_ERR_MAPPING_INVALID', source, ['features'], 'the schema declares no label (`label: true`)'));
  if (problems.length > 0) return { problems };
  return {
    schema: Object.freeze({ file: source.file, federation: parsed.data.federation, features, names: [...features.keys()], labels }),
    problems,
  };
}

export function loadSchema(file: string, displayName = file): { schema?: FeatureSchema; problems: Problem[] } {
  const { source, problems } = readSource(file, displayName);
  if (!source) return { problems };
  return checkSchema(source);
}
