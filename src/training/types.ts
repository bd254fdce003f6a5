/**
 * The input contract of local training. The harmonization layer emits richer rows (site, quarantine flag,
 * provenance) and a schema with allowed codes; an adapter maps those into these two shapes, so training depends
 * on nothing upstream.
 */

/** One pseudonymised feature row. `null` means missing (for a label: this head ignores the row). */
export interface TrainingRow {
  readonly key: string;
  readonly values: Readonly<Record<string, number | string | boolean | null>>;
}

/**
 * One column of the federation's feature schema. Labels are binary: `boolean`, `number` (0/1), or `categorical`
 * with exactly two categories where the second is the positive class.
 */
export interface FeatureSpec {
  readonly name: string;
  readonly type: 'number' | 'categorical' | 'boolean';
  readonly categories?: readonly string[];
  readonly label?: boolean;
}

/** Where a worker gets a site's rows (the feature store, injected). */
export interface RowSource {
  loadRows(site: string): Promise<readonly TrainingRow[]>;
}

/**
 * Privacy policy hook: clips and noises the update before it leaves training. Injected, so training never
 * imports privacy code (trainer -> privacy policy -> codec -> client).
 */
export interface PrivacyHook {
  clipAndNoiseUpdate(delta: Float32Array): Float32Array;
}

/** Validation metrics of one head (label), reported on the holdout split. */
export interface HeadMetrics {
  /** F1 at `threshold`, on holdout. */
  readonly f1: number;
  /** Rank-based AUROC on holdout; null when the holdout has only one class for this head. */
  readonly auroc: number | null;
  /** Accuracy at `threshold`, on holdout. */
  readonly accuracy: number;
  /** Mean binary cross-entropy (log-loss) on holdout. */
  readonly loss: number;
  /** Decision threshold chosen on TRAIN predictions to maximise F1. */
  readonly threshold: number;
  /** Holdout rows with this label present, and how many of them are positive. */
  readonly n: number;
  readonly positives: number;
}

/** One named tensor inside the flat weight vector. */
export interface WeightEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
}

/** Stable description of the flat Float32Array layout; equal layouts mean weights are interchangeable. */
export interface WeightLayout {
  readonly entries: readonly WeightEntry[];
  readonly total: number;
  /** A short fingerprint of names + shapes, to refuse a global model of another architecture early. */
  readonly fingerprint: string;
}
