import type { FeatureSchema } from '../harmonize/schema.js';
import type { FeatureRow } from '../harmonize/harmonize.js';

/**
 * Data-quality statistics over feature rows that contain no PHI: counts, fill rates, mean/sd, category counts and
 * quarantine counts. No keys, no single values, no min/max (an extreme value can identify a patient). Training uses
 * mean/median for the schema's missing-value policies; operators use the rest.
 */

export interface NumericStats {
  readonly kind: 'numeric';
  readonly filled: number;
  readonly fillRate: number;
  readonly mean: number | null;
  /** Sample standard deviation; null below two values. */
  readonly sd: number | null;
  readonly median: number | null;
}

export interface CategoricalStats {
  readonly kind: 'categorical';
  readonly filled: number;
  readonly fillRate: number;
  readonly counts: Readonly<Record<string, number>>;
}

export interface FeatureStats {
  readonly count: number;
  readonly features: Readonly<Record<string, NumericStats | CategoricalStats>>;
  /** Quarantined values by reason code, and by feature. */
  readonly quarantine: Readonly<Record<string, number>>;
  readonly quarantineByFeature: Readonly<Record<string, number>>;
}

function median(sorted: readonly number[]): number | null {
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function computeStats(rows: readonly FeatureRow[], schema: FeatureSchema): FeatureStats {
  const n = rows.length;
  const features: Record<string, NumericStats | CategoricalStats> = {};
  for (const name of schema.names) {
    const spec = schema.features.get(name);
    const present = rows.map((r) => r.values[name]).filter((v) => v !== null && v !== undefined);
    if (spec?.type === 'number' || spec?.type === 'integer') {
      const nums = present.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
      const mean = nums.length === 0 ? null : nums.reduce((a, b) => a + b, 0) / nums.length;
      const sd = nums.length < 2 || mean === null ? null : Math.sqrt(nums.reduce((a, b) => a + (b - mean) ** 2, 0) / (nums.length - 1));
      features[name] = { kind: 'numeric', filled: nums.length, fillRate: n === 0 ? 0 : nums.length / n, mean, sd, median: median(nums) };
    } else {
      const counts: Record<string, number> = {};
      for (const v of present) counts[String(v)] = (counts[String(v)] ?? 0) + 1;
      features[name] = { kind: 'categorical', filled: present.length, fillRate: n === 0 ? 0 : present.length / n, counts };
    }
  }
  const quarantine: Record<string, number> = {};
  const quarantineByFeature: Record<string, number> = {};
  for (const r of rows) {
    for (const q of r.quarantined) {
      quarantine[q.code] = (quarantine[q.code] ?? 0) + 1;
      quarantineByFeature[q.feature] = (quarantineByFeature[q.feature] ?? 0) + 1;
    }
  }
  return { count: n, features, quarantine, quarantineByFeature };
}
