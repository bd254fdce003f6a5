/**
 * Sample-level DP-SGD as a policy object that training receives by injection (training never imports this file: the
 * shape below matches training's `SampleLevelPrivacy` structurally), plus planning and accounting helpers.
 *
 * Accounting assumption: the trainer draws each batch by Poisson sampling (every training row independently with
 * probability q = batchSize / nTrain, secret coins) and takes ceil(nTrain / batchSize) steps per epoch, which is
 * exactly the sampled Gaussian mechanism the RDP accountant bounds (as in TF Privacy and Opacus' DPDataLoader).
 * Fixed-size shuffled batches are often accounted the same way in the literature, but that is not what the
 * analysis proves; fhirfed does Poisson sampling so the number it reports is the number it proves.
 */
import { FhirfedError } from '../core/errors.js';
import { gaussianNoise, type GaussianSource } from './noise.js';
import { computeEpsilon, validateEvent, type EpsilonOptions, type SampledGaussianEvent } from './rdp.js';

/** A run's accounting event, as training reports it (before: the maximum; after: what was spent). */
export interface DpSgdPlanEvent {
  readonly sampleRate: number;
  readonly noiseMultiplier: number;
  readonly steps: number;
}

/** Structurally training's `SampleLevelPrivacy`. */
export interface DpSgdPolicy {
  readonly clipNorm: number;
  readonly noiseMultiplier: number;
  noise(length: number, std: number): Float64Array;
  authorize?(plan: DpSgdPlanEvent): void;
}

/** The part of `BudgetLedger` the policy needs to refuse an over-budget run before it starts. */
export interface SpendCheck {
  assertCanSpend(...planned: SampledGaussianEvent[]): void;
}

export interface DpSgdPolicyOptions {
  /** Per-example L2 clip norm C (config: privacy.clipNorm). */
  readonly clipNorm: number;
  /** z = noise std / C (config: privacy.noiseMultiplier, or planDpSgd's answer). */
  readonly noiseMultiplier: number;
  /** When given, the run is refused before training if its maximum spend would exceed the budget. */
  readonly ledger?: SpendCheck;
  /** Defaults to the node:crypto CSPRNG. Only tests and benches should replace it. */
  readonly source?: GaussianSource;
}

function bad(message: string, hint: string): FhirfedError {
  return new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', message, { where: { path: 'privacy' }, hint });
}

/** The DP-SGD policy to pass to `trainLocal({ dpSgd })`: CSPRNG Gaussian noise and an optional budget pre-check. */
export function createDpSgdPolicy(options: DpSgdPolicyOptions): DpSgdPolicy {
  const { clipNorm, noiseMultiplier, ledger, source } = options;
  if (!(clipNorm > 0) || !Number.isFinite(clipNorm)) throw bad(`DP-SGD clip norm must be a finite number > 0 (got ${clipNorm})`, 'set privacy.clipNorm, e.g. 1');
  if (!(noiseMultiplier >= 0) || !Number.isFinite(noiseMultiplier)) {
    throw bad(`DP-SGD noise multiplier must be a finite number >= 0 (got ${noiseMultiplier})`, 'set privacy.noiseMultiplier or plan it with planDpSgd');
  }
  return Object.freeze({
    clipNorm,
    noiseMultiplier,
    noise: (length: number, std: number) => gaussianNoise(length, std, source),
    ...(ledger ? { authorize: (plan: DpSgdPlanEvent) => ledger.assertCanSpend({ ...plan }) } : {}),
  });
}

/** The ledger event for a finished run: `ledger.record(round, [dpSgdEvent(result.dpSgd)])`. */
export function dpSgdEvent(report: { readonly dpSteps: number; readonly sampleRate: number; readonly noiseMultiplier: number }): SampledGaussianEvent {
  const e = { sampleRate: report.sampleRate, noiseMultiplier: report.noiseMultiplier, steps: report.dpSteps };
  validateEvent(e);
  return e;
}

export interface DpSgdEpsilonInput {
  readonly noiseMultiplier: number;
  readonly sampleRate: number;
  readonly steps: number;
  readonly delta: number;
}

