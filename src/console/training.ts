/**
 * The training and federation page of a gateway: queue state, the round being followed, per-round holdout metrics
 * (F1 and AUROC per head, from the training jobs' results), privacy spent against the budget, and the site's data
 * statistics. Only counts, rates and aggregates: the statistics are hidden below a minimum cohort size, like the
 * quality section of /status.
 */
import type { FeatureStats } from '../features/stats.js';
import type { TrainingQueueState } from '../training/index.js';
import { chart, points } from './charts.js';
import { esc, num, pct, table } from './html.js';

export interface RoundMetrics {
  readonly task: string;
  readonly round: number;
  readonly modelVersion?: string;
  readonly numSamples?: number;
  readonly finishedAt?: string;
  readonly metrics: Readonly<Record<string, { readonly f1: number; readonly auroc: number | null; readonly accuracy?: number; readonly n?: number }>>;
}

export interface PrivacyState {
  readonly mode: string;
  readonly epsilonSpent: number;
  readonly epsilonBudget: number;
  readonly delta: number;
  /** Cumulative epsilon after each charged round, oldest first. */
  readonly history: readonly { readonly round: string; readonly epsilonAfter: number | null; readonly recordedAt: string }[];
}

export interface DataState {
  readonly rows: number;
  /** Absent below the minimum cohort size. */
  readonly stats?: FeatureStats;
  readonly minRows: number;
  readonly units: Readonly<Record<string, string | undefined>>;
}

/** What the page reads; each provider may fail on its own and the page says which. */
export interface TrainingProviders {
  queue(): Promise<TrainingQueueState>;
  /** The most recent completed training rounds, at most `limit`. */
  rounds(limit: number): Promise<readonly RoundMetrics[]>;
  round(): { task: string; round: number; state: string } | null;
  modelVersion(): string | null;
  privacy(): PrivacyState;
  data(): DataState;
}

/** @defaultValue 100 rounds on the plots. */
export const MAX_ROUNDS = 100;

type Got<T> = { ok: true; value: T } | { ok: false; error: string };

async function get<T>(fn: () => Promise<T> | T): Promise<Got<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

const unavailable = (what: string, g: { ok: false; error: string }): string => `<p class="error" role="alert">${esc(what)} unavailable: ${esc(g.error)}</p>`;

function queueHtml(q: TrainingQueueState): string {
  return `${table('Training jobs by state', ['state', 'jobs'], Object.entries(q.counts), { id: 'queue-counts' })}
${table('Running jobs', ['job', 'task', 'round', 'attempts', 'progress'], q.active.map((a) => [a.id ?? '', String(a.task ?? ''), String(a.round ?? ''), a.attemptsMade, JSON.stringify(a.progress ?? '')]), { empty: 'No job is running.' })}
${table('Recent failures', ['job', 'reason', 'attempts'], q.recentFailures.map((f) => [f.id ?? '', f.reason, f.attemptsMade]), { empty: 'No recent failures.' })}
<p class="muted">Queue ${esc(q.queue)}${q.backend ? `, training backend ${esc(q.backend)}` : ''}.</p>`;
}

function metricsHtml(rounds: readonly RoundMetrics[]): string {
  const sorted = [...rounds].sort((a, b) => a.round - b.round);
  const heads = [...new Set(sorted.flatMap((r) => Object.keys(r.metrics)))].sort();
  const plot = (metric: 'f1' | 'auroc', title: string) =>
    chart(title, heads.map((h) => ({ name: h, points: points(sorted.map((r) => [r.round, r.metrics[h]?.[metric]] as const)) })), {
      yMin: 0,
      yMax: 1,
      caption: `${title}: local holdout after each round's training, one line per head.`,
    });
  const rows = sorted.map((r) => [r.round, r.task, r.modelVersion ?? '', r.numSamples ?? '', ...heads.flatMap((h) => [num(r.metrics[h]?.f1 ?? null, 3), num(r.metrics[h]?.auroc ?? null, 3)])]);
  return `<div class="charts">${plot('f1', 'F1 per head')}${plot('auroc', 'AUROC per head')}</div>
${table('Metrics per round (local holdout)', ['round', 'task', 'from global model', 'samples', ...heads.flatMap((h) => [`${h} F1`, `${h} AUROC`])], rows, { empty: 'No training round has completed yet.', id: 'round-metrics' })}`;
}

