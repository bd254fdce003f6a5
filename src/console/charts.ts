/**
 * Charts for console pages: the demo report's SVG line chart, inlined. An inline <svg> in HTML needs no xmlns, and
 * dropping it keeps every page free of absolute URLs. Each chart sits in a <figure> with a text caption, and the
 * numbers are always also in a table next to it, for screen readers and for copying.
 */
import { lineChart } from '../demo/report.js';
import { esc } from './html.js';

/** One line: name and (round, value) points; the shape lineChart takes. */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  readonly yMin?: number;
  readonly yMax?: number;
  readonly hline?: number;
  readonly caption?: string;
}

export function chart(title: string, series: readonly Series[], o: ChartOptions = {}): string {
  const usable = series.filter((s) => s.points.length > 0);
  if (usable.length === 0) return `<p class="empty">${esc(title)}: no data yet</p>`;
  const svg = lineChart(title, usable, {
    ...(o.yMin !== undefined ? { yMin: o.yMin } : {}),
    ...(o.yMax !== undefined ? { yMax: o.yMax } : {}),
    ...(o.hline !== undefined ? { hline: o.hline } : {}),
  }).replace(/ xmlns="[^"]*"/, '');
  return `<figure>${svg}${o.caption ? `<figcaption>${esc(o.caption)}</figcaption>` : ''}</figure>`;
}

/** Points with a finite y only: a head without a value in a round is a gap, not a zero. */
export function points(pairs: readonly (readonly [number, number | null | undefined])[]): (readonly [number, number])[] {
  return pairs.filter((p): p is readonly [number, number] => typeof p[1] === 'number' && Number.isFinite(p[1]));
}
