import { FhirfedError, type ErrorDetail } from '../core/errors.js';
import type { FeatureSpec, TrainingRow } from './types.js';

/**
 * Turns feature rows into dense matrices. Column layout depends only on the (shared) schema, so every site's
 * model has the same input width; statistics (mean/sd) are fitted on the site's TRAIN split only so the holdout
 * stays unseen.
 */

const MAX_DETAILS = 10;

export interface SchemaInfo {
  readonly features: readonly FeatureSpec[];
  readonly labels: readonly FeatureSpec[];
  /** Input columns in order: `age`, `age__missing`, `sex=F`, ... */
  readonly columns: readonly string[];
}

function fail(message: string, details: ErrorDetail[], hint: string, path?: string): never {
  throw new FhirfedError('FHIRFED_ERR_VALIDATION', message, {
    details: details.slice(0, MAX_DETAILS),
    hint,
    ...(path === undefined ? {} : { where: { path } }),
  });
}

/** Checks the schema once and derives input columns. */
export function describeSchema(specs: readonly FeatureSpec[]): SchemaInfo {
  const problems: ErrorDetail[] = [];
  const seen = new Set<string>();
  specs.forEach((s, i) => {
    const path = `specs[${i}]`;
    if (!s.name) problems.push({ path, message: 'feature has no name' });
    if (seen.has(s.name)) problems.push({ path, message: `duplicate feature name '${s.name}'` });
    seen.add(s.name);
    if (s.type === 'categorical' && (!s.categories || s.categories.length === 0)) {
      problems.push({ path, message: `categorical feature '${s.name}' lists no categories` });
    }
    if (s.label && s.type === 'categorical' && s.categories?.length !== 2) {
      problems.push({ path, message: `label '${s.name}' must be binary: exactly 2 categories (second = positive)` });
    }
  });
  const labels = specs.filter((s) => s.label);
  const features = specs.filter((s) => !s.label);
  if (labels.length === 0) problems.push({ path: 'specs', message: 'the schema marks no feature as a label' });
  if (features.length === 0) problems.push({ path: 'specs', message: 'the schema has no input features' });
  if (problems.length > 0) {
    fail('feature schema is not usable for training', problems, 'fix the feature schema (mappings/) and retry');
  }
  const columns: string[] = [];
  for (const f of features) {
    if (f.type === 'categorical') for (const c of f.categories ?? []) columns.push(`${f.name}=${c}`);
    else columns.push(f.name, `${f.name}__missing`);
  }
  return { features, labels, columns };
}

/** Label value -> 1, 0 or null (missing). Throws nothing: callers validate rows first. */
export function labelValue(spec: FeatureSpec, v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (spec.type === 'categorical') return v === spec.categories?.[1] ? 1 : 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v === 1 ? 1 : 0;
}

function checkValue(spec: FeatureSpec, v: unknown): string | null {
  if (v === null) return null;
  switch (spec.type) {
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) return `expected a finite number, got ${JSON.stringify(v)}`;
      if (spec.label && v !== 0 && v !== 1) return `label must be 0, 1 or null, got ${v}`;
      return null;
    case 'boolean':
      return typeof v === 'boolean' ? null : `expected true/false/null, got ${JSON.stringify(v)}`;
    case 'categorical':
      if (typeof v !== 'string') return `expected a category code, got ${JSON.stringify(v)}`;
      return spec.categories?.includes(v) ? null : `'${v}' is not one of ${JSON.stringify(spec.categories)}`;
  }
}

