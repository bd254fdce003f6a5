import type { LoadedFeatureMapping, LoadedSiteMapping } from './mapping.js';
import { checkSiteSecret, patientKey, pseudonym } from './pseudonym.js';
import type { CoverageReport } from './report.js';
import { isQuarantine, isSkip, type Cell, type Quarantine, type RowContext, type Scalar } from './transformers/contract.js';
import { aggregateCells } from './transformers/aggregate.js';
import { buildReport, CoverageCounter } from './coverage.js';
import { finalCheck } from './final-check.js';

/**
 * Resources -> one feature row per patient. Views are evaluated per resource; each source value becomes a Cell, goes
 * through the feature's code-stage transformers and `codes` filter and is buffered per patient (the index date is
 * only known once all of a patient's records are seen). Then per patient: value stage, aggregation (default:
 * latest), feature stage, and a final type/unit check against the schema. A value that fails becomes missing with a
 * recorded reason; the row survives.
 */

export type FeatureValue = number | string | boolean | null;

export interface FeatureRow {
  /** Pseudonym: hex HMAC-SHA-256 of the source patient key with the site secret. */
  readonly key: string;
  readonly site: string;
  readonly values: Readonly<Record<string, FeatureValue>>;
  readonly quarantined: readonly { feature: string; reason: string; code: string }[];
  readonly provenance: Readonly<Record<string, { resourceKey: string; column: string; chain: readonly string[] }>>;
}

export interface HarmonizeOptions {
  readonly siteSecret: string;
}

export interface HarmonizeResult {
  readonly rows: FeatureRow[];
  readonly report: CoverageReport;
}

type Buffer = Map<string, Map<string, Cell[]>>; // patient -> feature -> cells

export async function harmonize(
  resources: AsyncIterable<unknown> | Iterable<unknown>,
  mapping: LoadedSiteMapping,
  opts: HarmonizeOptions,
): Promise<HarmonizeResult> {
  checkSiteSecret(opts.siteSecret);
  const counter = new CoverageCounter(mapping);
  const buffer: Buffer = new Map();
  const indexRows = new Map<string, number[]>(); // patient -> candidate index times (view policy)
  const byView = new Map<string, LoadedFeatureMapping[]>();
  for (const f of mapping.features) byView.set(f.view, [...(byView.get(f.view) ?? []), f]);
  const idx = mapping.indexDate;

  for await (const resource of resources as AsyncIterable<unknown>) {
    counter.resources++;
    if (typeof resource !== 'object' || resource === null) continue;
    const r = resource as { resourceType?: unknown; id?: unknown };
    const type = typeof r.resourceType === 'string' ? r.resourceType : '?';
    const resourceKey = `${type}/${typeof r.id === 'string' ? r.id : '?'}`;
    let read = false;
    for (const [name, lv] of mapping.views) {
      if (lv.view.resource !== type) continue;
      read = true;
      const rows = lv.view.evaluate(resource);
      if (idx.policy === 'view' && idx.view === name) collectIndexRows(rows, idx, indexRows);
      for (const row of rows) ingestRow(row, name, resourceKey, byView.get(name) ?? [], buffer, counter);
    }
    if (!read) counter.unused(type);
  }

  const rows: FeatureRow[] = [];
  const patients = [...buffer.keys()].sort();
  for (const patient of patients) {
    const cellsByFeature = buffer.get(patient) as Map<string, Cell[]>;
    const indexDate = indexDateFor(patient, mapping, cellsByFeature, indexRows);
    const ctx: RowContext = { patientKey: patient, ...(indexDate ? { indexDate } : {}) };
    rows.push(buildRow(patient, ctx, cellsByFeature, mapping, opts.siteSecret, counter));
  }
  return { rows, report: buildReport(counter, rows) };
}

