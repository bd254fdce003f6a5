import type { Patient, FhirResource } from 'fhir/r4.js';
import { convertToFhir, parseHl7 } from '../../ingest/hl7v2/index.js';
import { HOSPITAL_C } from './hl7-site.js';
import type { DemoSite } from './sites.js';

/**
 * A demo site's data as FHIR resources, the way its gateway ends up holding them: FHIR sites as generated, the HL7 site
 * through the gateway's own v2 -> FHIR converter (so ids are the converter's deterministic ones). Used for dry runs
 * (coverage per site before the federation starts) and by tests that compare harmonized rows with the ground truth.
 */
export function demoSiteResources(site: DemoSite): FhirResource[] {
  if (site.hl7Messages) {
    const out: FhirResource[] = [];
    for (const text of site.hl7Messages) {
      for (const e of convertToFhir(parseHl7(text)).entry ?? []) if (e.resource) out.push(e.resource as FhirResource);
    }
    return out;
  }
  return [...(site.resources ?? [])];
}

/**
 * Source patient id (PatientTruth.id) -> the harmonizer's patient key `Patient/<id>`, whose HMAC with the site
 * secret is the feature row's key. At the HL7 site the id is the converter's, found through the MRN in PID-3.
 */
export function patientKeys(site: DemoSite, resources: readonly FhirResource[] = demoSiteResources(site)): Map<string, string> {
  const keys = new Map<string, string>();
  for (const r of resources) {
    if (r.resourceType !== 'Patient' || !r.id) continue;
    if (!site.hl7Messages) {
      keys.set(r.id, `Patient/${r.id}`);
      continue;
    }
    const mrn = (r as Patient).identifier?.find((i) => i.system?.endsWith(`:${HOSPITAL_C.assigningAuthority}`))?.value;
    if (mrn) keys.set(mrn, `Patient/${r.id}`);
  }
  return keys;
}
