import { FhirfedError } from '../core/errors.js';
import { labelValue } from './encode.js';
import { createRng, shuffleInPlace } from './rng.js';
import type { FeatureSpec, TrainingRow } from './types.js';

export interface Split {
  readonly train: readonly TrainingRow[];
  readonly holdout: readonly TrainingRow[];
}

/**
 * Stratified train/holdout split on the first label (positive, negative and missing are separate strata), so a
 * rare outcome appears in both parts in the site's proportion. Rows are ordered by key before the seeded shuffle:
 * the same rows give the same split whatever order the feature store returns them in.
 */
export function stratifiedSplit(
  rows: readonly TrainingRow[],
  stratifyOn: FeatureSpec,
  holdoutFraction: number,
  seed: number,
): Split {
  if (!(holdoutFraction > 0 && holdoutFraction < 1)) {
    throw new FhirfedError('FHIRFED_ERR_VALIDATION', `holdout fraction must be between 0 and 1, got ${holdoutFraction}`, {
      where: { path: 'hyper.holdoutFraction' },
    });
  }
  const sorted = [...rows].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const strata = new Map<string, TrainingRow[]>();
  for (const row of sorted) {
    const s = String(labelValue(stratifyOn, row.values[stratifyOn.name]));
    let bucket = strata.get(s);
    if (!bucket) strata.set(s, (bucket = []));
    bucket.push(row);
  }
  const rng = createRng(seed);
  const train: TrainingRow[] = [];
  const holdout: TrainingRow[] = [];
  for (const key of ['1', '0', 'null']) {
    const bucket = strata.get(key);
    if (!bucket) continue;
    shuffleInPlace(bucket, rng);
    // A stratum of one row goes to train: a class seen only in holdout teaches nothing.
    const k = bucket.length < 2 ? 0 : Math.min(bucket.length - 1, Math.max(1, Math.round(bucket.length * holdoutFraction)));
    holdout.push(...bucket.slice(0, k));
    train.push(...bucket.slice(k));
  }
  return { train, holdout };
}