function ingestRow(
  row: Record<string, unknown>,
  view: string,
  resourceKey: string,
  features: readonly LoadedFeatureMapping[],
  buffer: Buffer,
  counter: CoverageCounter,
): void {
  let accepted = false;
  let firstCode: string | undefined;
  let sawPatient = false;
  for (const f of features) {
    const patient = patientKey(row[f.columns.patient]);
    if (!patient) continue;
    sawPatient = true;
    let cell: Cell = toCell(row, f, resourceKey, view);
    firstCode ??= cell.codes?.[0];
    let skipped = false;
    for (const step of f.chain) {
      if (step.stage !== 'code') break;
      const out = step.fn(cell, { patientKey: patient });
      if (isSkip(out)) {
        firstCode = out.sourceCode ?? firstCode;
        skipped = true;
        break;
      }
      if (isQuarantine(out)) {
        counter.quarantine(f.feature.name, out.code);
        skipped = true;
        break;
      }
      cell = out;
    }
    if (skipped || !codeMatches(cell.codes, f.codes)) continue;
    accepted = true;
    counter.source(f.feature.name, row[f.columns.unit ?? ''] as string | undefined);
    let perPatient = buffer.get(patient);
    if (!perPatient) buffer.set(patient, (perPatient = new Map()));
    const list = perPatient.get(f.feature.name);
    if (list) list.push(cell);
    else perPatient.set(f.feature.name, [cell]);
  }
  if (!sawPatient && features.length > 0) counter.rowsWithoutPatient++;
  if (!accepted && sawPatient && features.some((f) => f.columns.code !== undefined)) counter.unmapped(view, firstCode ?? '(no code)');
  // A patient seen only through rows that matched no feature still gets a row (all missing): it exists in the data.
  if (!accepted && sawPatient) {
    const patient = patientKey(row[(features[0] as LoadedFeatureMapping).columns.patient]) as string;
    if (!buffer.has(patient)) buffer.set(patient, new Map());
  }
}

function str(v: unknown): string | undefined {
  const x = Array.isArray(v) ? v[0] : v;
  return typeof x === 'string' ? x : typeof x === 'number' ? String(x) : undefined;
}

function toCell(row: Record<string, unknown>, f: LoadedFeatureMapping, resourceKey: string, view: string): Cell {
  const raw = row[f.columns.value];
  const value: Scalar = Array.isArray(raw) ? ((raw[0] as Scalar | undefined) ?? null) : ((raw as Scalar | undefined) ?? null);
  const unit = f.columns.unit ? str(row[f.columns.unit]) : undefined;
  const date = f.columns.date ? str(row[f.columns.date]) : undefined;
  const codeVal = f.columns.code ? row[f.columns.code] : undefined;
  const codes = codeVal === undefined || codeVal === null ? undefined : (Array.isArray(codeVal) ? codeVal : [codeVal]).map(String);
  return {
    value: typeof value === 'object' ? null : value,
    resourceKey,
    column: `${view}.${f.columns.value}`,
    ...(unit !== undefined ? { unit } : {}),
    ...(date !== undefined ? { date } : {}),
    ...(codes ? { codes } : {}),
  };
}

/** `system|code` entries match exactly; a bare `code` matches that code in any system. */
export function codeMatches(codes: readonly string[] | undefined, wanted: readonly string[] | undefined): boolean {
  if (!wanted) return true;
  if (!codes) return false;
  return codes.some((c) => wanted.includes(c) || wanted.includes(c.slice(c.lastIndexOf('|') + 1)));
}

function collectIndexRows(rows: Record<string, unknown>[], idx: Extract<LoadedSiteMapping['indexDate'], { policy: 'view' }>, out: Map<string, number[]>): void {
  for (const row of rows) {
    const patient = patientKey(row[idx.columns.patient]);
    const date = str(row[idx.columns.date]);
    if (!patient || !date) continue;
    if (idx.codes) {
      const code = idx.columns.code ? row[idx.columns.code] : undefined;
      const codes = code === undefined || code === null ? undefined : (Array.isArray(code) ? code : [code]).map(String);
      if (!codeMatches(codes, idx.codes)) continue;
    }
    const t = Date.parse(date);
    if (!Number.isNaN(t)) out.set(patient, [...(out.get(patient) ?? []), t]);
  }
}

