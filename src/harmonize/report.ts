/**
 * The coverage report of a harmonization run: counts only (no values, no keys), so it can be printed, logged and
 * shared with the federation operator without PHI.
 */

export interface FeatureCoverage {
  readonly name: string;
  readonly label: boolean;
  readonly mapped: boolean;
  /** Rows with a value. */
  readonly filled: number;
  readonly fillRate: number;
  /** Source units seen (before repair/conversion) -> number of values. */
  readonly units: Readonly<Record<string, number>>;
  /** Source values that matched this feature. */
  readonly sourceValues: number;
  readonly quarantined: number;
}

export interface UnmappedCode {
  readonly view: string;
  readonly code: string;
  readonly count: number;
}

export interface CoverageReport {
  readonly site: string;
  readonly resources: number;
  /** Resources no view of this site reads (by resource type). */
  readonly resourcesUnused: Readonly<Record<string, number>>;
  readonly rows: number;
  readonly features: readonly FeatureCoverage[];
  readonly unmappedCodes: readonly UnmappedCode[];
  /** Quarantined values by reason code. */
  readonly quarantine: Readonly<Record<string, number>>;
  /** View rows dropped because they name no patient. */
  readonly rowsWithoutPatient: number;
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** Plain-text rendering for the terminal. */
export function formatReport(r: CoverageReport, maxUnmapped = 20): string {
  const out: string[] = [];
  out.push(`site ${r.site}: ${r.resources} resources -> ${r.rows} patient rows`);
  const unused = Object.entries(r.resourcesUnused);
  if (unused.length > 0) out.push(`  not read by any view: ${unused.map(([t, n]) => `${t} ${n}`).join(', ')}`);
  if (r.rowsWithoutPatient > 0) out.push(`  view rows without a patient reference (dropped): ${r.rowsWithoutPatient}`);
  out.push('');
  out.push('features (fill rate, source values, quarantined, unit mix):');
  const w = Math.max(8, ...r.features.map((f) => f.name.length + (f.label ? 8 : 0)));
  for (const f of r.features) {
    const name = `${f.name}${f.label ? ' [label]' : ''}`;
    if (!f.mapped) {
      out.push(`  ${pad(name, w)}  not mapped`);
      continue;
    }
    const units = Object.entries(f.units)
      .map(([u, n]) => `${u} ${n}`)
      .join(', ');
    out.push(`  ${pad(name, w)}  ${pad(pct(f.fillRate), 6)} ${pad(`${f.filled}/${r.rows}`, 9)} values ${pad(String(f.sourceValues), 5)} quarantined ${pad(String(f.quarantined), 4)} ${units}`);
  }
  out.push('');
  const q = Object.entries(r.quarantine).sort((a, b) => b[1] - a[1]);
  out.push(q.length === 0 ? 'quarantined values: none' : 'quarantined values by reason:');
  for (const [code, n] of q) out.push(`  ${pad(code, 28)} ${n}`);
  out.push('');
  out.push(r.unmappedCodes.length === 0 ? 'unmapped codes: none' : `unmapped codes (${r.unmappedCodes.length}, by count):`);
  for (const u of r.unmappedCodes.slice(0, maxUnmapped)) out.push(`  ${pad(u.view, 10)} ${pad(u.code, 40)} ${u.count}`);
  if (r.unmappedCodes.length > maxUnmapped) out.push(`  ... ${r.unmappedCodes.length - maxUnmapped} more (use --json for all)`);
  return out.join('\n');
}