function privacyHtml(p: PrivacyState): string {
  const series = p.history.map((h, i) => [i + 1, h.epsilonAfter] as const);
  const plot = chart(`Privacy spent (epsilon) vs budget ${num(p.epsilonBudget)}`, [{ name: 'epsilon spent', points: points(series) }], {
    yMin: 0,
    yMax: Math.max(p.epsilonBudget, p.epsilonSpent) * 1.05,
    hline: p.epsilonBudget,
    caption: 'Cumulative epsilon after each charged round; the dashed line is the site budget.',
  });
  return `<dl class="kv" id="privacy-summary"><dt>mode</dt><dd>${esc(p.mode)}</dd><dt>epsilon spent</dt><dd>${esc(num(p.epsilonSpent))}</dd><dt>epsilon budget</dt><dd>${esc(num(p.epsilonBudget))}</dd><dt>used</dt><dd>${esc(pct(p.epsilonSpent / p.epsilonBudget))}</dd><dt>delta</dt><dd>${esc(String(p.delta))}</dd></dl>
<div class="charts">${plot}</div>
${table('Charged rounds', ['#', 'round', 'epsilon after', 'recorded'], p.history.slice(-MAX_ROUNDS).map((h, i) => [i + 1, h.round, num(h.epsilonAfter), h.recordedAt]), { empty: 'No round has been charged yet.' })}`;
}

function dataHtml(d: DataState): string {
  if (!d.stats) {
    return `<p id="data-rows">${d.rows} feature row(s) in the store. Statistics appear from ${d.minRows} rows on (smaller cohorts could identify a patient).</p>`;
  }
  const rows = Object.entries(d.stats.features).map(([name, f]) =>
    f.kind === 'numeric'
      ? [name, d.units[name] ?? '', f.filled, pct(f.fillRate), num(f.mean), num(f.sd), num(f.median), '']
      : [name, '', f.filled, pct(f.fillRate), '', '', '', Object.entries(f.counts).map(([k, n]) => `${k}: ${n}`).join(', ')],
  );
  return `<p id="data-rows">${d.rows} feature row(s) in the store.</p>
${table('Features (no single values: counts, fill rates, mean, SD, median)', ['feature', 'unit', 'filled', 'fill rate', 'mean', 'SD', 'median', 'categories'], rows, { id: 'data-stats' })}
${table('Quarantined values by reason', ['reason code', 'values'], Object.entries(d.stats.quarantine), { empty: 'Quarantined values: none' })}`;
}

export async function trainingBody(p: TrainingProviders): Promise<string> {
  const [queue, rounds, privacy, data] = await Promise.all([get(() => p.queue()), get(() => p.rounds(MAX_ROUNDS)), get(() => p.privacy()), get(() => p.data())]);
  const round = await get(() => p.round());
  const version = await get(() => p.modelVersion());
  const r = round.ok ? round.value : null;
  const current = `<dl class="kv" id="current-round"><dt>task</dt><dd>${esc(r?.task ?? '—')}</dd><dt>round</dt><dd>${esc(r ? String(r.round) : 'not following a round')}</dd><dt>state</dt><dd>${esc(r?.state ?? '—')}</dd><dt>global model</dt><dd>${esc((version.ok ? version.value : null) ?? '—')}</dd></dl>`;
  return `<section aria-labelledby="fed-h"><h2 id="fed-h">Federation</h2>${round.ok ? current : unavailable('round state', round)}</section>
<section aria-labelledby="queue-h"><h2 id="queue-h">Training queue</h2>${queue.ok ? queueHtml(queue.value) : unavailable('queue state', queue)}</section>
<section aria-labelledby="metrics-h"><h2 id="metrics-h">Metrics per round</h2>${rounds.ok ? metricsHtml(rounds.value) : unavailable('round metrics', rounds)}</section>
<section aria-labelledby="privacy-h"><h2 id="privacy-h">Privacy budget</h2>${privacy.ok ? privacyHtml(privacy.value) : unavailable('privacy state', privacy)}</section>
<section aria-labelledby="data-h"><h2 id="data-h">Data statistics</h2>${data.ok ? dataHtml(data.value) : unavailable('data statistics', data)}</section>`;
}
