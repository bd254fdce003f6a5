import type { Coding, Observation, Patient, FhirResource } from 'fhir/r4.js';
import { fhirDateTime, UCUM } from '../../demo/data/fhir-resources.js';
import { angiographyDate, CHEST_PAIN, examDate, HEART_CS, heartBirthDate, LOINC, measured, OBS, RESTING_ECG, type ObsKey } from './codes.js';
import type { HeartRow, HeartSite } from './load.js';

/**
 * Cleveland and Hungary as FHIR R4: a Patient (gender, birthDate from the age at the study date) and one Observation
 * per attribute: quantities with UCUM units, flags as valueBoolean, categories as valueCodeableConcept, the
 * angiographic result as valueInteger. Hungary writes blood pressure as the non-UCUM text `mmHg` (no coded unit),
 * as many European systems do; harmonization repairs it.
 */

const OFFSETS: Readonly<Record<string, number>> = { 'heart-cleveland': -300, 'heart-hungary': 60 };

function coding(key: ObsKey): Coding {
  const o = OBS[key];
  return { system: o.loinc ? LOINC : HEART_CS, code: o.code, display: o.display };
}

export function heartPatientId(row: HeartRow): string {
  return `heart-${row.key}`;
}

function base(row: HeartRow, key: ObsKey, at: Date, offset: number, category: 'vital-signs' | 'laboratory' | 'exam'): Observation {
  return {
    resourceType: 'Observation',
    id: `${heartPatientId(row)}-${OBS[key].code}`,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: category }] }],
    code: { coding: [coding(key)], text: OBS[key].display },
    subject: { reference: `Patient/${heartPatientId(row)}` },
    effectiveDateTime: fhirDateTime(at, offset),
  };
}

export function renderHeartFhir(site: HeartSite): FhirResource[] {
  const offset = OFFSETS[site.site] ?? 0;
  const textBp = site.site === 'heart-hungary';
  const out: FhirResource[] = [];
  const obs = (o: Observation) => out.push(o);
  for (const row of site.rows) {
    const pid = heartPatientId(row);
    const p: Patient = {
      resourceType: 'Patient',
      id: pid,
      identifier: [{ system: `http://fhirfed.example.org/${site.site}/patient`, value: row.key }],
      gender: row.sex === 1 ? 'male' : 'female',
      birthDate: heartBirthDate(row),
    };
    out.push(p);
    const exam = examDate(row);
    const q = (key: ObsKey, value: number, ucum: string, category: 'vital-signs' | 'laboratory' | 'exam', text?: string): Observation => ({
      ...base(row, key, exam, offset, category),
      valueQuantity: text ? { value, unit: text } : { value, unit: ucum, system: UCUM, code: ucum },
    });
    if (measured(row, 'trestbps')) out.push(q('trestbps', row.trestbps, 'mm[Hg]', 'vital-signs', textBp ? 'mmHg' : undefined));
    if (measured(row, 'chol')) out.push(q('chol', row.chol, 'mg/dL', 'laboratory'));
    out.push(q('thalach', row.thalach, '/min', 'exam'));
    out.push(q('oldpeak', row.oldpeak, 'mm', 'exam'));
    obs({ ...base(row, 'fbs', exam, offset, 'laboratory'), valueBoolean: row.fbs === 1 });
    obs({ ...base(row, 'exang', exam, offset, 'exam'), valueBoolean: row.exang === 1 });
    const cp = CHEST_PAIN[row.cp];
    if (cp) obs({ ...base(row, 'cp', exam, offset, 'exam'), valueCodeableConcept: { coding: [{ system: `${HEART_CS}-chest-pain`, ...cp }] } });
    const ecg = RESTING_ECG[row.restecg];
    if (ecg) obs({ ...base(row, 'restecg', exam, offset, 'exam'), valueCodeableConcept: { coding: [{ system: `${HEART_CS}-ecg`, ...ecg }] } });
    obs({ ...base(row, 'num', angiographyDate(row), offset, 'exam'), valueInteger: row.num });
  }
  return out;
}
