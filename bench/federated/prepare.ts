/**
 * Harmonized rows -> what each party of the benchmark holds: per site its standardised train and test matrices and
 * the PHI-free quality statistics it would report with an update; centrally, the pooled baseline's matrices.
 */
import { computeStats } from '../../src/features/stats.js';
import type { QualityStats } from '../../src/federation/messages.js';
import type { FeatureRow } from '../../src/harmonize/harmonize.js';
import type { FeatureSchema } from '../../src/harmonize/schema.js';
import type { HarmonizedSite } from './data.js';
import { concat, fitStandardisation, toMatrix, type DesignOptions, type Matrix } from './design.js';

export interface SiteData {
  readonly site: string;
  readonly name: string;
  readonly format: 'fhir' | 'hl7v2';
  /** Standardised with this site's train statistics (what the site itself can compute). */
  readonly train: Matrix;
  readonly test: Matrix;
  /** The same test rows standardised with the POOLED train statistics (FLamby's pooled-test loader). */
  readonly testPooledNorm: Matrix;
  readonly quality: QualityStats;
}

export interface Prepared {
  readonly sites: readonly SiteData[];
  /** All train rows, standardised with the pooled train statistics (FLamby's pooled baseline). */
  readonly pooledTrain: Matrix;
  /** All test rows, each standardised with its own site's statistics: the federation's pooled test set. */
  readonly pooledTest: Matrix;
  /** All test rows standardised with the pooled train statistics. */
  readonly pooledTestPooledNorm: Matrix;
}

/**
 * The statistics a site sends with its update (federation/messages.ts `quality`), from its harmonized train rows:
 * fill rate over the schema's predictors, share of values quarantined by plausibility checks, label prevalence and
 * the mean of each numeric feature. Counts and means only, as computeStats guarantees.
 */
export function qualityOf(rows: readonly FeatureRow[], schema: FeatureSchema): QualityStats {
  const stats = computeStats(rows, schema);
  const predictors = schema.names.filter((n) => !schema.labels.includes(n));
  let fill = 0;
  let filled = 0;
  const featureMeans: Record<string, number> = {};
  for (const name of predictors) {
    const s = stats.features[name];
    if (!s) continue;
    fill += s.fillRate;
    filled += s.filled;
    if (s.kind === 'numeric' && s.mean !== null) featureMeans[name] = s.mean;
  }
  const quarantined = Object.values(stats.quarantineByFeature).reduce((a, b) => a + b, 0);
  const labelPrevalence: Record<string, number> = {};
  for (const label of schema.labels) {
    const s = stats.features[label];
    if (s?.kind === 'categorical' && s.filled > 0) labelPrevalence[label] = (s.counts.true ?? 0) / s.filled;
  }
  return {
    rows: rows.length,
    fillRate: predictors.length === 0 ? 0 : fill / predictors.length,
    plausibilityFailureRate: filled + quarantined === 0 ? 0 : quarantined / (filled + quarantined),
    labelPrevalence,
    featureMeans,
  };
}

export function prepare(sites: readonly HarmonizedSite[], o: DesignOptions = {}): Prepared {
  const pooledSt = fitStandardisation(sites.flatMap((s) => s.train), o);
  const data = sites.map((s): SiteData => {
    const st = fitStandardisation(s.train, o);
    return {
      site: s.site,
      name: s.name,
      format: s.format,
      train: toMatrix(s.train, st, o),
      test: toMatrix(s.test, st, o),
      testPooledNorm: toMatrix(s.test, pooledSt, o),
      quality: qualityOf(s.train, s.schema),
    };
  });
  return {
    sites: data,
    pooledTrain: toMatrix(sites.flatMap((s) => s.train), pooledSt, o),
    pooledTest: concat(data.map((d) => d.test)),
    pooledTestPooledNorm: concat(data.map((d) => d.testPooledNorm)),
  };
}
