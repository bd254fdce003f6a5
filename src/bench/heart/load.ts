import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FhirfedError } from '../../core/errors.js';
import { Rng } from '../../demo/data/rng.js';

/**
 * The UCI Heart Disease files of four hospitals, read with FLamby's Fed-Heart-Disease protocol expressed as data:
 * drop slope, ca and thal; drop rows with any other missing value ('?'); label = num > 0; per-center stratified
 * train/test split with train_size 0.66 (sklearn's sizes: n_test = ceil(0.34 n), n_train = floor(0.66 n)). The split is
 * stratified the way sklearn's StratifiedShuffleSplit allocates (largest remainder per class); which rows go to test
 * is a seeded shuffle, so the counts equal FLamby's exactly while the membership is this loader's own.
 */

export type HeartCenter = 'cleveland' | 'hungarian' | 'switzerland' | 'va';
export type HeartSiteId = 'heart-cleveland' | 'heart-hungary' | 'heart-switzerland' | 'heart-va';
export type Split = 'train' | 'test';

export const HEART_CENTERS: readonly { readonly site: HeartSiteId; readonly center: HeartCenter; readonly file: string; readonly name: string }[] = [
  { site: 'heart-cleveland', center: 'cleveland', file: 'processed.cleveland.data', name: 'Cleveland Clinic Foundation' },
  { site: 'heart-hungary', center: 'hungarian', file: 'processed.hungarian.data', name: 'Hungarian Institute of Cardiology, Budapest' },
  { site: 'heart-switzerland', center: 'switzerland', file: 'processed.switzerland.data', name: 'University Hospitals Zurich and Basel' },
  { site: 'heart-va', center: 'va', file: 'processed.va.data', name: 'V.A. Medical Center, Long Beach' },
];

/** @defaultValue of `dir`: the shared data set, relative to the repository root. */
export const DEFAULT_HEART_DIR = '../shared/datasets/heart-disease';
export const TRAIN_FRACTION = 0.66;

/** One patient after the protocol: the 10 kept predictors (UCI coding), the raw `num` and the binary label. */
export interface HeartRow {
  readonly site: HeartSiteId;
  /** Stable patient key: `<center>-<line number, 4 digits>`; also the FHIR Patient.id suffix and the HL7 MRN. */
  readonly key: string;
  readonly line: number;
  readonly age: number;
  /** 1 male, 0 female. */
  readonly sex: 0 | 1;
  /** Chest pain type 1 typical angina, 2 atypical angina, 3 non-anginal pain, 4 asymptomatic. */
  readonly cp: number;
  /** Resting blood pressure, mm[Hg]; 0 means not measured in the UCI files. */
  readonly trestbps: number;
  /** Serum cholesterol, mg/dL; 0 means not measured (all of Switzerland, part of VA). */
  readonly chol: number;
  readonly fbs: 0 | 1;
  /** Resting ECG 0 normal, 1 ST-T wave abnormality, 2 left ventricular hypertrophy. */
  readonly restecg: number;
  readonly thalach: number;
  readonly exang: 0 | 1;
  readonly oldpeak: number;
  readonly num: number;
  readonly label: 0 | 1;
  readonly split: Split;
}

export interface HeartSite {
  readonly site: HeartSiteId;
  readonly center: HeartCenter;
  readonly name: string;
  readonly rows: readonly HeartRow[];
  /** Source lines dropped by the protocol (a missing value outside slope/ca/thal). */
  readonly dropped: number;
}

export interface HeartDataset {
  readonly dir: string;
  readonly seed: number;
  readonly sites: readonly HeartSite[];
  /** Split of a patient by site and key (HeartRow.key); throws for an unknown patient. */
  splitOf(site: HeartSiteId, key: string): Split;
}

export interface LoadHeartOptions {
  /** Folder with the four processed.*.data files. @defaultValue DEFAULT_HEART_DIR */
  readonly dir?: string;
  /** Seed of the per-center split. @defaultValue 43 (FLamby's random_state) */
  readonly seed?: number;
}

const KEPT = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13]; // columns 10-12 (slope, ca, thal) are dropped

