/**
 * Rényi-DP accountant for the sampled Gaussian mechanism (Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy
 * of the Sampled Gaussian Mechanism", arXiv:1908.10530, Section 3.3), with the same numerics as TensorFlow
 * Privacy's `rdp_accountant.py` and Opacus' `accountants/analysis/rdp.py`: an exact finite sum for integer orders
 * and the two-sided erfc series for fractional orders. RDP composes additively over steps and rounds; the total
 * converts to (epsilon, delta) either with the tighter conversion of Balle et al. 2020 (Theorem 21 of
 * arXiv:1905.09982; also Canonne, Kamath, Steinke 2020), the default, or with the classic Mironov 2017 bound
 * eps = rdp + log(1/delta)/(alpha - 1), kept because older published values used it.
 */
import { FhirfedError } from '../core/errors.js';

/** How RDP converts to (epsilon, delta). */
export type RdpConversion = 'tight' | 'classic';

/** dp_accounting's DEFAULT_RDP_ORDERS. */
export const DP_ACCOUNTING_ORDERS: readonly number[] = Object.freeze([
  1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5,
  ...Array.from({ length: 59 }, (_, k) => 5 + k),
  128, 256, 512,
]);

/** The order list of the TF Privacy tutorials and Opacus' DEFAULT_ALPHAS: 1.1, 1.2, ..., 10.9, 12, ..., 63. */
export const TUTORIAL_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, k) => 1 + (k + 1) / 10),
  ...Array.from({ length: 52 }, (_, k) => 12 + k),
]);

/**
 * Default orders: the union of both lists above. A finer list can only lower the minimum over orders, and every
 * order gives a valid bound, so the union is at least as tight as either published list.
 */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze(
  [...new Set([...DP_ACCOUNTING_ORDERS, ...TUTORIAL_ORDERS].map((a) => Math.round(a * 1e9) / 1e9))].sort((a, b) => a - b),
);

/** One homogeneous stretch of training: `steps` applications of the Gaussian mechanism sampled at rate q. */
export interface SampledGaussianEvent {
  /** Poisson sampling probability per step (1 = every record/site every step). */
  readonly sampleRate: number;
  /** Noise standard deviation divided by the L2 sensitivity (clip norm). */
  readonly noiseMultiplier: number;
  readonly steps: number;
}

function paramError(what: string, value: unknown, hint: string): FhirfedError {
  return new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `${what} (got ${String(value)})`, { hint });
}

/** Checks the numbers a user or a config gives the accountant; throws FHIRFED_ERR_PRIVACY_PARAMS. */
export function validateEvent(e: SampledGaussianEvent): void {
  if (!Number.isFinite(e.sampleRate) || e.sampleRate < 0 || e.sampleRate > 1) {
    throw paramError('sample rate must be a number in [0, 1]', e.sampleRate, 'use batch size / dataset size, e.g. 0.01');
  }
  if (!Number.isFinite(e.noiseMultiplier) || e.noiseMultiplier < 0) {
    throw paramError('noise multiplier must be a finite number >= 0', e.noiseMultiplier, 'typical values are 0.5 to 5');
  }
  if (!Number.isInteger(e.steps) || e.steps < 0) {
    throw paramError('steps must be a whole number >= 0', e.steps, 'steps = epochs / sample rate, or the number of rounds');
  }
}

/** log(A_alpha) for integer alpha: a finite binomial sum (Mironov et al. 2019, Section 3.3). */
function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  for (const { i, logAbs } of logBinomials(alpha)) {
    if (i > alpha) break;
    const s = logAbs + i * logQ + (alpha - i) * log1mQ + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, s);
  }
  return logA;
}

/** log(A_alpha) for fractional alpha: the integral split at z0, each half expanded as an alternating series. */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const s2 = Math.SQRT2 * sigma;
  for (const { i, logAbs, sign } of logBinomials(alpha)) {
    const j = alpha - i;
    const logT0 = logAbs + i * logQ + j * log1mQ;
    const logT1 = logAbs + j * logQ + i * log1mQ;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / s2);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / s2);
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (sign > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30 || i > 100_000) break;
  }
  return logAdd(logA0, logA1);
}

/** RDP of one step of the sampled Gaussian mechanism at order alpha (> 1). */
export function rdpOfOneStep(sampleRate: number, noiseMultiplier: number, alpha: number): number {
  if (sampleRate === 0) return 0;
  if (noiseMultiplier === 0) return Infinity;
  if (sampleRate === 1) return alpha / (2 * noiseMultiplier * noiseMultiplier);
  if (!Number.isFinite(alpha)) return Infinity;
  const logA = Number.isInteger(alpha)
    ? logAInt(sampleRate, noiseMultiplier, alpha)
    : logAFrac(sampleRate, noiseMultiplier, alpha);
  return logA / (alpha - 1);
}

/** RDP of `steps` compositions, one value per order (TF Privacy / Opacus `compute_rdp`). */
export function computeRdp(event: SampledGaussianEvent, orders: readonly number[] = DEFAULT_ORDERS): number[] {
  validateEvent(event);
  return orders.map((a) => (event.steps === 0 ? 0 : rdpOfOneStep(event.sampleRate, event.noiseMultiplier, a) * event.steps));
}

export interface EpsilonResult {
  readonly epsilon: number;
  /** The order at which the bound was tightest (NaN when epsilon is infinite). */
  readonly order: number;
}

