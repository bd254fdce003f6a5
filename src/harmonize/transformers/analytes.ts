/**
 * Analyte facts the unit and plausibility transformers need, keyed by LOINC code. The product must work without
 * ../shared, so this is a small derived table, not a copy of the source data.
 *
 * Units: the plausible units are the OHDSI DataQualityDashboard's `plausibleUnitConceptIds` for the matching OMOP
 * measurement concept (OMOP_CDMv5.4_Concept_Level.csv, DQD @2f81ca9e, Apache-2.0), translated from OMOP unit concept
 * ids to UCUM by hand (8840 mg/dL, 8753 mmol/L, 8749 umol/L, 8554 %, 9579 mmol/mol, 720870 mL/min/{1.73_m2},
 * 8795 mL/min, 586323 Cel, 9289 [degF], 8876 mm[Hg], 9531 kg/m2), plus the SI unit where DQD lists only the US one.
 * Ranges: DQD gives value ranges only for a few concepts; serum creatinine (OMOP 37392176: 10-200 umol/L,
 * 0.1-5 mg/dL) is taken from it. The other ranges are fhirfed defaults marked `source: 'fhirfed'`: deliberately wide
 * physiological limits meant to catch unit and data-entry errors, not to flag abnormal results.
 * Molecular weights (g/mol) are the usual clinical-chemistry values for mass<->substance conversion.
 */

export interface AnalyteFacts {
  readonly name: string;
  /** OMOP measurement concept the DQD row belongs to. */
  readonly omopConceptId?: number;
  readonly plausibleUnits: readonly string[];
  /** Inclusive plausible range in `rangeUnit`. */
  readonly range?: { readonly low: number; readonly high: number; readonly unit: string; readonly source: 'omop-dqd' | 'fhirfed' };
  readonly molecularWeight?: number;
}

export const ANALYTES: Readonly<Record<string, AnalyteFacts>> = {
  '2339-0': { name: 'glucose (blood)', omopConceptId: 3000483, plausibleUnits: ['mg/dL', 'mmol/L'], molecularWeight: 180.156, range: { low: 0.5, high: 60, unit: 'mmol/L', source: 'fhirfed' } },
  '2345-7': { name: 'glucose (serum/plasma)', omopConceptId: 3004501, plausibleUnits: ['mg/dL', 'mmol/L'], molecularWeight: 180.156, range: { low: 0.5, high: 60, unit: 'mmol/L', source: 'fhirfed' } },
  '4548-4': { name: 'HbA1c', omopConceptId: 3004410, plausibleUnits: ['%', 'mmol/mol'], range: { low: 10, high: 200, unit: 'mmol/mol', source: 'fhirfed' } },
  '38483-4': { name: 'creatinine (blood)', omopConceptId: 3016723, plausibleUnits: ['mg/dL', 'umol/L'], molecularWeight: 113.12, range: { low: 10, high: 2000, unit: 'umol/L', source: 'fhirfed' } },
  '2160-0': { name: 'creatinine (serum/plasma)', omopConceptId: 37392176, plausibleUnits: ['mg/dL', 'umol/L', 'mg/L'], molecularWeight: 113.12, range: { low: 10, high: 200, unit: 'umol/L', source: 'omop-dqd' } },
  '33914-3': { name: 'eGFR (MDRD)', omopConceptId: 46236952, plausibleUnits: ['mL/min/{1.73_m2}', 'mL/min'], range: { low: 1, high: 200, unit: 'mL/min/{1.73_m2}', source: 'fhirfed' } },
  '62238-1': { name: 'eGFR (CKD-EPI)', omopConceptId: 40764999, plausibleUnits: ['mL/min/{1.73_m2}', 'mL/min'], range: { low: 1, high: 200, unit: 'mL/min/{1.73_m2}', source: 'fhirfed' } },
  '8480-6': { name: 'systolic blood pressure', omopConceptId: 3004249, plausibleUnits: ['mm[Hg]'], range: { low: 40, high: 300, unit: 'mm[Hg]', source: 'fhirfed' } },
  '39156-5': { name: 'body mass index', omopConceptId: 3038553, plausibleUnits: ['kg/m2'], range: { low: 8, high: 120, unit: 'kg/m2', source: 'fhirfed' } },
  '8310-5': { name: 'body temperature', omopConceptId: 3020891, plausibleUnits: ['Cel', '[degF]'], range: { low: 25, high: 45, unit: 'Cel', source: 'fhirfed' } },
  '8331-1': { name: 'oral temperature', plausibleUnits: ['Cel', '[degF]'], range: { low: 25, high: 45, unit: 'Cel', source: 'fhirfed' } },
  '29463-7': { name: 'body weight', omopConceptId: 3025315, plausibleUnits: ['kg', 'g', '[lb_av]'], range: { low: 0.3, high: 400, unit: 'kg', source: 'fhirfed' } },
  '2093-3': { name: 'total cholesterol', omopConceptId: 44809580, plausibleUnits: ['mg/dL', 'mmol/L'], molecularWeight: 386.65, range: { low: 1, high: 15, unit: 'mmol/L', source: 'omop-dqd' } },
};

export function analyte(loinc: string | undefined): AnalyteFacts | undefined {
  return loinc === undefined ? undefined : ANALYTES[loinc];
}
