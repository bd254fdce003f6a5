import type { FhirResource } from 'fhir/r4.js';
import { hospitalAStyle, hospitalBStyle, hospitalDStyle, renderFhirPatient, type FhirSiteStyle } from './fhir-sites.js';
import { renderHl7Patient } from './hl7-site.js';
import type { PopulationProfile } from './model.js';
import { drawRecord, type PatientTruth } from './record.js';
import { Rng } from './rng.js';

/**
 * The demo federation: four hospitals with their own populations (non-IID: age, BMI, HbA1c, kidney disease, insulin
 * use and outcome intercepts differ) and their own way of writing data down. `id` is the site's mapping folder under
 * mappings/sites/.
 */

export type Transport = 'mllp' | 'fhir-rest' | 'bulk-ndjson';

export interface DemoSite {
  /** Site id = folder mappings/sites/<id> holding its site.yaml. */
  readonly id: string;
  readonly name: string;
  readonly transport: Transport;
  /** What makes this site's data hard, in one line each (for the demo's console and report). */
  readonly quirks: readonly string[];
  /** transport 'mllp': HL7 v2 messages (segments separated by \r), in sending order. */
  readonly hl7Messages?: readonly string[];
  /** FHIR sites: every resource (Patient first, then its Observations, MedicationRequests, Conditions). */
  readonly resources?: readonly FhirResource[];
  /** transport 'bulk-ndjson': Bulk Data export files, `<Type>.000.ndjson` -> content. */
  readonly ndjson?: Readonly<Record<string, string>>;
  /** Ground truth per patient, for tests and the demo report; never sent anywhere. */
  readonly truth: readonly PatientTruth[];
}

interface SiteSpec {
  readonly id: string;
  readonly name: string;
  readonly transport: Transport;
  readonly quirks: readonly string[];
  /** Site size relative to `patientsPerSite`. */
  readonly sizeFactor: number;
  readonly population: PopulationProfile;
  readonly style?: FhirSiteStyle;
}

export const DEMO_SITES: readonly SiteSpec[] = [
  {
    id: 'demo-hospital-c',
    name: 'Riverside Clinic (HL7 v2 over MLLP)',
    transport: 'mllp',
    quirks: ['HL7 v2.5.1 ADT^A01, ORU^R01, RDE^O11', 'local lab/formulary codes (99LAB, 99RX) mapped by ConceptMap', 'US units (mg/dL, %)', 'eGFR as text `mL/min/1.73m2`, >90 as SN'],
    sizeFactor: 1,
    population: { ageMean: 55, femaleShare: 0.4, bmiMean: 34, hba1cPercentMean: 8.8, ckdShare: 0.1, insulinShare: 0.25, responseIntercept: 0.3, adverseIntercept: -1.7 },
  },
  {
    id: 'hospital-b',
    name: 'Hospital B (FHIR REST)',
    transport: 'fhir-rest',
    quirks: ['LOINC + UCUM SI units (mmol/L, mmol/mol, umol/L)', 'ATC-coded prescriptions', 'refuted conditions to ignore'],
    sizeFactor: 1.25,
    population: { ageMean: 63, femaleShare: 0.5, bmiMean: 29.5, hba1cPercentMean: 7.6, ckdShare: 0.2, insulinShare: 0.1, responseIntercept: 0, adverseIntercept: -2.9 },
    style: hospitalBStyle,
  },
  {
    id: 'hospital-a',
    name: 'Hospital A (Bulk NDJSON export)',
    transport: 'bulk-ndjson',
    quirks: ['local codes mapped by ConceptMap', 'US units mixed with SI', 'non-UCUM spellings (mmHg, F, mL/min/1.73m2)', 'eGFR sometimes without the /1.73 m2 annotation'],
    sizeFactor: 1,
    population: { ageMean: 58, femaleShare: 0.45, bmiMean: 33, hba1cPercentMean: 8.3, ckdShare: 0.15, insulinShare: 0.15, responseIntercept: 0, adverseIntercept: -1.9 },
    style: hospitalAStyle,
  },
  {
    id: 'demo-hospital-d',
    name: 'Valley Community Hospital (low data quality)',
    transport: 'fhir-rest',
    quirks: ['~35% of measurements missing', '~10% wrong unit labels or typos (quarantined)', 'missing birth dates, unknown gender', 'follow-up HbA1c often missing'],
    sizeFactor: 0.6,
    population: { ageMean: 67, femaleShare: 0.55, bmiMean: 31, hba1cPercentMean: 8.0, ckdShare: 0.35, insulinShare: 0.2, responseIntercept: 0.2, adverseIntercept: -2.1 },
    style: hospitalDStyle,
  },
];

export interface FederationOptions {
  readonly seed: number;
  /** Base size; each site has round(patientsPerSite x its size factor) patients. @defaultValue 400 */
  readonly patientsPerSite?: number;
}

/** Four hospitals' worth of data, a pure function of the seed (about 0.2 s for 4 x 400 patients). */
export function generateFederation(options: FederationOptions): DemoSite[] {
  const base = options.patientsPerSite ?? 400;
  if (!Number.isInteger(base) || base < 1) throw new RangeError(`patientsPerSite must be a positive integer, got ${base}`);
  const root = new Rng(options.seed);
  return DEMO_SITES.map((spec, i) => generateSite(spec, Math.max(1, Math.round(base * spec.sizeFactor)), root.fork(i)));
}

function generateSite(spec: SiteSpec, size: number, rng: Rng): DemoSite {
  const truth: PatientTruth[] = [];
  const common = { id: spec.id, name: spec.name, transport: spec.transport, quirks: spec.quirks };
  if (!spec.style) {
    const messages: string[] = [];
    for (let n = 0; n < size; n++) {
      const record = drawRecord(rng, spec.id, `C${String(n + 1).padStart(6, '0')}`, spec.population);
      const r = renderHl7Patient(record, n, rng);
      messages.push(...r.messages);
      truth.push(r.truth);
    }
    return { ...common, hl7Messages: messages, truth };
  }
  const resources: FhirResource[] = [];
  for (let n = 0; n < size; n++) {
    const record = drawRecord(rng, spec.id, `${spec.style.idPrefix}-${String(n + 1).padStart(6, '0')}`, spec.population);
    const r = renderFhirPatient(spec.style, record, n, rng);
    resources.push(...r.resources);
    truth.push(r.truth);
  }
  return { ...common, resources, ...(spec.transport === 'bulk-ndjson' ? { ndjson: toNdjson(resources) } : {}), truth };
}

/** Bulk Data export layout: one file per resource type, one resource per line. */
export function toNdjson(resources: readonly FhirResource[]): Record<string, string> {
  const byType = new Map<string, string[]>();
  for (const r of resources) {
    const lines = byType.get(r.resourceType) ?? [];
    lines.push(JSON.stringify(r));
    byType.set(r.resourceType, lines);
  }
  return Object.fromEntries([...byType.entries()].map(([type, lines]) => [`${type}.000.ndjson`, `${lines.join('\n')}\n`]));
}
