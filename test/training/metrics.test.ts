import { describe, expect, it } from 'vitest';
import { accuracy, auroc, bestF1Threshold, confusion, EarlyStopping, f1Score, logLoss } from '../../src/training/metrics.js';

describe('auroc', () => {
  it('counts tied positive/negative pairs as one half', () => {
    // pos {0.35, 0.8, 0.4} vs neg {0.1, 0.4}: pairs 1,0,1,1,1,0.5 -> 4.5 / 6
    expect(auroc([0.1, 0.4, 0.35, 0.8, 0.4], [0, 0, 1, 1, 1])).toBeCloseTo(0.75, 12);
  });

  it('is 1 for a perfect ranking, 0 for a reversed one, 0.5 when everything ties', () => {
    expect(auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(auroc([0.3, 0.3, 0.3, 0.3], [0, 1, 0, 1])).toBe(0.5);
  });

  it('is null when only one class is present', () => {
    expect(auroc([0.1, 0.7], [1, 1])).toBeNull();
    expect(auroc([], [])).toBeNull();
  });
});

describe('F1, accuracy, threshold', () => {
  const scores = [0.9, 0.8, 0.7, 0.6, 0.2];
  const labels = [1, 0, 1, 1, 0];

  it('computes F1 and accuracy from the confusion matrix', () => {
    const c = confusion(scores, labels, 0.7); // tp 2, fp 1, fn 1, tn 1
    expect(c).toEqual({ tp: 2, fp: 1, tn: 1, fn: 1 });
    expect(f1Score(c)).toBeCloseTo(4 / 6, 12);
    expect(accuracy(c)).toBeCloseTo(3 / 5, 12);
    expect(f1Score({ tp: 0, fp: 0, tn: 3, fn: 0 })).toBe(0);
  });

  it('picks the threshold that maximises F1 (hand-computed: 0.6 -> 6/7)', () => {
    const best = bestF1Threshold(scores, labels);
    expect(best.threshold).toBe(0.6);
    expect(best.f1).toBeCloseTo(6 / 7, 12);
  });

  it('treats tied scores as one candidate threshold', () => {
    // At 0.9: tp 1, fn 1 -> 2/3. At 0.5 both tied rows flip together: tp 2, fp 1 -> 4/5.
    const best = bestF1Threshold([0.9, 0.5, 0.5], [1, 1, 0]);
    expect(best.threshold).toBe(0.5);
    expect(best.f1).toBeCloseTo(4 / 5, 12);
  });

  it('falls back to 0.5 without positives', () => {
    expect(bestF1Threshold([0.2, 0.4], [0, 0])).toEqual({ threshold: 0.5, f1: 0 });
  });
});

describe('logLoss', () => {
  it('matches the hand-computed mean cross-entropy and clips 0/1', () => {
    expect(logLoss([0.8, 0.4], [1, 0])).toBeCloseTo((-Math.log(0.8) - Math.log(0.6)) / 2, 10);
    expect(Number.isFinite(logLoss([0, 1], [1, 0]))).toBe(true);
  });
});

describe('EarlyStopping', () => {
  it('stops after `patience` epochs without improvement and remembers the best epoch', () => {
    const es = new EarlyStopping(2);
    expect(es.observe(0, 1.0)).toBe(true);
    expect(es.observe(1, 0.8)).toBe(true);
    expect(es.observe(2, 0.85)).toBe(false);
    expect(es.shouldStop).toBe(false);
    expect(es.observe(3, 0.9)).toBe(false);
    expect(es.shouldStop).toBe(true);
    expect(es.bestEpoch).toBe(1);
    expect(es.best).toBe(0.8);
  });
});
