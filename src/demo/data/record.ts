import {
  adverseEventKind,
  drawFeatures,
  drawOutcomes,
  mmolPerMolToPercent,
  percentToMmolPerMol,
  type AdverseEventKind,
  type PopulationProfile,
  type Sex,
  type TrueFeatures,
} from './model.js';
import { round, type Rng } from './rng.js';

/**
 * A patient's clinical timeline in canonical units, before any hospital writes it down: baseline measurements in the
 * weeks before the index date, the first antidiabetic prescription on it, a follow-up HbA1c after it (what the
 * mappings turn into `drug_response`: HbA1c < 53 mmol/mol / 7 %) and, for some, an adverse event (a SNOMED-coded
 * condition the mappings turn into `adverse_event`). Site renderers (fhir-sites.ts, hl7-site.ts) then choose codes,
 * units, transports and errors.
 */

export type Analyte = 'glucose' | 'hba1c' | 'creatinine' | 'egfr' | 'bmi' | 'temperature';
export const ANALYTES: readonly Analyte[] = ['glucose', 'hba1c', 'creatinine', 'egfr', 'bmi', 'temperature'];

export type ClinicalEvent =
  | { readonly kind: 'lab'; readonly analyte: Analyte; readonly value: number; readonly at: Date; readonly phase: 'baseline' | 'followup' }
  | { readonly kind: 'bp'; readonly systolic: number; readonly diastolic: number; readonly at: Date }
  | { readonly kind: 'med'; readonly drug: 'metformin' | 'insulin'; readonly at: Date }
  | { readonly kind: 'adverse'; readonly event: AdverseEventKind; readonly at: Date };

/** What the generator knows about one patient; tests compare harmonized rows with it. */
export interface PatientTruth {
  readonly site: string;
  /** Source patient id: Patient.id at FHIR sites, the MRN (PID-3) at the HL7 site. */
  readonly id: string;
  readonly birthDate: string;
  /** Date of the first antidiabetic prescription (YYYY-MM-DD); ages are counted at it. */
  readonly indexDate: string;
  readonly features: TrueFeatures;
  readonly pResponse: number;
  readonly pAdverse: number;
  readonly drugResponse: boolean;
  readonly adverseEvent: boolean;
  /** False when the site never sent the follow-up HbA1c (the harmonized row then has no label and is dropped). */
  readonly responseReported: boolean;
  /** Schema features this site deliberately sent wrong (wrong unit label, typo): harmonization must quarantine them. */
  readonly corrupted: readonly string[];
  /** Schema features this site did not send for this patient. */
  readonly withheld: readonly string[];
}

export interface PatientRecord {
  readonly truth: PatientTruth;
  readonly events: readonly ClinicalEvent[];
}

const DAY = 86_400_000;

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** A time of day in clinic hours, so timestamps look like real ones. */
function atClinicTime(rng: Rng, day: Date): Date {
  return new Date(day.getTime() + rng.int(7, 16) * 3_600_000 + rng.int(0, 11) * 300_000);
}

/** Birth date such that the whole-year age at the index date is exactly `age`. */
function birthDateFor(rng: Rng, index: Date, age: number): string {
  const latest = Date.UTC(index.getUTCFullYear() - age, index.getUTCMonth(), index.getUTCDate());
  const d = new Date(latest - rng.int(1, 364) * DAY);
  return isoDate(d);
}

export function drawRecord(rng: Rng, site: string, id: string, population: PopulationProfile): PatientRecord {
  const features = drawFeatures(rng, population);
  const outcomes = drawOutcomes(rng, features, population);
  const indexDay = new Date(Date.UTC(2023, 0, 1) + rng.int(0, 364) * DAY);
  const index = atClinicTime(rng, indexDay);
  const baseline = atClinicTime(rng, new Date(indexDay.getTime() - rng.int(3, 60) * DAY));
  const vitals = atClinicTime(rng, new Date(indexDay.getTime() - rng.int(1, 30) * DAY));
  const events: ClinicalEvent[] = [
    { kind: 'lab', analyte: 'glucose', value: features.glucose, at: baseline, phase: 'baseline' },
    { kind: 'lab', analyte: 'hba1c', value: features.hba1c, at: baseline, phase: 'baseline' },
    { kind: 'lab', analyte: 'creatinine', value: features.creatinine, at: baseline, phase: 'baseline' },
    { kind: 'lab', analyte: 'egfr', value: features.egfr, at: baseline, phase: 'baseline' },
    { kind: 'lab', analyte: 'bmi', value: features.bmi, at: vitals, phase: 'baseline' },
    { kind: 'lab', analyte: 'temperature', value: features.temperature, at: vitals, phase: 'baseline' },
    { kind: 'bp', systolic: features.systolicBp, diastolic: features.diastolicBp, at: vitals },
  ];
  if (features.onMetformin) events.push({ kind: 'med', drug: 'metformin', at: index });
  // Both drugs of a dual start are ordered in the same visit: both count as exposures at the index date.
  if (features.onInsulin) events.push({ kind: 'med', drug: 'insulin', at: index });
  // Follow-up HbA1c on the right side of 7 % with a margin, so every site's unit and rounding keep the label.
  const followPercent = outcomes.drugResponse ? round(rng.uniform(5.9, 6.8), 1) : round(rng.uniform(7.2, 9.8), 1);
  const followAt = atClinicTime(rng, new Date(indexDay.getTime() + rng.int(90, 200) * DAY));
  events.push({ kind: 'lab', analyte: 'hba1c', value: percentToMmolPerMol(followPercent), at: followAt, phase: 'followup' });
  if (outcomes.adverseEvent) {
    events.push({ kind: 'adverse', event: adverseEventKind(rng, features), at: atClinicTime(rng, new Date(indexDay.getTime() + rng.int(7, 330) * DAY)) });
  }
  return {
    truth: {
      site,
      id,
      birthDate: birthDateFor(rng, indexDay, features.age),
      indexDate: isoDate(indexDay),
      features,
      ...outcomes,
      responseReported: true,
      corrupted: [],
      withheld: [],
    },
    events,
  };
}

/** The follow-up HbA1c in %, recovered exactly (it was drawn with one decimal). */
export function followUpPercent(value: number): number {
  return round(mmolPerMolToPercent(value), 1);
}

export type { Sex };
