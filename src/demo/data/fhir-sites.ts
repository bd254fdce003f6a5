import type { Coding, FhirResource } from 'fhir/r4.js';
import { bloodPressure, condition, fhirDateTime, LOINC, medicationRequest, observation, patient, SNOMED, syntheticName, type SiteQuantity } from './fhir-resources.js';
import { ADVERSE_EVENTS } from './model.js';
import type { Analyte, PatientRecord, PatientTruth } from './record.js';
import type { Rng } from './rng.js';
import { siteQuantity, type UnitSpelling } from './units.js';

/**
 * The three FHIR-speaking demo hospitals, each a style: codes, units, time zone and data quality. One renderer turns
 * a patient's timeline into that hospital's resources and records in the truth what it withheld or got wrong.
 */

/** Schema feature name per analyte (what a withheld or corrupted value affects). */
export const FEATURE_OF: Readonly<Record<Analyte, string>> = {
  glucose: 'glucose',
  hba1c: 'hba1c',
  creatinine: 'creatinine',
  egfr: 'egfr',
  bmi: 'bmi',
  temperature: 'temperature',
};

export interface LabWriting {
  readonly coding: Coding;
  readonly unit: UnitSpelling;
}

/** A deliberate error: the value as sent (wrong unit label, typo) replaces the correct one. */
export type Corruption = (analyte: Analyte | 'systolic_bp', q: SiteQuantity, rng: Rng) => SiteQuantity;

export interface FhirSiteStyle {
  readonly site: string;
  readonly idPrefix: string;
  readonly mrnSystem: string;
  readonly utcOffsetMinutes: number;
  lab(analyte: Analyte, phase: 'baseline' | 'followup', rng: Rng): LabWriting;
  readonly bp: { readonly panel: Coding; readonly systolic: Coding; readonly diastolic: Coding; readonly unit: UnitSpelling };
  medication(drug: 'metformin' | 'insulin', rng: Rng): Coding;
  /** Probability that one baseline measurement (lab, vital) is not sent at all. */
  readonly missingRate: number;
  /** Probability that one sent baseline value is corrupted, and how. */
  readonly corruptionRate: number;
  readonly corrupt?: Corruption;
  readonly noBirthDateRate: number;
  readonly unknownGenderRate: number;
  readonly noFollowUpRate: number;
  /** Refuted adverse-event conditions added for patients without one: noise the views must filter out. */
  readonly refutedNoiseRate: number;
  /** A lab the federation does not use (mapped as `unmatched` or not at all): counted as unmapped, never a feature. */
  extraLab?(rng: Rng): { coding: Coding; value: SiteQuantity } | undefined;
}

