import { clamp, round, sigmoid, type Rng } from './rng.js';

/**
 * The demo's ground-truth model (see GROUND-TRUTH.md for the prose version). A cohort of adults with type 2 diabetes
 * who start an antidiabetic drug on an index date. Every feature is drawn in the federation's canonical units
 * (mappings/schema.yaml); the two outcomes are Bernoulli draws from logistic models over standardised features, so a
 * model trained on harmonized rows can learn them (AUROC of the true model about 0.8). Sites differ in their
 * populations and intercepts (non-IID), never in the coefficients: one global model is the right answer.
 */

export type Sex = 'female' | 'male';

/** True features at the index date, canonical units: mmol/L, mmol/mol, umol/L, mL/min/{1.73_m2}, kg/m2, mm[Hg], Cel. */
export interface TrueFeatures {
  readonly age: number;
  readonly sex: Sex;
  readonly bmi: number;
  readonly systolicBp: number;
  readonly diastolicBp: number;
  readonly temperature: number;
  readonly glucose: number;
  readonly hba1c: number;
  readonly creatinine: number;
  readonly egfr: number;
  readonly onMetformin: boolean;
  readonly onInsulin: boolean;
}

/** Population of one hospital: shifts of the feature distributions and of the outcome intercepts. */
export interface PopulationProfile {
  readonly ageMean: number;
  readonly femaleShare: number;
  readonly bmiMean: number;
  /** Mean baseline HbA1c in % (NGSP); the spread is fixed. */
  readonly hba1cPercentMean: number;
  /** Share of patients with some chronic kidney disease (lower eGFR). */
  readonly ckdShare: number;
  readonly insulinShare: number;
  readonly responseIntercept: number;
  readonly adverseIntercept: number;
}

/** Federation-wide standardisation (fixed constants, not per-site statistics: the truth must not depend on the sample). */
export const STANDARDISE = {
  age: { mean: 60, sd: 12 },
  bmi: { mean: 31, sd: 5 },
  hba1c: { mean: 64, sd: 14 },
  glucose: { mean: 10, sd: 3 },
  egfr: { mean: 78, sd: 22 },
  systolicBp: { mean: 135, sd: 17 },
} as const;

/** Coefficients of logit P(outcome) on standardised features; the same at every site. */
export const RESPONSE_COEFFICIENTS = { hba1c: -1.1, bmi: -0.5, glucose: -0.3, age: 0.25, metformin: 0.6, insulin: -0.5 } as const;
export const ADVERSE_COEFFICIENTS = { egfr: -0.85, age: 0.6, insulin: 0.9, systolicBp: 0.35, hba1c: 0.25 } as const;

export function z(value: number, s: { readonly mean: number; readonly sd: number }): number {
  return (value - s.mean) / s.sd;
}

export function responseLogit(f: TrueFeatures, intercept: number): number {
  const c = RESPONSE_COEFFICIENTS;
  return (
    intercept +
    c.hba1c * z(f.hba1c, STANDARDISE.hba1c) +
    c.bmi * z(f.bmi, STANDARDISE.bmi) +
    c.glucose * z(f.glucose, STANDARDISE.glucose) +
    c.age * z(f.age, STANDARDISE.age) +
    (f.onMetformin ? c.metformin : 0) +
    (f.onInsulin ? c.insulin : 0)
  );
}

export function adverseLogit(f: TrueFeatures, intercept: number): number {
  const c = ADVERSE_COEFFICIENTS;
  return (
    intercept +
    c.egfr * z(f.egfr, STANDARDISE.egfr) +
    c.age * z(f.age, STANDARDISE.age) +
    (f.onInsulin ? c.insulin : 0) +
    c.systolicBp * z(f.systolicBp, STANDARDISE.systolicBp) +
    c.hba1c * z(f.hba1c, STANDARDISE.hba1c)
  );
}

/** IFCC-NGSP master equation (the same one the `hba1c` transformer uses). */
export function percentToMmolPerMol(percent: number): number {
  return (percent - 2.15) * 10.929;
}

export function mmolPerMolToPercent(ifcc: number): number {
  return ifcc / 10.929 + 2.15;
}

/** Creatinine: 1 mg/dL = 88.40 umol/L (molecular weight 113.12 g/mol, as in the harmonizer's analyte table). */
export const CREATININE_UMOL_PER_MGDL = 88.4;
/** Glucose: 1 mmol/L = 18.0156 mg/dL (molecular weight 180.156 g/mol). */
export const GLUCOSE_MGDL_PER_MMOL = 18.0156;

