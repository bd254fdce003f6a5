/**
 * Vocabulary maps from the HL7 V2-to-FHIR IG concept maps (reference/v2-to-fhir/codesystems), reduced to the rows
 * the converters use. Unmapped codes fall back to the value the IG gives for "no mapping" (usually `unknown`).
 */

/** HL7 table 0001 -> administrative-gender (ConceptMap AdministrativeSex). */
export const ADMINISTRATIVE_SEX: Readonly<Record<string, 'male' | 'female' | 'other' | 'unknown'>> = {
  F: 'female',
  M: 'male',
  O: 'other',
  U: 'unknown',
  A: 'other',
  N: 'other',
};

/** HL7 table 0004 -> v3 ActCode encounter class (ConceptMap PatientClass[EncounterClass]). */
export const PATIENT_CLASS: Readonly<Record<string, { code: string; display: string; system: string }>> = {
  E: { code: 'EMER', display: 'emergency', system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode' },
  I: { code: 'IMP', display: 'inpatient encounter', system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode' },
  O: { code: 'AMB', display: 'ambulatory', system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode' },
  P: { code: 'PRENC', display: 'pre-admission', system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode' },
  R: { code: 'R', display: 'Recurring patient', system: 'http://terminology.hl7.org/CodeSystem/v2-0004' },
  B: { code: 'B', display: 'Obstetrics', system: 'http://terminology.hl7.org/CodeSystem/v2-0004' },
  C: { code: 'C', display: 'Commercial Account', system: 'http://terminology.hl7.org/CodeSystem/v2-0004' },
  N: { code: 'N', display: 'Not Applicable', system: 'http://terminology.hl7.org/CodeSystem/v2-0004' },
  U: { code: 'U', display: 'Unknown', system: 'http://terminology.hl7.org/CodeSystem/v2-0004' },
};

/** HL7 table 0004 -> encounter status (ConceptMap PatientClass[EncounterStatus]). */
export const PATIENT_CLASS_STATUS: Readonly<Record<string, 'planned' | 'in-progress' | 'unknown'>> = {
  E: 'in-progress',
  I: 'in-progress',
  O: 'in-progress',
  P: 'planned',
  R: 'in-progress',
  B: 'in-progress',
  C: 'in-progress',
  N: 'in-progress',
  U: 'unknown',
};

export type ObservationStatus = 'registered' | 'preliminary' | 'final' | 'amended' | 'corrected' | 'cancelled' | 'entered-in-error' | 'unknown';

/** HL7 table 0085 -> observation-status (ConceptMap ObservationResultStatusCodesInterpretation). */
export const OBSERVATION_STATUS: Readonly<Record<string, ObservationStatus>> = {
  A: 'amended',
  C: 'corrected',
  D: 'entered-in-error',
  F: 'final',
  P: 'preliminary',
  X: 'cancelled',
  W: 'entered-in-error',
};

export type ReportStatus = 'registered' | 'partial' | 'preliminary' | 'final' | 'corrected' | 'cancelled' | 'unknown';

/** HL7 table 0123 -> diagnostic-report-status (ConceptMap ResultStatus[Non-Queries]). */
export const REPORT_STATUS: Readonly<Record<string, ReportStatus>> = {
  O: 'registered',
  I: 'registered',
  S: 'registered',
  P: 'preliminary',
  C: 'corrected',
  R: 'partial',
  F: 'final',
  X: 'cancelled',
};

/** HL7 table 0322 -> event-status for Immunization.status (ConceptMap CompletionStatus). */
export const COMPLETION_STATUS: Readonly<Record<string, 'completed' | 'not-done'>> = {
  CP: 'completed',
  RE: 'not-done',
  NA: 'not-done',
  PA: 'completed',
};

/** HL7 table 0200 -> name-use (ConceptMap NameType). */
export const NAME_USE: Readonly<Record<string, 'usual' | 'official' | 'temp' | 'nickname' | 'anonymous' | 'old' | 'maiden'>> = {
  BAD: 'old',
  D: 'usual',
  L: 'official',
  M: 'maiden',
  MSK: 'anonymous',
  N: 'nickname',
  NAV: 'temp',
  R: 'official',
  TEMP: 'temp',
};

/** HL7 table 0078 interpretation codes are the v3 ObservationInterpretation codes (ConceptMap InterpretationCodes). */
export const INTERPRETATION_DISPLAY: Readonly<Record<string, string>> = {
  L: 'Low',
  H: 'High',
  LL: 'Critical low',
  HH: 'Critical high',
  N: 'Normal',
  A: 'Abnormal',
  AA: 'Critical abnormal',
  '<': 'Off scale low',
  '>': 'Off scale high',
  I: 'Intermediate',
  R: 'Resistant',
  S: 'Susceptible',
  POS: 'Positive',
  NEG: 'Negative',
};

/** HL7 table 0119 order control -> MedicationRequest.status (ConceptMap OrderControlCode, medication subset). */
export const ORDER_CONTROL_STATUS: Readonly<Record<string, 'active' | 'on-hold' | 'cancelled' | 'completed' | 'stopped' | 'draft'>> = {
  NW: 'active',
  OK: 'active',
  SC: 'active',
  XO: 'active',
  XX: 'active',
  RE: 'completed',
  CA: 'cancelled',
  OC: 'cancelled',
  CR: 'cancelled',
  DC: 'stopped',
  OD: 'stopped',
  HD: 'on-hold',
  OH: 'on-hold',
  RL: 'active',
};

/** v2 coding-system names (HL7 table 0396) -> FHIR system URIs, per the IG's CWE and vocabulary guidance. */
export const CODE_SYSTEMS: Readonly<Record<string, string>> = {
  LN: 'http://loinc.org',
  LOINC: 'http://loinc.org',
  SCT: 'http://snomed.info/sct',
  SNM: 'http://snomed.info/sct',
  SNOMED: 'http://snomed.info/sct',
  SNOMEDCT: 'http://snomed.info/sct',
  UCUM: 'http://unitsofmeasure.org',
  CVX: 'http://hl7.org/fhir/sid/cvx',
  MVX: 'http://hl7.org/fhir/sid/mvx',
  NDC: 'http://hl7.org/fhir/sid/ndc',
  RXNORM: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  RXN: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  I9: 'http://hl7.org/fhir/sid/icd-9-cm',
  I9C: 'http://hl7.org/fhir/sid/icd-9-cm',
  I9CDX: 'http://hl7.org/fhir/sid/icd-9-cm',
  I10: 'http://hl7.org/fhir/sid/icd-10',
  I10C: 'http://hl7.org/fhir/sid/icd-10-cm',
  ICD10CM: 'http://hl7.org/fhir/sid/icd-10-cm',
  C4: 'http://www.ama-assn.org/go/cpt',
  CPT: 'http://www.ama-assn.org/go/cpt',
  NCIT: 'http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl',
  CDCREC: 'urn:oid:2.16.840.1.113883.6.238',
  NUCC: 'http://nucc.org/provider-taxonomy',
  NPI: 'http://hl7.org/fhir/sid/us-npi',
  ISO3166: 'urn:iso:std:iso:3166',
  ISO639: 'urn:ietf:bcp:47',
};
