import type { HeartRow } from './load.js';

/**
 * Codes the rendered heart-disease data uses (documented in mappings/heart/README.md). LOINC where a code exists that
 * means exactly the UCI attribute; a local code system otherwise, because the exercise-test attributes (maximum heart
 * rate achieved, exercise ST depression, exercise-induced angina) and the UCI chest-pain and ECG categories have no
 * LOINC term with that meaning, and a near-miss LOINC code would be worse than an honest local one.
 */

export const LOINC = 'http://loinc.org';
/** Local code system of the two FHIR sites. */
export const HEART_CS = 'http://fhirfed.example.org/CodeSystem/uci-heart';
/** The two HL7 sites write local codes with coding system 99HRT (HL7 table 0396 local "99zzz"). */
export const HL7_LOCAL = '99HRT';
export const HL7_LOCAL_URI = 'urn:fhirfed:v2:codesystem:99HRT';

/** Fixed study date: the age transformer counts ages at it (the mappings use `indexDate: fixed`). */
export const HEART_INDEX_DATE = '1988-07-01';

export const OBS = {
  /** trestbps: "resting blood pressure (in mm Hg on admission to the hospital)" is a systolic pressure. */
  trestbps: { code: '8480-6', display: 'Systolic blood pressure', loinc: true },
  chol: { code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma', loinc: true },
  cholMolar: { code: '14647-2', display: 'Cholesterol [Moles/volume] in Serum or Plasma', loinc: true },
  thalach: { code: 'thalach', display: 'Maximum heart rate achieved during exercise test', loinc: false },
  oldpeak: { code: 'st-depression', display: 'ST depression induced by exercise relative to rest', loinc: false },
  fbs: { code: 'fbs-gt-120', display: 'Fasting blood sugar > 120 mg/dL', loinc: false },
  exang: { code: 'exercise-angina', display: 'Exercise induced angina', loinc: false },
  cp: { code: 'chest-pain-type', display: 'Chest pain type', loinc: false },
  restecg: { code: 'resting-ecg', display: 'Resting electrocardiographic result', loinc: false },
  num: { code: 'angiographic-status', display: 'Angiographic disease status (major vessels with > 50 % narrowing, 0-4)', loinc: false },
} as const;

export type ObsKey = keyof typeof OBS;

export const CHEST_PAIN: Readonly<Record<number, { code: string; display: string }>> = {
  1: { code: 'typical-angina', display: 'Typical angina' },
  2: { code: 'atypical-angina', display: 'Atypical angina' },
  3: { code: 'non-anginal', display: 'Non-anginal pain' },
  4: { code: 'asymptomatic', display: 'Asymptomatic' },
};

export const RESTING_ECG: Readonly<Record<number, { code: string; display: string }>> = {
  0: { code: 'normal', display: 'Normal' },
  1: { code: 'st-t-abnormality', display: 'ST-T wave abnormality' },
  2: { code: 'lv-hypertrophy', display: 'Probable or definite left ventricular hypertrophy' },
};

/** Cholesterol molar mass used by both the renderer and the harmonizer's analyte table (g/mol). */
export const CHOLESTEROL_MW = 386.65;

export function cholesterolMmolPerL(mgPerDl: number): number {
  return Math.round(((mgPerDl * 10) / CHOLESTEROL_MW) * 100) / 100;
}

/** Birth date whose whole-year age at HEART_INDEX_DATE is `age`; the day varies by patient (from its line). */
export function heartBirthDate(row: HeartRow): string {
  const [y, m, d] = HEART_INDEX_DATE.split('-').map(Number) as [number, number, number];
  const latest = Date.UTC(y - row.age, m - 1, d) - 86_400_000;
  return new Date(latest - ((row.line * 37) % 360) * 86_400_000).toISOString().slice(0, 10);
}

/** Exam a few days before the index date; angiography (the label) a few days after. */
export function examDate(row: HeartRow): Date {
  return new Date(Date.parse(`${HEART_INDEX_DATE}T10:00:00Z`) - (1 + (row.line % 20)) * 86_400_000);
}

export function angiographyDate(row: HeartRow): Date {
  return new Date(Date.parse(`${HEART_INDEX_DATE}T14:00:00Z`) + (1 + (row.line % 14)) * 86_400_000);
}

/** UCI writes "not measured" as 0 for these two; the renderers send no observation then. */
export function measured(row: HeartRow, key: 'trestbps' | 'chol'): boolean {
  return row[key] > 0;
}