export function renderFhirPatient(style: FhirSiteStyle, record: PatientRecord, n: number, rng: Rng): { resources: FhirResource[]; truth: PatientTruth } {
  const t = record.truth;
  const pid = t.id;
  const withheld: string[] = [];
  const corrupted: string[] = [];
  const when = (d: Date) => fhirDateTime(d, style.utcOffsetMinutes);
  const name = syntheticName(n, t.features.sex);
  const noBirth = rng.chance(style.noBirthDateRate);
  const unknownGender = rng.chance(style.unknownGenderRate);
  if (noBirth) withheld.push('age');
  if (unknownGender) withheld.push('sex');
  const resources: FhirResource[] = [
    patient({
      id: pid,
      mrnSystem: style.mrnSystem,
      mrn: `${style.idPrefix.toUpperCase()}${String(n + 1).padStart(6, '0')}`,
      gender: unknownGender ? 'unknown' : t.features.sex,
      ...(noBirth ? {} : { birthDate: t.birthDate }),
      ...name,
    }),
  ];
  let k = 0;
  const nextId = (kind: string) => `${pid}-${kind}${++k}`;
  let responseReported = true;
  for (const e of record.events) {
    switch (e.kind) {
      case 'lab': {
        if (e.phase === 'followup' && rng.chance(style.noFollowUpRate)) {
          responseReported = false;
          break;
        }
        if (e.phase === 'baseline' && rng.chance(style.missingRate)) {
          withheld.push(FEATURE_OF[e.analyte]);
          break;
        }
        const w = style.lab(e.analyte, e.phase, rng);
        let q = siteQuantity(e.analyte, e.value, w.unit);
        if (e.phase === 'baseline' && style.corrupt && rng.chance(style.corruptionRate)) {
          q = style.corrupt(e.analyte, q, rng);
          corrupted.push(FEATURE_OF[e.analyte]);
        }
        const category = e.analyte === 'bmi' || e.analyte === 'temperature' ? 'vital-signs' : 'laboratory';
        resources.push(observation(nextId('obs'), pid, [w.coding], category, q, when(e.at)));
        break;
      }
      case 'bp': {
        if (rng.chance(style.missingRate)) {
          withheld.push('systolic_bp');
          break;
        }
        const u = style.bp.unit;
        let sys: SiteQuantity = { value: e.systolic, unit: u.text ?? u.ucum, ...(u.text === undefined ? { ucum: u.ucum } : {}) };
        if (style.corrupt && rng.chance(style.corruptionRate)) {
          sys = style.corrupt('systolic_bp', sys, rng);
          corrupted.push('systolic_bp');
        }
        const dia: SiteQuantity = { value: e.diastolic, unit: u.text ?? u.ucum, ...(u.text === undefined ? { ucum: u.ucum } : {}) };
        resources.push(bloodPressure(nextId('bp'), pid, style.bp.panel, { coding: style.bp.systolic, value: sys }, { coding: style.bp.diastolic, value: dia }, when(e.at)));
        break;
      }
      case 'med': {
        const coding = style.medication(e.drug, rng);
        const text = e.drug === 'metformin' ? '1 tablet twice daily with meals' : '10 units subcutaneously at bedtime';
        resources.push(medicationRequest(nextId('rx'), pid, coding, when(e.at), text));
        break;
      }
      case 'adverse': {
        const ae = ADVERSE_EVENTS[e.event];
        resources.push(condition(nextId('cond'), pid, { system: SNOMED, code: ae.code, display: ae.display }, when(e.at)));
        break;
      }
    }
  }
  const extra = style.extraLab?.(rng);
  const firstLab = record.events.find((e) => e.kind === 'lab');
  if (extra && firstLab) resources.push(observation(nextId('obs'), pid, [extra.coding], 'laboratory', extra.value, when(firstLab.at)));
  if (!t.adverseEvent && rng.chance(style.refutedNoiseRate)) {
    const ae = ADVERSE_EVENTS.hypoglycaemia;
    const medAt = record.events.find((e) => e.kind === 'med')?.at ?? new Date(`${t.indexDate}T12:00:00Z`);
    resources.push(condition(nextId('cond'), pid, { system: SNOMED, code: ae.code, display: ae.display }, when(new Date(medAt.getTime() + 30 * 86_400_000)), 'refuted'));
  }
  return { resources, truth: { ...t, responseReported, corrupted, withheld } };
}

const loinc = (code: string, display: string): Coding => ({ system: LOINC, code, display });

/** Hospital A (mappings/sites/hospital-a): local codes, US units with some SI mixed in, non-UCUM unit spellings. */
export const HOSPITAL_A_LAB = 'http://hospital-a.example.org/codes/lab';
const A_FORMULARY = 'http://hospital-a.example.org/codes/formulary';
const aLab = (code: string, display: string): Coding => ({ system: HOSPITAL_A_LAB, code, display });

