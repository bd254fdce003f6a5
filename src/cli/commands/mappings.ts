import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { ERROR_CODES } from '../../core/errors.js';
import { harmonize } from '../../harmonize/harmonize.js';
import { loadSiteMapping } from '../../harmonize/mapping.js';
import { readResources } from '../../harmonize/read-resources.js';
import { formatReport } from '../../harmonize/report.js';
import { formatProblem, problemsError } from '../../harmonize/source.js';
import { validateMappings } from '../../harmonize/validate.js';
import { action } from '../run.js';

/** `fhirfed mappings ...`: validate and dry-run per-site mapping files. */
export function register(program: Command): void {
  const m = program.command('mappings').description('validate and dry-run the harmonization mapping files');
  m.command('validate')
    .description('parse and type-check every mapping file and FHIRPath expression')
    .argument('[dir]', 'mappings directory', 'mappings')
    .action(
      action(async (dir: string) => {
        const r = await validateMappings(dir);
        for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
        if (r.problems.length > 0) {
          // One line per problem, `file:line field: reason`, so editors and CI can jump to each.
          for (const p of r.problems) process.stderr.write(`${formatProblem(p)}\n`);
          process.stderr.write(`${r.problems.length} problem(s) in ${dir}\n`);
          process.exitCode = ERROR_CODES.FHIRFED_ERR_MAPPING_INVALID.exitCode;
          return;
        }
        process.stdout.write(`${[...r.summary, `mappings in ${dir} are valid`].join('\n')}\n`);
      }),
    );
  m.command('dry-run')
    .description("run a site's mappings over FHIR files and print a coverage report")
    .requiredOption('--site <site>', 'site id (folder under <mappings>/sites)')
    .option('--mappings <dir>', 'mappings directory', 'mappings')
    .option('--json', 'print the report as JSON')
    .argument('<files...>', 'FHIR NDJSON, Bundle or resource files, or folders of them')
    .action(
      action(async (files: string[], opts: { site: string; mappings: string; json?: boolean }) => {
        const loaded = await loadSiteMapping(opts.mappings, opts.site);
        if (!loaded.mapping) throw problemsError(loaded.problems, `the mappings for site ${opts.site}`);
        // Keys never appear in the report, so an ephemeral secret is fine unless the operator wants stable ones.
        const siteSecret = process.env.FHIRFED_SITE_SECRET ?? randomBytes(32).toString('hex');
        const { report } = await harmonize(readResources(files), loaded.mapping, { siteSecret });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ...report, warnings: loaded.warnings }, null, 2)}\n`);
          return;
        }
        for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
        process.stdout.write(`${formatReport(report)}\n`);
      }),
    );
}
