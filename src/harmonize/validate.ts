import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { listSites, loadSiteMapping, type LoadedSiteMapping } from './mapping.js';
import { loadSchema } from './schema.js';
import type { Problem } from './source.js';
import type { TransformerRegistry } from './transformers/registry.js';

/** `fhirfed mappings validate`: the schema and every site under a mappings folder, all problems at once. */

export interface ValidationResult {
  readonly problems: readonly Problem[];
  readonly warnings: readonly string[];
  readonly sites: readonly LoadedSiteMapping[];
  /** One line per checked thing, for the success summary. */
  readonly summary: readonly string[];
}

export async function validateMappings(root: string, options: { registry?: TransformerRegistry } = {}): Promise<ValidationResult> {
  const schemaFile = join(root, 'schema.yaml');
  const show = relative(process.cwd(), schemaFile) || schemaFile;
  if (!existsSync(schemaFile)) {
    return { problems: [{ code: 'FHIRFED_ERR_NOT_FOUND', file: show, message: 'no schema.yaml in the mappings folder' }], warnings: [], sites: [], summary: [] };
  }
  const { schema, problems: schemaProblems } = loadSchema(schemaFile, show);
  const problems: Problem[] = [...schemaProblems];
  const warnings: string[] = [];
  const sites: LoadedSiteMapping[] = [];
  const summary: string[] = [];
  if (schema) summary.push(`schema ${show}: federation ${schema.federation}, ${schema.names.length} features (${schema.labels.length} labels: ${schema.labels.join(', ')})`);
  const ids = listSites(root);
  if (ids.length === 0) problems.push({ code: 'FHIRFED_ERR_MAPPING_INVALID', file: join(root, 'sites'), message: 'no site folder with a site.yaml' });
  for (const id of ids) {
    const r = await loadSiteMapping(root, id, options);
    // Schema problems are reported once, above, not once per site.
    problems.push(...r.problems.filter((p) => p.file !== show));
    warnings.push(...r.warnings.map((w) => `${id}: ${w}`));
    if (r.mapping) {
      sites.push(r.mapping);
      summary.push(`site ${id}: ${r.mapping.views.size} views, ${r.mapping.features.length} features mapped, index date ${r.mapping.indexDate.policy}`);
    }
  }
  return { problems, warnings, sites, summary };
}
