import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isFhirfedError } from '../core/errors.js';
import { compileView, type CompiledView } from './view/index.js';
import { loadSchema, type FeatureSchema, type FeatureSpec } from './schema.js';
import { siteFileSchema, type FeatureMappingFile, type IndexDatePolicy } from './site-file.js';
import { problem, readSource, zodProblems, type PathSegment, type Problem, type SourceFile } from './source.js';
import { resolveInside } from './paths.js';
import { STAGE_ORDER, type AggregateFn, type RowFn, type Transformer } from './transformers/contract.js';
import { loadCustomTransformers } from './transformers/custom.js';
import { builtinRegistry, type TransformerRegistry } from './transformers/registry.js';

/**
 * Loads and type-checks one site's mappings: the schema, site.yaml, every ViewDefinition (all FHIRPath compiled) and
 * every transformer (name known, params valid, configuration accepted by `create`). All problems are collected, each
 * with file, line and field, before any data is seen.
 */

export interface LoadedView {
  readonly name: string;
  readonly file: string;
  readonly view: CompiledView;
}

export type ChainStep =
  | { readonly name: string; readonly stage: 'code' | 'value' | 'feature'; readonly fn: RowFn }
  | { readonly name: string; readonly stage: 'aggregate'; readonly fn: AggregateFn };

export interface LoadedFeatureMapping {
  readonly feature: FeatureSpec;
  readonly view: string;
  readonly codes?: readonly string[];
  readonly columns: FeatureMappingFile['columns'];
  readonly chain: readonly ChainStep[];
  /** `name@version` of each step, for provenance. */
  readonly chainNames: readonly string[];
}

export interface LoadedSiteMapping {
  readonly site: string;
  readonly dir: string;
  readonly file: string;
  readonly schema: FeatureSchema;
  readonly views: ReadonlyMap<string, LoadedView>;
  readonly features: readonly LoadedFeatureMapping[];
  readonly indexDate: IndexDatePolicy;
}

export interface LoadResult {
  readonly mapping?: LoadedSiteMapping;
  readonly problems: readonly Problem[];
  /** Not errors: schema features or labels this site does not map. */
  readonly warnings: readonly string[];
}

export interface LoadOptions {
  /** Starting registry; defaults to the built-ins. Custom transformers are added to a copy. */
  readonly registry?: TransformerRegistry;
}

export async function loadSiteMapping(root: string, site: string, options: LoadOptions = {}): Promise<LoadResult> {
  const show = (f: string) => relative(process.cwd(), f) || f;
  const schemaFile = join(root, 'schema.yaml');
  const { schema, problems: schemaProblems } = loadSchema(schemaFile, show(schemaFile));
  const siteDir = join(root, 'sites', site);
  const siteFile = join(siteDir, 'site.yaml');
  if (!existsSync(siteFile)) {
    return { problems: [...schemaProblems, { code: 'FHIRFED_ERR_NOT_FOUND', file: show(siteFile), message: `site \`${site}\` has no site.yaml` }], warnings: [] };
  }
  const { source, problems } = readSource(siteFile, show(siteFile));
  const all: Problem[] = [...schemaProblems, ...problems];
  if (!source || !schema) return { problems: all, warnings: [] };
  const parsed = siteFileSchema.safeParse(source.data);
  if (!parsed.success) return { problems: [...all, ...zodProblems(parsed.error, source)], warnings: [] };
  const file = parsed.data;
  if (file.site !== site) all.push(problem('FHIRFED_ERR_MAPPING_INVALID', source, ['site'], `site \`${file.site}\` does not match its folder name \`${site}\``));

  let registry = (options.registry ?? builtinRegistry()).clone();
  if (file.customTransformers) {
    try {
      const dir = resolveInside(root, relative(root, join(siteDir, file.customTransformers)), 'customTransformers folder');
      const r = await loadCustomTransformers(dir, registry);
      for (const p of r.problems) all.push({ code: 'FHIRFED_ERR_TRANSFORMER_UNKNOWN', file: show(p.file), message: p.message });
    } catch (e) {
      all.push(problem(isFhirfedError(e) ? e.code : 'FHIRFED_ERR_MAPPING_INVALID', source, ['customTransformers'], (e as Error).message));
      registry = registry.clone();
    }
  }

  const views = new Map<string, LoadedView>();
  for (const [name, rel] of Object.entries(file.views)) {
    const v = loadView(siteDir, name, rel, source, show);
    all.push(...v.problems);
    if (v.view) views.set(name, v.view);
  }

  const features: LoadedFeatureMapping[] = [];
  for (const [name, fm] of Object.entries(file.features)) {
    const spec = schema.features.get(name);
    if (!spec) {
      all.push(problem('FHIRFED_ERR_MAPPING_INVALID', source, ['features', name], `unknown schema feature \`${name}\` (the schema has: ${schema.names.join(', ')})`));
      continue;
    }
    const loaded = loadFeature(spec, fm, { source, views, registry, siteDir, site, declaredViews: file.views });
    all.push(...loaded.problems);
    if (loaded.mapping) features.push(loaded.mapping);
  }
  if (file.indexDate.policy === 'view') {
    const idx = file.indexDate;
    const base = ['indexDate'];
    if (!(idx.view in file.views)) all.push(problem('FHIRFED_ERR_MAPPING_INVALID', source, [...base, 'view'], `unknown view \`${idx.view}\``));
    else all.push(...checkColumns(views.get(idx.view), idx.columns, source, [...base, 'columns']));
  }

  const warnings: string[] = [];
  for (const f of schema.names) {
    if (!(f in file.features)) warnings.push(`${schema.features.get(f)?.label ? 'label' : 'feature'} \`${f}\` is not mapped (it will always be missing)`);
  }
  if (all.length > 0) return { problems: all, warnings };
  return {
    mapping: { site, dir: siteDir, file: siteFile, schema, views, features, indexDate: file.indexDate },
    problems: [],
    warnings,
  };
}

