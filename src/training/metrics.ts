/**
 * Validation metrics for binary heads, and early stopping.
 *
 * Calibrated on imbalanced data: clinical outcomes such as adverse events are rare, and a 0.5 cut-off on a model
 * trained with plain cross-entropy predicts "no event" for nearly everyone (high accuracy, F1 near 0). fhirfed keeps
 * the predicted probabilities calibrated (unweighted cross-entropy by default) and instead chooses each head's
 * decision threshold on the TRAIN predictions to maximise F1; that threshold is then applied unchanged to the holdout
 * split, so the reported F1 and accuracy are honest out-of-sample numbers. AUROC and log-loss do not depend on a
 * threshold. `classWeight: 'balanced'` optionally re-weights positives by negatives/positives in the loss (better
 * recall on very rare labels at the cost of inflated probabilities).
 */

/** Rank-based AUROC (Mann-Whitney U); tied scores share their average rank. Null without both classes. */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let pos = 0;
  let rankSumPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1] as number] === scores[idx[i] as number]) j++;
    const avgRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let k = i; k <= j; k++) {
      if (labels[idx[k] as number] === 1) {
        pos++;
        rankSumPos += avgRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return null;
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface Confusion {
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

/** Predicted positive when score >= threshold. */
export function confusion(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): Confusion {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = (scores[i] as number) >= threshold;
    const y = labels[i] === 1;
    if (p && y) tp++;
    else if (p) fp++;
    else if (y) fn++;
    else tn++;
  }
  return { tp, fp, tn, fn };
}

/** F1 = 2TP / (2TP + FP + FN); 0 when there is nothing to find and nothing predicted. */
export function f1Score(c: Confusion): number {
  const d = 2 * c.tp + c.fp + c.fn;
  return d === 0 ? 0 : (2 * c.tp) / d;
}

export function accuracy(c: Confusion): number {
  const n = c.tp + c.fp + c.tn + c.fn;
  return n === 0 ? 0 : (c.tp + c.tn) / n;
}

/** Mean binary cross-entropy of probabilities, clipped away from 0 and 1. */
export function logLoss(probs: ArrayLike<number>, labels: ArrayLike<number>, eps = 1e-7): number {
  if (probs.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probs[i] as number));
    s += labels[i] === 1 ? -Math.log(p) : -Math.log(1 - p);
  }
  return s / probs.length;
}

/**
 * The threshold maximising F1 on (train) scores: every distinct score is a candidate, evaluated in one sorted
 * sweep. Returns 0.5 when there are no positives (F1 is 0 everywhere, keep the neutral default).
 */
export function bestF1Threshold(scores: ArrayLike<number>, labels: ArrayLike<number>): { threshold: number; f1: number } {
  const n = scores.length;
  let totalPos = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) totalPos++;
  if (n === 0 || totalPos === 0) return { threshold: 0.5, f1: 0 };
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number));
  let tp = 0;
  let fp = 0;
  let best = { threshold: 0.5, f1: -1 };
  for (let i = 0; i < n; ) {
    const s = scores[idx[i] as number] as number;
    // Everything with score >= s is predicted positive: consume all ties before evaluating.
    while (i < n && scores[idx[i] as number] === s) {
      if (labels[idx[i] as number] === 1) tp++;
      else fp++;
      i++;
    }
    const f1 = (2 * tp) / (2 * tp + fp + (totalPos - tp));
    if (f1 > best.f1) best = { threshold: s, f1 };
  }
  return best;
}

/** Stops after `patience` epochs without an improvement of at least `minDelta` (lower is better). */
export class EarlyStopping {
  private bestValue = Number.POSITIVE_INFINITY;
  private bestEpochIndex = -1;
  private since = 0;

  constructor(
    private readonly patience: number,
    private readonly minDelta = 1e-4,
  ) {}

  /** Records an epoch's holdout value; true when it is the best so far (snapshot the weights then). */
  observe(epoch: number, value: number): boolean {
    if (Number.isFinite(value) && value < this.bestValue - this.minDelta) {
      this.bestValue = value;
      this.bestEpochIndex = epoch;
      this.since = 0;
      return true;
    }
    this.since++;
    return false;
  }

  get shouldStop(): boolean {
    return this.since >= this.patience;
  }

  get bestEpoch(): number {
    return this.bestEpochIndex;
  }

  get best(): number {
    return this.bestValue;
  }
}