export function loadHeartDisease(options: LoadHeartOptions = {}): HeartDataset {
  const dir = resolve(options.dir ?? DEFAULT_HEART_DIR);
  const seed = options.seed ?? 43;
  if (!existsSync(dir)) {
    throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `heart-disease data folder ${dir} not found`, {
      hint: `pass the folder holding processed.{cleveland,hungarian,switzerland,va}.data (default ${DEFAULT_HEART_DIR}, relative to the repository root)`,
    });
  }
  const sites = HEART_CENTERS.map((c, i) => loadCenter(join(dir, c.file), c, seed + i));
  const index = new Map<string, Split>();
  for (const s of sites) for (const r of s.rows) index.set(`${s.site}|${r.key}`, r.split);
  return {
    dir,
    seed,
    sites,
    splitOf(site, key) {
      const split = index.get(`${site}|${key}`);
      if (!split) throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `no patient ${key} at ${site}`, { hint: 'keys look like cleveland-0001 (center and source line)' });
      return split;
    },
  };
}

function loadCenter(file: string, c: (typeof HEART_CENTERS)[number], seed: number): HeartSite {
  if (!existsSync(file)) {
    throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `${file} not found`, { hint: 'the folder must hold the four UCI processed.*.data files' });
  }
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const parsed: Omit<HeartRow, 'split'>[] = [];
  let dropped = 0;
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    const cells = text.split(',').map((s) => s.trim());
    if (cells.length !== 14) {
      throw new FhirfedError('FHIRFED_ERR_VALIDATION', `expected 14 comma-separated values, found ${cells.length}`, {
        where: { file, line: i + 1 },
        hint: 'use the unmodified UCI processed.*.data files',
      });
    }
    const kept = KEPT.map((k) => cells[k] as string);
    if (kept.includes('?')) {
      dropped++;
      return;
    }
    const v = kept.map(Number);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad !== -1) {
      throw new FhirfedError('FHIRFED_ERR_VALIDATION', `column ${KEPT[bad] as number + 1} is not a number: \`${kept[bad] as string}\``, { where: { file, line: i + 1 } });
    }
    const [age, sex, cp, trestbps, chol, fbs, restecg, thalach, exang, oldpeak, num] = v as [number, number, number, number, number, number, number, number, number, number, number];
    parsed.push({
      site: c.site,
      key: `${c.center}-${String(i + 1).padStart(4, '0')}`,
      line: i + 1,
      age,
      sex: sex === 1 ? 1 : 0,
      cp,
      trestbps,
      chol,
      fbs: fbs === 1 ? 1 : 0,
      restecg,
      thalach,
      exang: exang === 1 ? 1 : 0,
      oldpeak,
      num,
      label: num > 0 ? 1 : 0,
    });
  });
  const test = stratifiedTestSet(parsed.map((r) => r.label), seed);
  return { site: c.site, center: c.center, name: c.name, dropped, rows: parsed.map((r, i) => ({ ...r, split: test.has(i) ? 'test' : 'train' })) };
}

/** sklearn's _approximate_mode without its random tie-break: floor of the proportional share, remainders by size. */
export function approximateMode(classCounts: readonly number[], draws: number): number[] {
  const total = classCounts.reduce((a, b) => a + b, 0);
  const continuous = classCounts.map((n) => (draws * n) / total);
  const out = continuous.map(Math.floor);
  let need = draws - out.reduce((a, b) => a + b, 0);
  const order = continuous.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (need <= 0) break;
    if ((out[i] as number) < (classCounts[i] as number)) {
      out[i] = (out[i] as number) + 1;
      need--;
    }
  }
  return out;
}

/** Row indices of the test set: sizes as sklearn's train_test_split(train_size=0.66, stratify=labels). */
export function stratifiedTestSet(labels: readonly number[], seed: number): Set<number> {
  const n = labels.length;
  const nTest = Math.ceil(n * (1 - TRAIN_FRACTION));
  const nTrain = Math.floor(n * TRAIN_FRACTION);
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  const counts = classes.map((c) => labels.filter((l) => l === c).length);
  // FLamby stratifies only when every class has more than two members.
  const stratify = classes.length > 1 && counts.every((k) => k > 2);
  const rng = new Rng(seed);
  const shuffle = (idx: number[]) => {
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
    }
    return idx;
  };
  if (!stratify) return new Set(shuffle([...labels.keys()]).slice(0, nTest));
  const trainPerClass = approximateMode(counts, nTrain);
  const testPerClass = approximateMode(counts.map((k, i) => k - (trainPerClass[i] as number)), nTest);
  const test = new Set<number>();
  classes.forEach((c, ci) => {
    const idx = shuffle(labels.flatMap((l, i) => (l === c ? [i] : [])));
    for (const i of idx.slice(0, testPerClass[ci])) test.add(i);
  });
  return test;
}
