import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The demo's report folder: `report.json` (everything the page shows) and `index.html` with inline SVG plots, so it
 * opens from disk in any browser with no network and no script.
 */

export interface HeadMetrics {
  readonly f1: number;
  readonly auroc: number;
  readonly accuracy?: number;
}

export interface RoundRecord {
  readonly round: number;
  readonly sites: readonly string[];
  /** Weighted mean of the sites' holdout metrics for the global model, per head. */
  readonly metrics: Readonly<Record<string, HeadMetrics>>;
  /** Per site, per head. */
  readonly siteMetrics: Readonly<Record<string, Readonly<Record<string, HeadMetrics>>>>;
  /** Cumulative epsilon spent per site after this round. */
  readonly epsilon: Readonly<Record<string, number>>;
  readonly seconds: number;
}

export interface DemoReport {
  readonly title: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly budget: { readonly epsilon: number; readonly delta: number };
  readonly sites: readonly {
    readonly id: string;
    readonly transport: string;
    readonly rows: number;
    readonly fillRate: number;
    readonly quarantined: number;
    readonly prevalence: Readonly<Record<string, number>>;
  }[];
  readonly rounds: readonly RoundRecord[];
  readonly bestRound?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

/** A small line chart as SVG; y from yMin to yMax (auto when absent). */
export function lineChart(title: string, series: readonly Series[], opts: { yMin?: number; yMax?: number; yLabel?: string; hline?: number } = {}): string {
  const W = 520;
  const H = 260;
  const m = { l: 48, r: 130, t: 28, b: 36 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMin = Math.min(...xs, 1);
  const xMax = Math.max(...xs, xMin + 1);
  let yMin = opts.yMin ?? Math.min(...ys, opts.hline ?? Infinity);
  let yMax = opts.yMax ?? Math.max(...ys, opts.hline ?? -Infinity);
  if (!Number.isFinite(yMin) || !Number.isFinite(yMax)) [yMin, yMax] = [0, 1];
  if (yMax - yMin < 1e-9) yMax = yMin + 1;
  const px = (x: number) => m.l + ((x - xMin) / (xMax - xMin)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - yMin) / (yMax - yMin)) * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`,
    `<text x="${m.l}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#444"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#444"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = yMin + ((yMax - yMin) * i) / 4;
    parts.push(`<line x1="${m.l}" y1="${py(y)}" x2="${W - m.r}" y2="${py(y)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${py(y) + 4}" font-size="11" text-anchor="end">${y.toFixed(2)}</text>`);
  }
  const step = Math.max(1, Math.ceil((xMax - xMin) / 10));
  for (let x = Math.ceil(xMin); x <= xMax; x += step) {
    parts.push(`<text x="${px(x)}" y="${H - m.b + 16}" font-size="11" text-anchor="middle">${x}</text>`);
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 4}" font-size="11" text-anchor="middle">round</text>`);
  if (opts.hline !== undefined) {
    parts.push(`<line x1="${m.l}" y1="${py(opts.hline)}" x2="${W - m.r}" y2="${py(opts.hline)}" stroke="#999" stroke-dasharray="6 4"/>`);
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of s.points) parts.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${color}"/>`);
    parts.push(`<rect x="${W - m.r + 10}" y="${m.t + i * 18}" width="10" height="10" fill="${color}"/>`);
    parts.push(`<text x="${W - m.r + 25}" y="${m.t + i * 18 + 9}" font-size="11">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cell = (v: string | number) => (typeof v === 'number' ? v.toFixed(3) : esc(v));
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function renderReportHtml(report: DemoReport): string {
  const heads = [...new Set(report.rounds.flatMap((r) => Object.keys(r.metrics)))];
  const siteIds = report.sites.map((s) => s.id);
  const metricChart = (metric: 'f1' | 'auroc') =>
    lineChart(
      `Global model ${metric === 'f1' ? 'F1' : 'AUROC'} per round (sites' holdout, weighted)`,
      heads.map((h) => ({ name: h, points: report.rounds.map((r) => [r.round, r.metrics[h]?.[metric] ?? NaN] as const).filter((p) => Number.isFinite(p[1])) })),
      { yMin: metric === 'auroc' ? 0.4 : 0, yMax: 1 },
    );
  const siteCharts = heads.map((h) =>
    lineChart(
      `${h}: AUROC per site`,
      siteIds.map((s) => ({ name: s, points: report.rounds.map((r) => [r.round, r.siteMetrics[s]?.[h]?.auroc ?? NaN] as const).filter((p) => Number.isFinite(p[1])) })),
      { yMin: 0.3, yMax: 1 },
    ),
  );
  const privacyChart = lineChart(
    `Privacy spent (epsilon) vs budget ${report.budget.epsilon}`,
    siteIds.map((s) => ({ name: s, points: report.rounds.map((r) => [r.round, r.epsilon[s] ?? NaN] as const).filter((p) => Number.isFinite(p[1])) })),
    { yMin: 0, hline: report.budget.epsilon },
  );
  const roundRows = report.rounds.map((r) => [
    String(r.round),
    String(r.sites.length),
    ...heads.flatMap((h) => [r.metrics[h]?.f1 ?? NaN, r.metrics[h]?.auroc ?? NaN]),
    Math.max(0, ...Object.values(r.epsilon)),
  ]);
  const last = report.rounds[report.rounds.length - 1];
  const siteRows = report.sites.map((s) => [
    s.id,
    s.transport,
    String(s.rows),
    s.fillRate,
    String(s.quarantined),
    ...heads.flatMap((h) => [last?.siteMetrics[s.id]?.[h]?.f1 ?? NaN, last?.siteMetrics[s.id]?.[h]?.auroc ?? NaN]),
    last?.epsilon[s.id] ?? 0,
  ]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(report.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1rem}
code{background:#f3f3f3;padding:1px 4px}
</style></head><body>
<h1>${esc(report.title)}</h1>
<p>Started ${esc(report.startedAt)}, finished ${esc(report.finishedAt)}. Privacy budget per site: epsilon ${report.budget.epsilon},
delta ${report.budget.delta}.${report.bestRound !== undefined ? ` Best global model: round ${report.bestRound}.` : ''}</p>
<h2>Global model</h2><div class="charts">${metricChart('auroc')}${metricChart('f1')}</div>
${table(['round', 'sites', ...heads.flatMap((h) => [`${h} F1`, `${h} AUROC`]), 'max epsilon'], roundRows)}
<h2>Sites</h2><div class="charts">${siteCharts.join('')}</div>
${table(['site', 'transport', 'rows', 'fill rate', 'quarantined', ...heads.flatMap((h) => [`${h} F1`, `${h} AUROC`]), 'epsilon'], siteRows)}
<h2>Privacy</h2><div class="charts">${privacyChart}</div>
<h2>Settings</h2><pre>${esc(JSON.stringify(report.settings, null, 2))}</pre>
<p>The data behind this page: <code>report.json</code> in the same folder.</p>
</body></html>
`;
}

/** Writes report.json and index.html into `dir`; returns the path of index.html. */
export function writeReport(dir: string, report: DemoReport): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  const html = join(dir, 'index.html');
  writeFileSync(html, renderReportHtml(report));
  return html;
}
