/**
 * The mapping workbench's logic (rendering is in workbench-page.ts): a pasted HL7v2 message or FHIR JSON becomes
 * FHIR resources (v2 through the gateway's own converter), then feature rows through this site's mapping files,
 * read fresh from disk on every run so an engineer can edit a mapping and retry without a restart. Also the
 * `mappings validate` check and the dry-run coverage report over the ledger, as data for tables.
 */
import { randomBytes } from 'node:crypto';
import type { Resource } from 'fhir/r4.js';
import { FhirfedError, formatLocation, isFhirfedError } from '../core/errors.js';
import { harmonize, type FeatureRow } from '../harmonize/harmonize.js';
import { loadSiteMapping, type LoadedSiteMapping } from '../harmonize/mapping.js';
import type { CoverageReport } from '../harmonize/report.js';
import type { Problem } from '../harmonize/source.js';
import { convertToFhir, parseHl7Batch } from '../ingest/hl7v2/index.js';
import { readResources, type Ledger } from '../ingest/ledger/index.js';
import { unbundle, validateResource } from '../ingest/pipeline.js';

/** Resources one workbench run accepts: a pasted message, not a data set. */
export const MAX_WORKBENCH_RESOURCES = 2000;
/** Resources the coverage dry-run reads from the ledger at most. @defaultValue 50,000 */
export const DEFAULT_COVERAGE_LIMIT = 50_000;

export interface WorkbenchProblem {
  readonly code: string;
  readonly message: string;
  readonly where?: string;
  readonly hint?: string;
}

export interface WorkbenchResult {
  readonly kind: 'hl7v2' | 'fhir';
  /** What the input became: the converted Bundle for v2, the parsed JSON for FHIR. */
  readonly fhir: unknown;
  readonly resourceTypes: Readonly<Record<string, number>>;
  readonly rows: readonly FeatureRow[];
  readonly report: CoverageReport;
  readonly mapping: LoadedSiteMapping;
  readonly warnings: readonly string[];
}

export type WorkbenchOutcome =
  | { readonly ok: true; readonly result: WorkbenchResult }
  | { readonly ok: false; readonly stage: 'input' | 'mapping'; readonly problems: readonly WorkbenchProblem[] };

export function problemOf(e: unknown): WorkbenchProblem {
  if (isFhirfedError(e)) {
    const where = formatLocation(e.where);
    return { code: e.code, message: e.message, ...(where ? { where } : {}), ...(e.hint ? { hint: e.hint } : {}) };
  }
  return { code: 'FHIRFED_ERR_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

const fromMappingProblem = (p: Problem): WorkbenchProblem => ({
  code: p.code,
  message: p.message,
  where: `${p.file}${p.line !== undefined ? `:${p.line}` : ''}${p.path ? ` (${p.path})` : ''}`,
});

/** What the text looks like: v2 starts with MSH/FHS/BHS (after a BOM or MLLP start byte), JSON with { or [. */
/** Drops a BOM and MLLP start bytes (0x0B) that files saved from a socket sometimes keep. */
function stripLead(text: string): string {
  let i = 0;
  while (i < text.length && (text.charCodeAt(i) === 0xfeff || text.charCodeAt(i) === 0x0b)) i++;
  return text.slice(i);
}

export function sniffInput(text: string): 'hl7v2' | 'fhir' | undefined {
  const t = stripLead(text.trimStart());
  if (/^(MSH|FHS|BHS)/.test(t)) return 'hl7v2';
  if (t.startsWith('{') || t.startsWith('[')) return 'fhir';
  return undefined;
}

function parseJsonInput(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
    if (lines.length > 1 && lines.every((l) => l.trim().startsWith('{'))) {
      return lines.map((l, i) => {
        try {
          return JSON.parse(l) as unknown;
        } catch (err) {
          throw new FhirfedError('FHIRFED_ERR_FHIR_INVALID', `NDJSON line ${i + 1} is not valid JSON: ${(err as Error).message}`, { where: { line: i + 1 }, hint: 'one JSON resource per line' });
        }
      });
    }
    throw new FhirfedError('FHIRFED_ERR_FHIR_INVALID', `the input is not valid JSON: ${(e as Error).message}`, {
      hint: 'paste one FHIR resource, a Bundle, a JSON array of resources or NDJSON',
    });
  }
}

/** Input text -> FHIR resources, or the first problem (what, where, how to fix). */
export function toResources(text: string): { kind: 'hl7v2' | 'fhir'; fhir: unknown; resources: Resource[] } {
  const kind = sniffInput(text);
  if (!kind) {
    throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', 'the input is neither an HL7v2 message nor FHIR JSON', {
      hint: 'an HL7v2 message starts with MSH|^~\\&|; FHIR JSON starts with { or [',
    });
  }
  if (kind === 'hl7v2') {
    // Browsers submit textarea line breaks as CRLF; v2 segments end with CR.
    const { messages } = parseHl7Batch(stripLead(text.trimStart()).trim());
    const bundles = messages.map((m) => convertToFhir(m));
    const resources = bundles.flatMap((b) => (b.entry ?? []).flatMap((e) => (e.resource ? [e.resource as Resource] : [])));
    return { kind, fhir: bundles.length === 1 ? bundles[0] : bundles, resources };
  }
  const json = parseJsonInput(text);
  const items = Array.isArray(json) ? json : [json];
  const resources: Resource[] = [];
  items.forEach((item, i) => {
    for (const r of unbundle(item)) resources.push(validateResource(r, Array.isArray(json) ? `item ${i + 1}` : undefined));
  });
  return { kind, fhir: json, resources };
}