/** Converts RDP values at the given orders to the smallest epsilon for `delta`. */
export function epsilonFromRdp(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
  conversion: RdpConversion = 'tight',
): EpsilonResult {
  if (!(delta > 0 && delta < 1)) throw paramError('delta must be a number in (0, 1)', delta, 'a common choice is 1 / dataset size, e.g. 1e-5');
  if (orders.length !== rdp.length) throw new FhirfedError('FHIRFED_ERR_INTERNAL', 'orders and rdp lists differ in length');
  let best: EpsilonResult = { epsilon: Infinity, order: NaN };
  orders.forEach((a, k) => {
    const r = rdp[k] ?? Infinity;
    if (!(a > 1) || !(r >= 0) || !Number.isFinite(r)) return;
    let eps: number;
    if (conversion === 'classic') {
      eps = r - Math.log(delta) / (a - 1);
    } else if (delta * delta + Math.expm1(-r) >= 0) {
      eps = 0; // the RDP guarantee alone already implies (0, delta)-DP
    } else {
      eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    }
    if (eps < best.epsilon) best = { epsilon: eps, order: a };
  });
  return { epsilon: Math.max(0, best.epsilon), order: best.order };
}

export interface EpsilonOptions {
  readonly orders?: readonly number[];
  readonly conversion?: RdpConversion;
}

/** Epsilon after composing all events (heterogeneous rounds allowed) for one delta. */
export function computeEpsilon(
  events: readonly SampledGaussianEvent[],
  delta: number,
  options: EpsilonOptions = {},
): EpsilonResult {
  const orders = options.orders ?? DEFAULT_ORDERS;
  const total = new Array<number>(orders.length).fill(0);
  for (const e of events) {
    computeRdp(e, orders).forEach((r, k) => {
      total[k] = (total[k] ?? 0) + r;
    });
  }
  return epsilonFromRdp(orders, total, delta, options.conversion ?? 'tight');
}

/**
 * Accumulates RDP over steps and rounds (each with its own q and sigma) and answers epsilon at any time. RDP, not
 * epsilon, is what composes additively, so the accountant keeps the per-order vector.
 */
export class RdpAccountant {
  readonly orders: readonly number[];
  private readonly total: number[];

  constructor(orders: readonly number[] = DEFAULT_ORDERS) {
    if (orders.length === 0 || orders.some((a) => !(a > 1) || !Number.isFinite(a))) {
      throw paramError('RDP orders must be finite numbers > 1', orders.join(','), 'use DEFAULT_ORDERS');
    }
    this.orders = orders;
    this.total = new Array<number>(orders.length).fill(0);
  }

  compose(event: SampledGaussianEvent): this {
    computeRdp(event, this.orders).forEach((r, k) => {
      this.total[k] = (this.total[k] ?? 0) + r;
    });
    return this;
  }

  rdp(): readonly number[] {
    return [...this.total];
  }

  epsilon(delta: number, conversion: RdpConversion = 'tight'): EpsilonResult {
    return epsilonFromRdp(this.orders, this.total, delta, conversion);
  }
}

// Log-space arithmetic and log(erfc): the accountant sums terms spanning hundreds of orders of magnitude (binomial
// coefficients up to order 512 times tiny powers of q), so everything is done on logarithms. Numerics, not crypto.

/** log(exp(x) + exp(y)) without overflow; -Infinity stands for log(0). */
function logAdd(x: number, y: number): number {
  const a = Math.min(x, y);
  const b = Math.max(x, y);
  if (a === -Infinity) return b;
  return Math.log1p(Math.exp(a - b)) + b;
}

/** log(exp(x) - exp(y)) for x >= y; -Infinity when they are equal. */
function logSub(x: number, y: number): number {
  if (x < y) throw new RangeError('logSub: the result of a subtraction in log space must be non-negative');
  if (y === -Infinity) return x;
  if (x === y) return -Infinity;
  const d = x - y;
  // expm1 overflows past ~709: then exp(y) is negligible next to exp(x).
  if (d > 700) return x;
  return Math.log(Math.expm1(d)) + y;
}

/**
 * log(erfc(x)), accurate for large positive x where erfc underflows to 0 in double precision.
 *
 * Uses the Chebyshev-fitted form erfc(z) = t * exp(-z^2 + P(t)), t = 1/(1 + z/2) (Numerical Recipes `erfcc`,
 * fractional error < 1.2e-7 for all z >= 0). Taking the log of that form analytically keeps full range: the
 * relative error of 1.2e-7 becomes an absolute error of 1.2e-7 in log space, far below the accountant's needs
 * (published epsilons are quoted to 3 significant digits).
 */
export function logErfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -z * z -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const logErfcAbs = Math.log(t) + poly;
  if (x >= 0) return logErfcAbs;
  // erfc(-z) = 2 - erfc(z), a value in [1, 2): no range problem.
  return Math.log(2 - Math.exp(logErfcAbs));
}

/**
 * log |C(alpha, i)| and the sign of C(alpha, i) for real alpha, for i = 0..count-1, built by the recurrence
 * C(alpha, i+1) = C(alpha, i) * (alpha - i) / (i + 1). For non-integer alpha the sign alternates once i > alpha.
 */
function* logBinomials(alpha: number): Generator<{ i: number; logAbs: number; sign: 1 | -1 }> {
  let logAbs = 0;
  let sign: 1 | -1 = 1;
  for (let i = 0; ; i++) {
    yield { i, logAbs, sign };
    const factor = alpha - i;
    if (factor === 0) return; // integer alpha: all further coefficients are 0
    if (factor < 0) sign = sign === 1 ? -1 : 1;
    logAbs += Math.log(Math.abs(factor)) - Math.log(i + 1);
  }
}