function indexDateFor(patient: string, mapping: LoadedSiteMapping, cells: Map<string, Cell[]>, indexRows: Map<string, number[]>): Date | undefined {
  const idx = mapping.indexDate;
  if (idx.policy === 'fixed') return new Date(`${idx.date}T00:00:00Z`);
  if (idx.policy === 'view') {
    const times = indexRows.get(patient);
    if (!times || times.length === 0) return undefined;
    return new Date(idx.pick === 'earliest' ? Math.min(...times) : Math.max(...times));
  }
  // latest-record: the most recent dated predictor value; labels are excluded so outcomes do not move the index.
  let latest = -Infinity;
  for (const f of mapping.features) {
    if (f.feature.label) continue;
    for (const c of cells.get(f.feature.name) ?? []) {
      const t = c.date ? Date.parse(c.date) : NaN;
      if (!Number.isNaN(t) && t > latest) latest = t;
    }
  }
  return latest === -Infinity ? undefined : new Date(latest);
}

function buildRow(
  patient: string,
  ctx: RowContext,
  cellsByFeature: Map<string, Cell[]>,
  mapping: LoadedSiteMapping,
  secret: string,
  counter: CoverageCounter,
): FeatureRow {
  const values: Record<string, FeatureValue> = {};
  const quarantined: { feature: string; reason: string; code: string }[] = [];
  const provenance: Record<string, { resourceKey: string; column: string; chain: readonly string[] }> = {};
  for (const name of mapping.schema.names) values[name] = null;
  for (const f of mapping.features) {
    const name = f.feature.name;
    const q = (x: Quarantine) => {
      quarantined.push({ feature: name, reason: x.reason, code: x.code });
      counter.quarantine(name, x.code);
    };
    const result = runChain(f, cellsByFeature.get(name) ?? [], ctx, q);
    if (result === undefined) {
      const policy = f.feature.missing;
      if (typeof policy === 'object') values[name] = policy.constant;
      continue;
    }
    if (result === null) continue;
    const checked = finalCheck(result, f.feature);
    if (isQuarantine(checked)) {
      q(checked);
      continue;
    }
    values[name] = checked.value;
    for (const [k, v] of Object.entries(checked.expand ?? {})) values[`${name}=${k}`] = v;
    provenance[name] = { resourceKey: checked.resourceKey, column: checked.column, chain: f.chainNames };
  }
  return { key: pseudonym(patient, secret), site: mapping.site, values, quarantined, provenance };
}

/** undefined: no source value at all (missing policy applies); null: values existed but none survived. */
function runChain(f: LoadedFeatureMapping, cells: readonly Cell[], ctx: RowContext, q: (x: Quarantine) => void): Cell | null | undefined {
  if (cells.length === 0) return undefined;
  let current: Cell[] = [];
  for (const start of cells) {
    let cell: Cell | null = start;
    for (const step of f.chain) {
      if (step.stage !== 'value') continue;
      const out = step.fn(cell, ctx);
      if (isSkip(out)) {
        cell = null;
        break;
      }
      if (isQuarantine(out)) {
        q(out);
        cell = null;
        break;
      }
      cell = out;
    }
    if (cell) current.push(cell);
  }
  if (current.length === 0) return null;
  const agg = f.chain.find((s) => s.stage === 'aggregate');
  let one: Cell | null;
  if (agg && agg.stage === 'aggregate') {
    const out = agg.fn(current, ctx);
    if (out && isQuarantine(out)) {
      q(out);
      return null;
    }
    one = out;
  } else one = aggregateCells('latest', current);
  current = [];
  if (!one) return null;
  for (const step of f.chain) {
    if (step.stage !== 'feature') continue;
    const out = step.fn(one, ctx);
    if (isSkip(out)) return null;
    if (isQuarantine(out)) {
      q(out);
      return null;
    }
    one = out;
  }
  return one;
}