/** CKD-EPI 2021 (race-free) eGFR from serum creatinine in mg/dL, age and sex; mL/min/{1.73_m2}. */
export function ckdEpi2021(creatinineMgDl: number, age: number, sex: Sex): number {
  const kappa = sex === 'female' ? 0.7 : 0.9;
  const alpha = sex === 'female' ? -0.241 : -0.302;
  const r = creatinineMgDl / kappa;
  return 142 * Math.min(r, 1) ** alpha * Math.max(r, 1) ** -1.2 * 0.9938 ** age * (sex === 'female' ? 1.012 : 1);
}

/** One patient's features, drawn from a site's population; rounded to what a lab would report. */
export function drawFeatures(rng: Rng, p: PopulationProfile): TrueFeatures {
  const sex: Sex = rng.chance(p.femaleShare) ? 'female' : 'male';
  const age = Math.round(clamp(rng.normal(p.ageMean, 11), 30, 90));
  const bmi = round(clamp(rng.normal(p.bmiMean, 5), 19, 55), 1);
  const systolicBp = Math.round(clamp(rng.normal(118 + 0.35 * age + 0.3 * (bmi - 30), 14), 95, 200));
  const diastolicBp = Math.round(clamp(systolicBp * 0.6 + rng.normal(0, 6), 50, 120));
  const temperature = round(clamp(rng.normal(36.8, 0.35), 35.5, 39), 1);
  const a1cPercent = clamp(rng.normal(p.hba1cPercentMean, 1.3), 5.8, 14);
  const hba1c = Math.round(percentToMmolPerMol(a1cPercent));
  // ADAG: estimated average glucose (mmol/L) = 1.59 x HbA1c(%) - 2.59; a single draw scatters around it.
  const glucose = round(clamp(1.59 * a1cPercent - 2.59 + rng.normal(0, 1.6), 3.5, 30), 1);
  const ckd = rng.chance(p.ckdShare);
  const baseCreat = sex === 'female' ? 0.78 : 0.98;
  const creatMgDl = clamp(baseCreat * Math.exp(rng.normal(0, 0.15)) * (ckd ? rng.uniform(1.4, 3.2) : 1), 0.4, 6);
  const creatinine = Math.round(creatMgDl * CREATININE_UMOL_PER_MGDL);
  const egfr = Math.round(clamp(ckdEpi2021(creatinine / CREATININE_UMOL_PER_MGDL, age, sex), 5, 150));
  const onInsulin = rng.chance(p.insulinShare + (a1cPercent > 10 ? 0.2 : 0));
  // Metformin is contraindicated below eGFR 30; most others start on it.
  const onMetformin = egfr >= 30 && (!onInsulin || rng.chance(0.5)) && rng.chance(0.92);
  return { age, sex, bmi, systolicBp, diastolicBp, temperature, glucose, hba1c, creatinine, egfr, onMetformin, onInsulin: onInsulin || !onMetformin };
}

export interface Outcomes {
  readonly pResponse: number;
  readonly pAdverse: number;
  readonly drugResponse: boolean;
  readonly adverseEvent: boolean;
}

export function drawOutcomes(rng: Rng, f: TrueFeatures, p: PopulationProfile): Outcomes {
  const pResponse = sigmoid(responseLogit(f, p.responseIntercept));
  const pAdverse = sigmoid(adverseLogit(f, p.adverseIntercept));
  return { pResponse, pAdverse, drugResponse: rng.chance(pResponse), adverseEvent: rng.chance(pAdverse) };
}

/** SNOMED CT codes of the adverse events the mappings count (the same list in every site.yaml). */
export const ADVERSE_EVENTS = {
  hypoglycaemia: { code: '302866003', display: 'Hypoglycemia' },
  lacticAcidosis: { code: '91273001', display: 'Lactic acidosis' },
  myocardialInfarction: { code: '22298006', display: 'Myocardial infarction' },
  acuteKidneyInjury: { code: '14669001', display: 'Acute renal failure syndrome' },
} as const;

export type AdverseEventKind = keyof typeof ADVERSE_EVENTS;

/** Which event a patient with an adverse event had: plausible given their features, but not used by the label. */
export function adverseEventKind(rng: Rng, f: TrueFeatures): AdverseEventKind {
  if (f.onInsulin && rng.chance(0.6)) return 'hypoglycaemia';
  if (f.egfr < 45 && rng.chance(0.5)) return f.onMetformin && rng.chance(0.4) ? 'lacticAcidosis' : 'acuteKidneyInjury';
  if (f.age > 65 && rng.chance(0.5)) return 'myocardialInfarction';
  return rng.pick(['hypoglycaemia', 'myocardialInfarction', 'acuteKidneyInjury'] as const);
}
