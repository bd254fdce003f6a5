/**
 * The benchmark's input, built through the gateway's real path: the four UCI files (FLamby's protocol, src/bench/heart)
 * are rendered into FHIR (Cleveland, Hungary) and HL7 v2 ORU (Switzerland, VA), the HL7 messages go through the v2
 * converter, and everything is harmonized with mappings/heart. Only the harmonized feature rows are used from there
 * on; the source rows serve only to tell train from test by pseudonymous key, as a site's own split file would.
 */
import type { FeatureSchema } from '../../src/harmonize/schema.js';
import { harmonize, type FeatureRow } from '../../src/harmonize/harmonize.js';
import { loadSiteMapping } from '../../src/harmonize/mapping.js';
import {
  HEART_CENTERS,
  heartSiteResources,
  loadHeartDisease,
  renderHeartSite,
  splitsByRowKey,
  type HeartSiteId,
  type Split,
} from '../../src/bench/heart/index.js';
import { FhirfedError } from '../../src/core/errors.js';

/** Root of the heart federation's mappings, relative to the repository root. */
export const HEART_MAPPINGS = 'mappings/heart';
/** Pseudonym key of the benchmark sites: fixed, the keys never leave the process. */
const SITE_SECRET = 'fhirfed-bench-federated-heart-0001';

export interface HarmonizedSite {
  readonly site: HeartSiteId;
  readonly name: string;
  readonly format: 'fhir' | 'hl7v2';
  readonly schema: FeatureSchema;
  readonly train: readonly FeatureRow[];
  readonly test: readonly FeatureRow[];
  /** Source rows after the protocol (train + test): what harmonization must reproduce row for row. */
  readonly sourceRows: number;
}

export interface HarmonizeBenchOptions {
  readonly dir: string;
  /** Split seed of the loader. @defaultValue 43 (FLamby's random_state; FLamby keeps the split fixed) */
  readonly splitSeed?: number;
}

/** Loads, renders and harmonizes all four sites; refuses a site whose rows cannot be mapped back to a split. */
export async function harmonizeHeartSites(options: HarmonizeBenchOptions): Promise<HarmonizedSite[]> {
  const data = loadHeartDisease({ dir: options.dir, seed: options.splitSeed ?? 43 });
  const out: HarmonizedSite[] = [];
  for (const site of data.sites) {
    const rendered = renderHeartSite(site);
    const loaded = await loadSiteMapping(HEART_MAPPINGS, site.site);
    if (!loaded.mapping) {
      const first = loaded.problems[0];
      throw new FhirfedError('FHIRFED_ERR_MAPPING_INVALID', `mappings for ${site.site} do not load (${loaded.problems.length} problems)`, {
        where: { file: `${HEART_MAPPINGS}/sites/${site.site}` },
        hint: first ? `first problem: ${JSON.stringify(first)}` : 'run `fhirfed mappings validate mappings/heart`',
      });
    }
    const { rows } = await harmonize(heartSiteResources(rendered), loaded.mapping, { siteSecret: SITE_SECRET });
    const splits = splitsByRowKey(rendered, SITE_SECRET);
    const bySplit: Record<Split, FeatureRow[]> = { train: [], test: [] };
    for (const row of rows) {
      const s = splits.get(row.key);
      if (!s) {
        throw new FhirfedError('FHIRFED_ERR_INTERNAL', `harmonized row ${row.key.slice(0, 12)}… at ${site.site} maps to no source patient`, {
          hint: 'the renderer and the harmonizer disagree on patient ids; re-run test/bench/heart-render.test.ts',
        });
      }
      bySplit[s.split].push(row);
    }
    const center = HEART_CENTERS.find((c) => c.site === site.site);
    out.push({
      site: site.site,
      name: center?.name ?? site.site,
      format: rendered.format,
      schema: loaded.mapping.schema,
      train: bySplit.train,
      test: bySplit.test,
      sourceRows: site.rows.length,
    });
  }
  return out;
}