/** Epsilon of `steps` Poisson-sampled Gaussian steps at `delta` (RDP, tight conversion by default). */
export function epsilonForDpSgd(input: DpSgdEpsilonInput, options: EpsilonOptions = {}): number {
  const event = { sampleRate: input.sampleRate, noiseMultiplier: input.noiseMultiplier, steps: input.steps };
  return computeEpsilon([event], input.delta, options).epsilon;
}

export interface DpSgdPlanInput {
  /** Training rows per site after the holdout split (the trainer's `numSamples`). */
  readonly n: number;
  readonly batchSize: number;
  /** Local epochs per round (the maximum: early stopping only spends less). */
  readonly epochs: number;
  readonly rounds: number;
  readonly targetEpsilon: number;
  readonly delta: number;
  /** Relative gap below the target that is accepted. @defaultValue 0.005 */
  readonly tolerance?: number;
}

export interface DpSgdPlanResult {
  readonly noiseMultiplier: number;
  readonly sampleRate: number;
  readonly stepsPerRound: number;
  readonly totalSteps: number;
  /** Epsilon at `noiseMultiplier` over all rounds: <= target, within `tolerance` of it. */
  readonly epsilon: number;
}

function checkPlanInput(p: DpSgdPlanInput): void {
  const whole = (v: number, name: string, hint: string): void => {
    if (!Number.isInteger(v) || v < 1) throw bad(`${name} must be a whole number >= 1 (got ${v})`, hint);
  };
  whole(p.n, 'n', 'pass the number of training rows (after the holdout split)');
  whole(p.batchSize, 'batchSize', 'use the training hyper-parameter batchSize');
  whole(p.epochs, 'epochs', 'use the training hyper-parameter epochs');
  whole(p.rounds, 'rounds', 'the number of federated rounds this budget must cover');
  if (!(p.targetEpsilon > 0) || !Number.isFinite(p.targetEpsilon)) throw bad(`target epsilon must be a finite number > 0 (got ${p.targetEpsilon})`, 'e.g. 1');
  if (!(p.delta > 0 && p.delta < 1)) throw bad(`delta must be in (0, 1) (got ${p.delta})`, 'e.g. 1e-5, below 1 / number of rows');
  const tol = p.tolerance ?? 0.005;
  if (!(tol > 0 && tol < 0.5)) throw bad(`tolerance must be in (0, 0.5) (got ${tol})`, 'e.g. 0.005');
}

/**
 * The smallest noise multiplier (to within `tolerance` in epsilon) whose epsilon over all rounds is <= the target,
 * with the trainer's schedule: q = min(1, batchSize / n), ceil(n / batchSize) steps per epoch. Epsilon decreases
 * continuously in z, so a bracketing bisection always lands in [target * (1 - tolerance), target].
 */
export function planDpSgd(input: DpSgdPlanInput, options: EpsilonOptions = {}): DpSgdPlanResult {
  checkPlanInput(input);
  const tol = input.tolerance ?? 0.005;
  const sampleRate = Math.min(1, input.batchSize / input.n);
  const stepsPerRound = input.epochs * Math.ceil(input.n / input.batchSize);
  const totalSteps = stepsPerRound * input.rounds;
  const eps = (z: number): number => epsilonForDpSgd({ noiseMultiplier: z, sampleRate, steps: totalSteps, delta: input.delta }, options);
  const target = input.targetEpsilon;
  // Bracket: lo spends too much, hi spends at most the target.
  let lo = 0;
  let hi = 1;
  let epsHi = eps(hi);
  while (epsHi > target) {
    lo = hi;
    hi *= 2;
    if (hi > 1e6) throw bad(`no noise multiplier up to 1e6 reaches epsilon ${target}`, 'raise the target epsilon or lower rounds/epochs');
    epsHi = eps(hi);
  }
  for (let i = 0; i < 200 && epsHi < target * (1 - tol); i++) {
    const mid = (lo + hi) / 2;
    const e = eps(mid);
    if (e > target) lo = mid;
    else [hi, epsHi] = [mid, e];
    if (hi - lo < 1e-12 * hi) break;
  }
  return { noiseMultiplier: hi, sampleRate, stepsPerRound, totalSteps, epsilon: epsHi };
}
