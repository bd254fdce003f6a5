import type { Coding, Condition, MedicationRequest, Observation, Patient, Quantity } from 'fhir/r4.js';

/**
 * FHIR R4 resource builders for the demo sites: the shapes real systems send (US Core / IPS-like Patient, laboratory
 * and vital-sign Observations with a category, MedicationRequest orders, encounter-diagnosis Conditions).
 */

export const UCUM = 'http://unitsofmeasure.org';
export const LOINC = 'http://loinc.org';
export const SNOMED = 'http://snomed.info/sct';

/** `2023-03-05T09:15:00+01:00`: FHIR wants an offset on every time; sites write their local time. */
export function fhirDateTime(at: Date, offsetMinutes: number): string {
  const local = new Date(at.getTime() + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${local.toISOString().slice(0, 19)}${sign}${hh}:${mm}`;
}

export interface PatientInput {
  readonly id: string;
  readonly mrnSystem: string;
  readonly mrn: string;
  readonly gender?: Patient['gender'];
  readonly birthDate?: string;
  readonly family: string;
  readonly given: string;
}

export function patient(p: PatientInput): Patient {
  return {
    resourceType: 'Patient',
    id: p.id,
    meta: { lastUpdated: '2024-06-30T00:00:00Z' },
    identifier: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
        system: p.mrnSystem,
        value: p.mrn,
      },
    ],
    name: [{ use: 'official', family: p.family, given: [p.given] }],
    ...(p.gender ? { gender: p.gender } : {}),
    ...(p.birthDate ? { birthDate: p.birthDate } : {}),
  };
}

/** A value with its unit as the site writes it: a UCUM code when the site codes units, else only the display text. */
export interface SiteQuantity {
  readonly value: number;
  /** The unit text the site shows (Quantity.unit). Absent: the site sent a bare number. */
  readonly unit?: string;
  /** UCUM code (Quantity.system + code) when the unit text is valid UCUM and the site codes its units. */
  readonly ucum?: string;
}

export function quantity(q: SiteQuantity): Quantity {
  return {
    value: q.value,
    ...(q.unit !== undefined ? { unit: q.unit } : {}),
    ...(q.ucum !== undefined ? { system: UCUM, code: q.ucum } : {}),
  };
}

const CATEGORY = {
  laboratory: { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory', display: 'Laboratory' },
  'vital-signs': { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' },
} as const;

export function observation(
  id: string,
  patientId: string,
  codings: readonly Coding[],
  category: keyof typeof CATEGORY,
  value: SiteQuantity,
  effective: string,
): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [CATEGORY[category]] }],
    code: { coding: [...codings] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: effective,
    issued: effective.length > 10 ? effective : `${effective}T12:00:00Z`,
    valueQuantity: quantity(value),
  };
}

/** Blood pressure the way vital-signs profiles want it: a panel with systolic and diastolic components. */
export function bloodPressure(
  id: string,
  patientId: string,
  panel: Coding,
  systolic: { coding: Coding; value: SiteQuantity },
  diastolic: { coding: Coding; value: SiteQuantity },
  effective: string,
): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [CATEGORY['vital-signs']] }],
    code: { coding: [panel] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: effective,
    component: [
      { code: { coding: [systolic.coding] }, valueQuantity: quantity(systolic.value) },
      { code: { coding: [diastolic.coding] }, valueQuantity: quantity(diastolic.value) },
    ],
  };
}

export function medicationRequest(id: string, patientId: string, medication: Coding, authoredOn: string, dosageText: string): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id,
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: { coding: [medication], text: medication.display ?? '' },
    subject: { reference: `Patient/${patientId}` },
    authoredOn,
    dosageInstruction: [{ text: dosageText }],
  };
}

export function condition(id: string, patientId: string, code: Coding, onset: string, verification: 'confirmed' | 'refuted' = 'confirmed'): Condition {
  return {
    resourceType: 'Condition',
    id,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: verification }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis' }] }],
    code: { coding: [code] },
    subject: { reference: `Patient/${patientId}` },
    onsetDateTime: onset,
    recordedDate: onset,
  };
}

const FAMILY = ['Smith', 'Jones', 'Garcia', 'Müller', 'Rossi', 'Kowalski', 'Nagy', 'Dubois', 'Novak', 'Larsen', "O'Brien", 'Silva'];
const GIVEN_F = ['Anna', 'Maria', 'Emma', 'Sofia', 'Julia', 'Eva', 'Grace', 'Ines'];
const GIVEN_M = ['John', 'Peter', 'Luca', 'Jan', 'Ahmed', 'David', 'Tomas', 'Leon'];

/** A synthetic name (names are PHI-shaped noise: harmonization must never need them). */
export function syntheticName(n: number, sex: 'female' | 'male'): { family: string; given: string } {
  const given = sex === 'female' ? GIVEN_F : GIVEN_M;
  return { family: FAMILY[n % FAMILY.length] as string, given: given[Math.floor(n / FAMILY.length) % given.length] as string };
}
