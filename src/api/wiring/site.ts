import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import { readSecret } from '../../config/secrets.js';
import { FhirfedError } from '../../core/errors.js';
import { FeatureStore } from '../../features/store.js';
import { harmonize } from '../../harmonize/harmonize.js';
import type { CoverageReport } from '../../harmonize/report.js';
import { loadSiteMapping, type LoadedSiteMapping } from '../../harmonize/mapping.js';
import type { FeatureSchema } from '../../harmonize/schema.js';
import { problemsError } from '../../harmonize/source.js';
import type { FeatureSpec as TrainingSpec, RowSource, TrainingHyperInput } from '../../training/index.js';

/**
 * Wiring between harmonization, the feature store and training for one site. This is the adapter the training
 * layer's input contract asks for: it depends on nothing upstream, so the mapping happens here.
 */

/** Schema features -> training specs, in schema order (labels included, flagged). */
export function trainingSpecs(schema: FeatureSchema): TrainingSpec[] {
  return schema.names.map((name) => {
    const f = schema.features.get(name);
    if (!f) throw new FhirfedError('FHIRFED_ERR_INTERNAL', `schema lists ${name} without a definition`);
    const type: TrainingSpec['type'] = f.type === 'integer' ? 'number' : f.type;
    return {
      name,
      type,
      ...(f.codes ? { categories: f.codes } : {}),
      ...(f.label ? { label: true } : {}),
    };
  });
}

/**
 * Rows for training: only the schema's features. Harmonization may add derived columns (one-hot `sex=male` ...)
 * for inspection; training encodes categories itself from the schema.
 */
export function featureStoreRowSource(store: FeatureStore, schema: FeatureSchema): RowSource {
  const names = schema.names;
  return {
    loadRows: async (site) =>
      store.all(site).map((r) => ({ key: r.key, values: Object.fromEntries(names.map((n) => [n, r.values[n] ?? null])) })),
  };
}

/** Training hyper-parameters from the site config. */
export function trainingHyper(config: Config): TrainingHyperInput {
  const t = config.training;
  return {
    model: t.model,
    hidden: [...t.hidden],
    epochs: t.epochs,
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    proxMu: t.proxMu,
    holdoutFraction: t.holdoutFraction,
    seed: t.seed,
  };
}

export function siteSecret(config: Config): string {
  return readSecret({
    ...(config.site.secretFile ? { file: config.site.secretFile } : {}),
    envVar: 'FHIRFED_SITE_SECRET',
    what: 'the site secret (pseudonym key)',
    required: true,
  }) as string;
}

export interface SiteContext {
  readonly site: string;
  readonly mapping: LoadedSiteMapping;
  readonly schema: FeatureSchema;
  readonly specs: readonly TrainingSpec[];
  readonly store: FeatureStore;
  readonly warnings: readonly string[];
  close(): void;
}

/** Loads the site's mappings (refusing broken ones with every problem) and opens its feature store. */
export async function openSite(config: Config, site = config.site.id): Promise<SiteContext> {
  const loaded = await loadSiteMapping(config.mappings.dir, site);
  if (!loaded.mapping) throw problemsError(loaded.problems, `the mappings for site ${site}`);
  const mapping = loaded.mapping;
  mkdirSync(config.storage.dataDir, { recursive: true });
  const store = FeatureStore.open(join(config.storage.dataDir, 'features.sqlite'));
  return {
    site,
    mapping,
    schema: mapping.schema,
    specs: trainingSpecs(mapping.schema),
    store,
    warnings: loaded.warnings,
    close: () => store.close(),
  };
}

/**
 * Harmonizes resources into the feature store: the site's rows are replaced by this run's view of the data (a
 * row is always one harmonization run), so a mapping fix followed by a re-run leaves no stale rows behind.
 */
export async function harmonizeIntoStore(
  ctx: SiteContext,
  resources: AsyncIterable<unknown> | Iterable<unknown>,
  secret: string,
): Promise<{ rows: number; report: CoverageReport }> {
  const { rows, report } = await harmonize(resources, ctx.mapping, { siteSecret: secret });
  ctx.store.replaceSite(ctx.site, rows);
  return { rows: rows.length, report };
}
