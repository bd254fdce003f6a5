import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DemoSite } from './sites.js';

/**
 * Writes a demo site to a folder in the form its transport delivers, so the same files feed `fhirfed mappings
 * dry-run`, `fhirfed ingest` and the demo's senders:
 * - mllp: `messages.hl7` (one message per line group, segments separated by CR, messages by CRLF);
 * - fhir-rest: `resources.ndjson` (what the site's FHIR server holds);
 * - bulk-ndjson: `<Type>.000.ndjson` (a Bulk Data export);
 * - always `truth.json` (ground truth; outside the data files so a dry run never reads it).
 */

export interface WrittenSite {
  /** Data files only (no truth.json), in the order to read them. */
  readonly dataFiles: readonly string[];
  readonly truthFile: string;
}

export async function writeDemoSite(site: DemoSite, dir: string): Promise<WrittenSite> {
  await mkdir(dir, { recursive: true });
  const dataFiles: string[] = [];
  const put = async (name: string, text: string) => {
    const file = join(dir, name);
    await writeFile(file, text, 'utf8');
    dataFiles.push(file);
  };
  if (site.transport === 'mllp') {
    await put('messages.hl7', `${(site.hl7Messages ?? []).join('\r\n')}\r\n`);
  } else if (site.transport === 'bulk-ndjson') {
    for (const [name, text] of Object.entries(site.ndjson ?? {})) await put(name, text);
  } else {
    await put('resources.ndjson', `${(site.resources ?? []).map((r) => JSON.stringify(r)).join('\n')}\n`);
  }
  const truthFile = join(dir, 'truth.json');
  await writeFile(truthFile, `${JSON.stringify({ site: site.id, transport: site.transport, patients: site.truth }, null, 1)}\n`, 'utf8');
  return { dataFiles, truthFile };
}