export async function loadMapping(mappingsDir: string, site: string): Promise<{ mapping?: LoadedSiteMapping; problems: readonly Problem[]; warnings: readonly string[] }> {
  const r = await loadSiteMapping(mappingsDir, site);
  return { ...(r.mapping ? { mapping: r.mapping } : {}), problems: r.problems, warnings: r.warnings };
}

export interface WorkbenchDeps {
  readonly site: string;
  readonly mappingsDir: string;
  /** The runtime's site secret, so pseudonyms match the feature store's (shown truncated). */
  readonly siteSecret: string;
}

export async function runWorkbench(text: string, deps: WorkbenchDeps): Promise<WorkbenchOutcome> {
  let input: ReturnType<typeof toResources>;
  try {
    input = toResources(text);
  } catch (e) {
    return { ok: false, stage: 'input', problems: [problemOf(e)] };
  }
  if (input.resources.length > MAX_WORKBENCH_RESOURCES) {
    return {
      ok: false,
      stage: 'input',
      problems: [{ code: 'FHIRFED_ERR_PAYLOAD_TOO_LARGE', message: `the input has ${input.resources.length} resources; the workbench takes up to ${MAX_WORKBENCH_RESOURCES}`, hint: 'use `fhirfed mappings dry-run` for data sets' }],
    };
  }
  const loaded = await loadMapping(deps.mappingsDir, deps.site);
  if (!loaded.mapping) return { ok: false, stage: 'mapping', problems: loaded.problems.map(fromMappingProblem) };
  const { rows, report } = await harmonize(input.resources, loaded.mapping, { siteSecret: deps.siteSecret });
  const resourceTypes: Record<string, number> = {};
  for (const r of input.resources) resourceTypes[r.resourceType] = (resourceTypes[r.resourceType] ?? 0) + 1;
  return { ok: true, result: { kind: input.kind, fhir: input.fhir, resourceTypes, rows, report, mapping: loaded.mapping, warnings: loaded.warnings } };
}

export interface ValidateOutcome {
  readonly problems: readonly WorkbenchProblem[];
  readonly warnings: readonly string[];
  readonly summary: readonly string[];
}

/** `fhirfed mappings validate`, for this site's files (and the shared schema). */
export async function validateSite(mappingsDir: string, site: string): Promise<ValidateOutcome> {
  const r = await loadMapping(mappingsDir, site);
  const m = r.mapping;
  const summary = m
    ? [
        `schema: federation ${m.schema.federation}, ${m.schema.names.length} features (${m.schema.labels.length} labels)`,
        `site ${site}: ${m.views.size} views, ${m.features.length} features mapped, index date policy ${m.indexDate.policy}`,
      ]
    : [];
  return { problems: r.problems.map(fromMappingProblem), warnings: r.warnings, summary };
}

async function* firstN<T>(source: AsyncIterable<T>, n: number, seen: { count: number; truncated: boolean }): AsyncGenerator<T> {
  for await (const item of source) {
    if (seen.count >= n) {
      seen.truncated = true;
      return;
    }
    seen.count++;
    yield item;
  }
}

/**
 * The dry-run coverage report over the ledger's resources (no rows are stored). Keys never appear in a report, so
 * an ephemeral secret is used. Reads at most `limit` resources so the page returns in bounded time.
 */
export async function ledgerCoverage(ledger: Ledger, deps: Omit<WorkbenchDeps, 'siteSecret'>, limit = DEFAULT_COVERAGE_LIMIT) {
  const loaded = await loadMapping(deps.mappingsDir, deps.site);
  if (!loaded.mapping) return { ok: false as const, problems: loaded.problems.map(fromMappingProblem) };
  const seen = { count: 0, truncated: false };
  const { report } = await harmonize(firstN(readResources(ledger), limit, seen), loaded.mapping, { siteSecret: randomBytes(32).toString('hex') });
  return { ok: true as const, report, warnings: loaded.warnings, truncated: seen.truncated, limit };
}
