import type { FeatureRow } from './harmonize.js';
import type { LoadedSiteMapping } from './mapping.js';
import type { CoverageReport, FeatureCoverage } from './report.js';

/** Counts gathered while harmonizing, turned into the PHI-free coverage report at the end. */
export class CoverageCounter {
  resources = 0;
  rowsWithoutPatient = 0;
  readonly #unused = new Map<string, number>();
  readonly #sources = new Map<string, number>();
  readonly #units = new Map<string, Map<string, number>>();
  readonly #quarantinedByFeature = new Map<string, number>();
  readonly #quarantineByCode = new Map<string, number>();
  readonly #unmapped = new Map<string, number>(); // `${view}\u0000${code}`

  constructor(readonly mapping: LoadedSiteMapping) {}

  unused(type: string): void {
    this.#unused.set(type, (this.#unused.get(type) ?? 0) + 1);
  }

  source(feature: string, unit: string | undefined): void {
    this.#sources.set(feature, (this.#sources.get(feature) ?? 0) + 1);
    let m = this.#units.get(feature);
    if (!m) this.#units.set(feature, (m = new Map()));
    const u = typeof unit === 'string' ? unit : '(none)';
    m.set(u, (m.get(u) ?? 0) + 1);
  }

  quarantine(feature: string, code: string): void {
    this.#quarantinedByFeature.set(feature, (this.#quarantinedByFeature.get(feature) ?? 0) + 1);
    this.#quarantineByCode.set(code, (this.#quarantineByCode.get(code) ?? 0) + 1);
  }

  unmapped(view: string, code: string): void {
    const k = `${view}\u0000${code}`;
    this.#unmapped.set(k, (this.#unmapped.get(k) ?? 0) + 1);
  }

  snapshot() {
    return {
      unused: Object.fromEntries(this.#unused),
      sources: this.#sources,
      units: this.#units,
      quarantinedByFeature: this.#quarantinedByFeature,
      quarantineByCode: Object.fromEntries([...this.#quarantineByCode].sort((a, b) => b[1] - a[1])),
      unmapped: [...this.#unmapped]
        .map(([k, count]) => {
          const [view, code] = k.split('\u0000') as [string, string];
          return { view, code, count };
        })
        .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
    };
  }
}

export function buildReport(counter: CoverageCounter, rows: readonly FeatureRow[]): CoverageReport {
  const s = counter.snapshot();
  const mapped = new Set(counter.mapping.features.map((f) => f.feature.name));
  const features: FeatureCoverage[] = counter.mapping.schema.names.map((name) => {
    // Filled from data (a provenance entry), so a missing-policy constant does not count as coverage.
    const filled = rows.filter((r) => r.provenance[name] !== undefined).length;
    return {
      name,
      label: counter.mapping.schema.features.get(name)?.label ?? false,
      mapped: mapped.has(name),
      filled,
      fillRate: rows.length === 0 ? 0 : filled / rows.length,
      units: Object.fromEntries(s.units.get(name) ?? []),
      sourceValues: s.sources.get(name) ?? 0,
      quarantined: s.quarantinedByFeature.get(name) ?? 0,
    };
  });
  return {
    site: counter.mapping.site,
    resources: counter.resources,
    resourcesUnused: s.unused,
    rows: rows.length,
    features,
    unmappedCodes: s.unmapped,
    quarantine: s.quarantineByCode,
    rowsWithoutPatient: counter.rowsWithoutPatient,
  };
}
