/**
 * FLamby's design matrix, built from harmonized feature rows: the 8 non-categorical predictors, cp and restecg one-hot
 * with the first level dropped (pandas get_dummies(drop_first=True) on UCI codes 1-4 and 0-2), 13 columns. Every
 * column, dummies included, is standardised with the mean and sample sd of the center's TRAIN rows (FLamby's
 * `normalize=True`; torch.std is the unbiased sd); pooled training uses the pooled train rows' statistics.
 *
 * Missing values (the UCI "0 = not measured" cholesterol that the renderers do not send, one blood pressure) are
 * imputed with the train mean, i.e. 0 after standardisation; FLamby trains on the literal 0 instead (README
 * deviation), which `uciZeros` reproduces for comparison: with pooled statistics that 0 marks Switzerland and part of
 * VA, two high-prevalence centers, so it carries label information a measured value would not. A column that is constant on the train rows is centred and left unscaled (FLamby divides by sd + 1e-9,
 * which blows a differing test value up to ~1e9; here only Switzerland's all-missing cholesterol is constant).
 */
import type { FeatureRow, FeatureValue } from '../../src/harmonize/harmonize.js';

export const DESIGN_COLUMNS = [
  'age',
  'sex',
  'trestbps',
  'chol',
  'fbs',
  'thalach',
  'exang',
  'oldpeak',
  'cp=atypical-angina',
  'cp=non-anginal',
  'cp=asymptomatic',
  'restecg=st-t-abnormality',
  'restecg=lv-hypertrophy',
] as const;
export const WIDTH = DESIGN_COLUMNS.length;

/** Rows as a dense matrix: x row-major [n, WIDTH], y in {0, 1}. */
export interface Matrix {
  readonly n: number;
  readonly x: Float64Array;
  readonly y: Float64Array;
}

export interface Standardisation {
  readonly mean: Float64Array;
  readonly sd: Float64Array;
}

const CATEGORY = (feature: string, code: string) => (v: Readonly<Record<string, FeatureValue>>) =>
  v[feature] === null || v[feature] === undefined ? null : v[feature] === code ? 1 : 0;

const numeric = (feature: string) => (v: Readonly<Record<string, FeatureValue>>) => {
  const x = v[feature];
  if (x === null || x === undefined) return null;
  if (typeof x === 'boolean') return x ? 1 : 0;
  return typeof x === 'number' ? x : null;
};

const EXTRACT: Record<(typeof DESIGN_COLUMNS)[number], (v: Readonly<Record<string, FeatureValue>>) => number | null> = {
  age: numeric('age'),
  sex: CATEGORY('sex', 'male'),
  trestbps: numeric('trestbps'),
  chol: numeric('chol'),
  fbs: numeric('fbs'),
  thalach: numeric('thalach'),
  exang: numeric('exang'),
  oldpeak: numeric('oldpeak'),
  'cp=atypical-angina': CATEGORY('cp', 'atypical-angina'),
  'cp=non-anginal': CATEGORY('cp', 'non-anginal'),
  'cp=asymptomatic': CATEGORY('cp', 'asymptomatic'),
  'restecg=st-t-abnormality': CATEGORY('restecg', 'st-t-abnormality'),
  'restecg=lv-hypertrophy': CATEGORY('restecg', 'lv-hypertrophy'),
};

export interface DesignOptions {
  /** Missing cells as the literal 0 of the UCI files (FLamby's input) instead of the train mean. @defaultValue false */
  readonly uciZeros?: boolean;
}

/** Raw (unstandardised) values; NaN marks a missing cell unless `uciZeros`. */
function raw(rows: readonly FeatureRow[], o: DesignOptions): { x: Float64Array; y: Float64Array } {
  const missing = o.uciZeros ? 0 : Number.NaN;
  const x = new Float64Array(rows.length * WIDTH);
  const y = new Float64Array(rows.length);
  rows.forEach((row, r) => {
    DESIGN_COLUMNS.forEach((c, j) => {
      x[r * WIDTH + j] = EXTRACT[c](row.values) ?? missing;
    });
    y[r] = row.values.heart_disease === true ? 1 : 0;
  });
  return { x, y };
}

/** Mean and unbiased sd per column over the present values of `rows`. */
export function fitStandardisation(rows: readonly FeatureRow[], o: DesignOptions = {}): Standardisation {
  const { x } = raw(rows, o);
  const mean = new Float64Array(WIDTH);
  const sd = new Float64Array(WIDTH);
  for (let j = 0; j < WIDTH; j++) {
    let n = 0;
    let m = 0;
    let m2 = 0;
    for (let r = 0; r < rows.length; r++) {
      const v = x[r * WIDTH + j] as number;
      if (Number.isNaN(v)) continue;
      n++;
      const d = v - m;
      m += d / n;
      m2 += d * (v - m);
    }
    const s = n > 1 ? Math.sqrt(m2 / (n - 1)) : 0;
    mean[j] = m;
    sd[j] = s > 1e-12 ? s : 1;
  }
  return { mean, sd };
}

/** Standardised design matrix; a missing cell becomes 0 (the train mean). */
export function toMatrix(rows: readonly FeatureRow[], st: Standardisation, o: DesignOptions = {}): Matrix {
  const { x, y } = raw(rows, o);
  for (let r = 0; r < rows.length; r++) {
    for (let j = 0; j < WIDTH; j++) {
      const v = x[r * WIDTH + j] as number;
      x[r * WIDTH + j] = Number.isNaN(v) ? 0 : (v - (st.mean[j] as number)) / (st.sd[j] as number);
    }
  }
  return { n: rows.length, x, y };
}

/** Row-wise concatenation (the pooled sets). */
export function concat(parts: readonly Matrix[]): Matrix {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const x = new Float64Array(n * WIDTH);
  const y = new Float64Array(n);
  let r = 0;
  for (const p of parts) {
    x.set(p.x, r * WIDTH);
    y.set(p.y, r);
    r += p.n;
  }
  return { n, x, y };
}