export const hospitalAStyle: FhirSiteStyle = {
  site: 'hospital-a',
  idPrefix: 'ha',
  mrnSystem: 'http://hospital-a.example.org/mrn',
  utcOffsetMinutes: -300,
  lab(analyte, phase, rng) {
    switch (analyte) {
      case 'glucose':
        return { coding: aLab('GLU', 'Glucose, serum'), unit: rng.chance(0.8) ? { ucum: 'mg/dL' } : { ucum: 'mmol/L' } };
      case 'hba1c':
        // The outcome mapping thresholds the follow-up value at 7 (%), so follow-ups are always in %.
        return { coding: aLab('A1C', 'Hemoglobin A1c'), unit: phase === 'followup' || rng.chance(0.85) ? { ucum: '%' } : { ucum: 'mmol/mol' } };
      case 'creatinine':
        return { coding: aLab('CREA', 'Creatinine, serum'), unit: rng.chance(0.85) ? { ucum: 'mg/dL' } : { ucum: 'umol/L' } };
      case 'egfr':
        return {
          coding: aLab('EGFR', 'eGFR CKD-EPI'),
          unit: rng.chance(0.7) ? { ucum: 'mL/min/{1.73_m2}', text: 'mL/min/1.73m2' } : { ucum: 'mL/min' },
        };
      case 'bmi':
        return { coding: aLab('BMI', 'Body mass index'), unit: { ucum: 'kg/m2' } };
      case 'temperature':
        return { coding: aLab('TEMP', 'Body temperature'), unit: { ucum: '[degF]', text: 'F' } };
    }
  },
  bp: {
    panel: { system: HOSPITAL_A_LAB, code: 'BP', display: 'Blood pressure' },
    systolic: aLab('SBP', 'Systolic blood pressure'),
    diastolic: aLab('DBP', 'Diastolic blood pressure'),
    unit: { ucum: 'mm[Hg]', text: 'mmHg' },
  },
  medication(drug, rng) {
    if (drug === 'insulin') return { system: A_FORMULARY, code: 'INSGLAR', display: 'Insulin glargine 100 U/mL pen' };
    return rng.chance(0.6) ? { system: A_FORMULARY, code: 'MET500', display: 'Metformin 500 mg tablet' } : { system: A_FORMULARY, code: 'MET850', display: 'Metformin 850 mg tablet' };
  },
  missingRate: 0.03,
  corruptionRate: 0,
  noBirthDateRate: 0,
  unknownGenderRate: 0,
  noFollowUpRate: 0.02,
  refutedNoiseRate: 0,
  extraLab(rng) {
    return rng.chance(0.25) ? { coding: aLab('LACT', 'Lactate'), value: { value: Math.round(rng.uniform(5, 20)), unit: 'mg/dL', ucum: 'mg/dL' } } : undefined;
  },
};

/** Hospital B (mappings/sites/hospital-b): LOINC, SI units in UCUM, ATC-coded prescriptions. */
const ATC = 'http://www.whocc.no/atc';
export const hospitalBStyle: FhirSiteStyle = {
  site: 'hospital-b',
  idPrefix: 'hb',
  mrnSystem: 'urn:oid:2.999.2.1',
  utcOffsetMinutes: 60,
  lab(analyte) {
    switch (analyte) {
      case 'glucose':
        return { coding: loinc('15074-8', 'Glucose [Moles/volume] in Blood'), unit: { ucum: 'mmol/L' } };
      case 'hba1c':
        return { coding: loinc('59261-8', 'Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol'), unit: { ucum: 'mmol/mol' } };
      case 'creatinine':
        return { coding: loinc('14682-9', 'Creatinine [Moles/volume] in Serum or Plasma'), unit: { ucum: 'umol/L' } };
      case 'egfr':
        return { coding: loinc('62238-1', 'Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)'), unit: { ucum: 'mL/min/{1.73_m2}' } };
      case 'bmi':
        return { coding: loinc('39156-5', 'Body mass index (BMI) [Ratio]'), unit: { ucum: 'kg/m2' } };
      case 'temperature':
        return { coding: loinc('8310-5', 'Body temperature'), unit: { ucum: 'Cel' } };
    }
  },
  bp: {
    panel: loinc('85354-9', 'Blood pressure panel with all children optional'),
    systolic: loinc('8480-6', 'Systolic blood pressure'),
    diastolic: loinc('8462-4', 'Diastolic blood pressure'),
    unit: { ucum: 'mm[Hg]' },
  },
  medication(drug) {
    return drug === 'metformin' ? { system: ATC, code: 'A10BA02', display: 'metformin' } : { system: ATC, code: 'A10AE04', display: 'insulin glargine' };
  },
  missingRate: 0.03,
  corruptionRate: 0,
  noBirthDateRate: 0,
  unknownGenderRate: 0,
  noFollowUpRate: 0.02,
  refutedNoiseRate: 0.03,
};

