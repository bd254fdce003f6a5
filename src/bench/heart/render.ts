import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Patient, FhirResource } from 'fhir/r4.js';
import { convertToFhir, parseHl7 } from '../../ingest/hl7v2/index.js';
import { pseudonym } from '../../harmonize/pseudonym.js';
import type { HeartDataset, HeartRow, HeartSite, HeartSiteId, Split } from './load.js';
import { heartPatientId, renderHeartFhir } from './render-fhir.js';
import { heartMrn, renderHeartHl7 } from './render-hl7.js';

/**
 * The heart-disease benchmark's inputs in the gateway's real formats: Cleveland and Hungary as FHIR resources,
 * Switzerland and VA as HL7 v2 messages. Each rendered site knows, per source row, the harmonizer's patient key
 * (`Patient/<id>`; at HL7 sites the id the v2 converter derives from PID-3), so the benchmark can tell train from
 * test rows after harmonization by their pseudonymous keys.
 */

export const HEART_FORMAT: Readonly<Record<HeartSiteId, 'fhir' | 'hl7v2'>> = {
  'heart-cleveland': 'fhir',
  'heart-hungary': 'fhir',
  'heart-switzerland': 'hl7v2',
  'heart-va': 'hl7v2',
};

export interface RenderedHeartSite {
  readonly site: HeartSiteId;
  readonly format: 'fhir' | 'hl7v2';
  /** FHIR sites: the resources. */
  readonly resources?: readonly FhirResource[];
  /** HL7 sites: the messages (segments separated by \r) in sending order. */
  readonly hl7Messages?: readonly string[];
  /** Source row -> harmonizer patient key and split. */
  readonly patients: readonly { readonly row: HeartRow; readonly patientKey: string; readonly split: Split }[];
}

export function renderHeartSite(site: HeartSite): RenderedHeartSite {
  const format = HEART_FORMAT[site.site];
  if (format === 'fhir') {
    const resources = renderHeartFhir(site);
    return { site: site.site, format, resources, patients: site.rows.map((row) => ({ row, patientKey: `Patient/${heartPatientId(row)}`, split: row.split })) };
  }
  const hl7Messages = renderHeartHl7(site);
  // The converter is deterministic: converting each patient's first message gives the Patient id the gateway will use.
  const ids = new Map<string, string>();
  for (const text of hl7Messages) {
    if (!text.includes('ADT^A01')) continue;
    for (const e of convertToFhir(parseHl7(text)).entry ?? []) {
      const p = e.resource as Patient;
      if (p.resourceType === 'Patient' && p.id) ids.set(p.identifier?.[0]?.value ?? '', p.id);
    }
  }
  return {
    site: site.site,
    format,
    hl7Messages,
    patients: site.rows.map((row) => ({ row, patientKey: `Patient/${ids.get(heartMrn(row)) ?? '?'}`, split: row.split })),
  };
}

export function renderHeartDataset(data: HeartDataset): RenderedHeartSite[] {
  return data.sites.map(renderHeartSite);
}

/** Feature-row key (HMAC pseudonym with the site secret) -> split and source row, for one rendered site. */
export function splitsByRowKey(site: RenderedHeartSite, siteSecret: string): Map<string, { split: Split; row: HeartRow }> {
  return new Map(site.patients.map((p) => [pseudonym(p.patientKey, siteSecret), { split: p.split, row: p.row }]));
}

/** All of a rendered site as FHIR resources (HL7 through the gateway's converter): what harmonize() reads. */
export function heartSiteResources(site: RenderedHeartSite): FhirResource[] {
  if (site.resources) return [...site.resources];
  return (site.hl7Messages ?? []).flatMap((text) => (convertToFhir(parseHl7(text)).entry ?? []).flatMap((e) => (e.resource ? [e.resource as FhirResource] : [])));
}

/** Files as a gateway would receive them: `messages.hl7` or `resources.ndjson`, plus `splits.json` (key -> split). */
export async function writeRenderedHeartSite(site: RenderedHeartSite, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const data = site.format === 'hl7v2' ? join(dir, 'messages.hl7') : join(dir, 'resources.ndjson');
  const text = site.format === 'hl7v2' ? `${(site.hl7Messages ?? []).join('\r\n')}\r\n` : `${(site.resources ?? []).map((r) => JSON.stringify(r)).join('\n')}\n`;
  await writeFile(data, text, 'utf8');
  const splits = Object.fromEntries(site.patients.map((p) => [p.patientKey, { key: p.row.key, split: p.split }]));
  await writeFile(join(dir, 'splits.json'), `${JSON.stringify(splits, null, 1)}\n`, 'utf8');
  return [data];
}