function loadView(siteDir: string, name: string, rel: string, site: SourceFile, show: (f: string) => string): { view?: LoadedView; problems: Problem[] } {
  let path: string;
  try {
    path = resolveInside(siteDir, rel, `view file for \`${name}\``);
  } catch (e) {
    return { problems: [problem('FHIRFED_ERR_MAPPING_INVALID', site, ['views', name], (e as Error).message)] };
  }
  const { source, problems } = readSource(path, show(path));
  if (!source) return { problems };
  try {
    return { view: { name, file: path, view: compileView(source.data, { source: show(path) }) }, problems: [] };
  } catch (e) {
    if (!isFhirfedError(e)) throw e;
    const where = e.where?.path;
    const segs = where ? parseJsonPath(where) : [];
    const details = e.details.length > 0 ? e.details : [{ message: e.message, path: where }];
    return {
      problems: details.map((d) => {
        const p = d.path ? parseJsonPath(d.path) : segs;
        return problem(e.code, source, p, d.message);
      }),
    };
  }
}

/** `select[0].column[2].path` -> ['select', 0, 'column', 2, 'path']. */
function parseJsonPath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}

function checkColumns(view: LoadedView | undefined, columns: Record<string, string | undefined>, source: SourceFile, base: PathSegment[]): Problem[] {
  if (!view) return [];
  const known = new Set(view.view.columns.map((c) => c.name));
  return Object.entries(columns)
    .filter((e): e is [string, string] => e[1] !== undefined && !known.has(e[1]))
    .map(([role, col]) =>
      problem('FHIRFED_ERR_MAPPING_INVALID', source, [...base, role], `view \`${view.name}\` has no column \`${col}\` (it has: ${[...known].join(', ')})`),
    );
}

interface FeatureCtx {
  readonly source: SourceFile;
  readonly views: ReadonlyMap<string, LoadedView>;
  readonly declaredViews: Readonly<Record<string, string>>;
  readonly registry: TransformerRegistry;
  readonly siteDir: string;
  readonly site: string;
}

function loadFeature(spec: FeatureSpec, fm: FeatureMappingFile, c: FeatureCtx): { mapping?: LoadedFeatureMapping; problems: Problem[] } {
  const base: PathSegment[] = ['features', spec.name];
  const problems: Problem[] = [];
  if (!(fm.view in c.declaredViews)) {
    problems.push(problem('FHIRFED_ERR_MAPPING_INVALID', c.source, [...base, 'view'], `unknown view \`${fm.view}\` (declared: ${Object.keys(c.declaredViews).join(', ')})`));
  } else problems.push(...checkColumns(c.views.get(fm.view), fm.columns, c.source, [...base, 'columns']));

  const chain: ChainStep[] = [];
  const chainNames: string[] = [];
  let lastStage = -1;
  fm.transformers.forEach((ref, i) => {
    const at: PathSegment[] = [...base, 'transformers', i];
    const name = typeof ref === 'string' ? ref : ref.name;
    const def: Transformer | undefined = c.registry.get(name);
    if (!def) {
      problems.push(problem('FHIRFED_ERR_TRANSFORMER_UNKNOWN', c.source, at, `unknown transformer \`${name}\` (known: ${c.registry.names().join(', ')})`));
      return;
    }
    const order = STAGE_ORDER[def.stage];
    if (order < lastStage || (def.stage === 'aggregate' && lastStage === STAGE_ORDER.aggregate)) {
      problems.push(problem('FHIRFED_ERR_MAPPING_INVALID', c.source, at, `\`${name}\` (${def.stage} stage) cannot come here: order is code, value, one aggregate, feature`));
    }
    lastStage = Math.max(lastStage, order);
    const parsed = def.params.safeParse(typeof ref === 'string' ? undefined : ref.params);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push(problem('FHIRFED_ERR_MAPPING_INVALID', c.source, [...at, 'params', ...(issue.path as PathSegment[])], `${name}: ${issue.message}`));
      }
      return;
    }
    try {
      const fn = def.create(parsed.data, { feature: spec, siteDir: c.siteDir, site: c.site });
      chain.push({ name, stage: def.stage, fn } as ChainStep);
      chainNames.push(`${name}@${def.version}`);
    } catch (e) {
      problems.push(problem(isFhirfedError(e) ? e.code : 'FHIRFED_ERR_MAPPING_INVALID', c.source, typeof ref === 'string' ? at : [...at, 'params'], `${name}: ${(e as Error).message}`));
    }
  });
  if (problems.length > 0) return { problems };
  return {
    mapping: { feature: spec, view: fm.view, ...(fm.codes ? { codes: fm.codes } : {}), columns: fm.columns, chain, chainNames },
    problems,
  };
}

/** Site ids under `<root>/sites` that have a site.yaml. */
export function listSites(root: string): string[] {
  const dir = join(root, 'sites');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'site.yaml')))
    .map((d) => d.name)
    .sort();
}