/** Hospital D (mappings/sites/demo-hospital-d): LOINC but mixed units, many gaps, wrong unit labels and typos. */
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const hospitalDStyle: FhirSiteStyle = {
  site: 'demo-hospital-d',
  idPrefix: 'hd',
  mrnSystem: 'urn:oid:2.999.4.1',
  utcOffsetMinutes: 60,
  lab(analyte, phase, rng) {
    const si = rng.chance(0.5);
    switch (analyte) {
      case 'glucose':
        return si ? { coding: loinc('15074-8', 'Glucose [Moles/volume] in Blood'), unit: { ucum: 'mmol/L' } } : { coding: loinc('2345-7', 'Glucose [Mass/volume] in Serum or Plasma'), unit: { ucum: 'mg/dL' } };
      case 'hba1c':
        // Follow-ups come from the IFCC analyser (59261-8, mmol/mol), which is what the outcome mapping reads.
        return si || phase === 'followup'
          ? { coding: loinc('59261-8', 'Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol'), unit: { ucum: 'mmol/mol' } }
          : { coding: loinc('4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood'), unit: { ucum: '%' } };
      case 'creatinine':
        return si ? { coding: loinc('14682-9', 'Creatinine [Moles/volume] in Serum or Plasma'), unit: { ucum: 'umol/L' } } : { coding: loinc('2160-0', 'Creatinine [Mass/volume] in Serum or Plasma'), unit: { ucum: 'mg/dL' } };
      case 'egfr':
        return { coding: loinc('62238-1', 'eGFR CKD-EPI'), unit: { ucum: 'mL/min/{1.73_m2}' } };
      case 'bmi':
        return { coding: loinc('39156-5', 'Body mass index (BMI) [Ratio]'), unit: { ucum: 'kg/m2' } };
      case 'temperature':
        return { coding: loinc('8310-5', 'Body temperature'), unit: { ucum: 'Cel' } };
    }
  },
  bp: hospitalBStyle.bp,
  medication(drug) {
    return drug === 'metformin' ? { system: RXNORM, code: '6809', display: 'metformin' } : { system: RXNORM, code: '274783', display: 'insulin glargine' };
  },
  missingRate: 0.35,
  corruptionRate: 0.1,
  corrupt(analyte, q) {
    switch (analyte) {
      case 'glucose': // a mg/dL number sent with the mmol/L label (or a mmol/L one doubled up): implausible either way
        return q.unit === 'mmol/L' ? { value: Math.round(q.value * 18), unit: 'mmol/L', ucum: 'mmol/L' } : { value: q.value, unit: 'mmol/L', ucum: 'mmol/L' };
      case 'hba1c': // an IFCC (mmol/mol) number labelled % (read as NGSP it is far out of range)
        return { value: q.unit === 'mmol/mol' ? q.value : Math.round((q.value - 2.15) * 10.929), unit: '%', ucum: '%' };
      case 'creatinine': // a mg/dL number labelled umol/L
        return { value: q.unit === 'mg/dL' ? q.value : Math.round((q.value / 88.4) * 100) / 100, unit: 'umol/L', ucum: 'umol/L' };
      case 'egfr': // the interface dropped the per-1.73 m2 annotation: an absolute clearance as far as anyone can tell
        return { value: q.value, unit: 'mL/min', ucum: 'mL/min' };
      case 'temperature': // the unit was lost
        return { value: q.value };
      default: // bmi, systolic_bp: a missing decimal point
        return { ...q, value: q.value * 10 };
    }
  },
  noBirthDateRate: 0.06,
  unknownGenderRate: 0.04,
  noFollowUpRate: 0.12,
  refutedNoiseRate: 0.05,
};
