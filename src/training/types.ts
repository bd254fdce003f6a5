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

/**
 * Sample-level DP-SGD (Abadi et al. 2016), injected like `PrivacyHook` so training never imports privacy code. When
 * given to `trainLocal`, every step draws a Poisson sample of the training rows (rate q = batchSize / nTrain),
 * clips each example's full gradient to `clipNorm`, sums, adds N(0, (noiseMultiplier * clipNorm)^2) per coordinate
 * from `noise`, and divides by the expected batch size q * nTrain.
 */
export interface SampleLevelPrivacy {
  /** C: L2 bound of one example's gradient over all variables. */
  readonly clipNorm: number;
  /** z: noise std / C, the sigma the accountant is charged with. */
  readonly noiseMultiplier: number;
  /** `length` samples of N(0, std^2) from a cryptographically secure source (a seeded PRNG voids the guarantee). */
  noise(length: number, std: number): ArrayLike<number>;
  /**
   * Called once before the first step with the most this run can spend (every epoch run, no early stop). Throw to
   * refuse (e.g. a budget ledger's FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED); nothing has been trained at that point.
   */
  authorize?(plan: DpSgdPlan): void;
}

/** What a DP-SGD run may spend (before training) or did spend (after): one sampled-Gaussian accounting event. */
export interface DpSgdPlan {
  /** Poisson sampling rate q = min(1, batchSize / nTrain). */
  readonly sampleRate: number;
  readonly noiseMultiplier: number;
  /** Noisy steps: before training the maximum (epochs * stepsPerEpoch), after it the number actually taken. */
  readonly steps: number;
}

/** The DP-SGD part of a training result: charge the budget with `{ sampleRate, noiseMultiplier, steps: dpSteps }`. */
export interface DpSgdReport {
  /** Noisy gradient steps actually taken (early stopping included; every step taken counts, not only the best epoch's). */
  readonly dpSteps: number;
  readonly sampleRate: number;
  readonly noiseMultiplier: number;
  readonly clipNorm: number;
  /** q * nTrain: the divisor of the noisy gradient sum. */
  readonly expectedBatchSize: number;
  readonly stepsPerEpoch: number;
  /** Fraction of sampled examples whose gradient was scaled down: a tuning signal for C (0.5-0.9 is usual). */
  readonly clippedFraction: number;
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