/** Refuses rows whose width or value types do not match the schema, listing the first problems found. */
export function validateRows(rows: readonly TrainingRow[], specs: readonly FeatureSpec[]): void {
  const problems: ErrorDetail[] = [];
  let bad = 0;
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as TrainingRow;
    const values = row?.values;
    const path = `rows[${r}]`;
    if (!values || typeof values !== 'object') {
      bad++;
      if (problems.length < MAX_DETAILS) problems.push({ path, message: 'row has no values object' });
      continue;
    }
    const keys = Object.keys(values);
    let rowBad = false;
    const note = (p: string, m: string): void => {
      rowBad = true;
      if (problems.length < MAX_DETAILS) problems.push({ path: p, message: m });
    };
    if (keys.length !== specs.length) {
      note(path, `row ${row.key ?? r} has ${keys.length} values, the schema has ${specs.length} features`);
    }
    for (const k of keys) if (!byName.has(k)) note(`${path}.values.${k}`, `'${k}' is not in the feature schema`);
    for (const s of specs) {
      if (!(s.name in values)) {
        note(`${path}.values.${s.name}`, `missing '${s.name}' (use null for a missing value)`);
        continue;
      }
      const msg = checkValue(s, values[s.name]);
      if (msg) note(`${path}.values.${s.name}`, msg);
    }
    if (rowBad) bad++;
  }
  if (bad > 0) {
    fail(
      `${bad} of ${rows.length} training rows do not match the feature schema (${specs.length} features)`,
      problems,
      'the feature store and the schema disagree: re-run harmonization with the current mappings, or fix the schema',
    );
  }
}

/** Per-numeric-feature standardisation fitted on train rows. */
export interface Standardizer {
  readonly mean: ReadonlyMap<string, number>;
  readonly sd: ReadonlyMap<string, number>;
}

export function fitStandardizer(rows: readonly TrainingRow[], info: SchemaInfo): Standardizer {
  const mean = new Map<string, number>();
  const sd = new Map<string, number>();
  for (const f of info.features) {
    if (f.type !== 'number') continue;
    let n = 0;
    let m = 0;
    let m2 = 0;
    for (const row of rows) {
      const v = row.values[f.name];
      if (typeof v !== 'number') continue;
      n++;
      const d = v - m;
      m += d / n;
      m2 += d * (v - m);
    }
    const s = n > 1 ? Math.sqrt(m2 / (n - 1)) : 0;
    mean.set(f.name, m);
    // A constant (or single-valued) column must not divide by zero: leave it centred, unscaled.
    sd.set(f.name, s > 1e-12 ? s : 1);
  }
  return { mean, sd };
}

export interface EncodedRows {
  readonly n: number;
  /** Row-major [n, columns]. */
  readonly x: Float32Array;
  /** Row-major [n, labels]; 0 where the label is missing. */
  readonly y: Float32Array;
  /** Row-major [n, labels]; 1 where the label is present. */
  readonly mask: Float32Array;
}

export function encodeRows(rows: readonly TrainingRow[], info: SchemaInfo, st: Standardizer): EncodedRows {
  const n = rows.length;
  const width = info.columns.length;
  const h = info.labels.length;
  const x = new Float32Array(n * width);
  const y = new Float32Array(n * h);
  const mask = new Float32Array(n * h);
  for (let r = 0; r < n; r++) {
    const values = (rows[r] as TrainingRow).values;
    let c = r * width;
    for (const f of info.features) {
      const v = values[f.name];
      if (f.type === 'categorical') {
        const cats = f.categories ?? [];
        const idx = typeof v === 'string' ? cats.indexOf(v) : -1;
        if (idx >= 0) x[c + idx] = 1;
        c += cats.length;
      } else if (v === null || v === undefined) {
        x[c + 1] = 1; // value stays 0: the mean after standardisation
        c += 2;
      } else {
        x[c] = f.type === 'boolean' ? (v ? 1 : 0) : ((v as number) - (st.mean.get(f.name) ?? 0)) / (st.sd.get(f.name) ?? 1);
        c += 2;
      }
    }
    for (let j = 0; j < h; j++) {
      const lv = labelValue(info.labels[j] as FeatureSpec, values[(info.labels[j] as FeatureSpec).name]);
      if (lv !== null) {
        y[r * h + j] = lv;
        mask[r * h + j] = 1;
      }
    }
  }
  return { n, x, y, mask };
}
