import { FhirfedError } from '../core/errors.js';
import type { DemoSite } from './data/index.js';
import { DEMO_HYPER, launchFederation, type FederationOptions } from './launch.js';
import { waitFor } from './processes.js';
import type { Progress } from './progress.js';
import { writeReport, type DemoReport, type HeadMetrics, type RoundRecord } from './report.js';

export { launchFederation, type Federation, type FederationOptions } from './launch.js';

/** `fhirfed demo`'s options: the federation's (src/demo/launch.ts). */
export type DemoOptions = FederationOptions;

export interface DemoResult {
  readonly reportDir: string;
  readonly report: DemoReport;
}

interface FederationView {
  status: string;
  completedRounds: number;
  round: { number: number; status: string; selected: string[]; submitted: string[]; secure?: { step: string; sent: string[]; expected: string[] } } | null;
  versions: { version: string; round: number; metric?: number }[];
  evaluations: Record<string, Record<string, Record<string, { f1: number; auroc: number | null; n: number }>>>;
  sites: { id: string; registered: boolean; lastStatus: { privacy?: { epsilonSpent: number } | null; data?: { rows?: number; fillRate?: number } | null } | null }[];
  history?: unknown[];
}

/** Weighted (by holdout rows) mean of the sites' metrics for one model version, per head. */
function combine(byHead: Record<string, Record<string, { f1: number; auroc: number | null; n: number }>>): Record<string, HeadMetrics> {
  const acc: Record<string, { f1: number; auroc: number; n: number; na: number }> = {};
  for (const heads of Object.values(byHead)) {
    for (const [h, m] of Object.entries(heads)) {
      const a = (acc[h] ??= { f1: 0, auroc: 0, n: 0, na: 0 });
      a.f1 += m.f1 * m.n;
      a.n += m.n;
      if (m.auroc !== null) {
        a.auroc += m.auroc * m.n;
        a.na += m.n;
      }
    }
  }
  return Object.fromEntries(Object.entries(acc).map(([h, a]) => [h, { f1: a.n ? a.f1 / a.n : NaN, auroc: a.na ? a.auroc / a.na : NaN }]));
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const fed = await launchFederation(o);
  try {
    const report = await followRounds(o, fed.aggUrl, fed.operatorToken, fed.sites, fed.sitesReport, fed.progress, fed.started, fed.statusUrls);
    const html = writeReport(fed.reportDir, report);
    fed.progress.done(`report: ${html}`);
    return { reportDir: fed.reportDir, report };
  } finally {
    await fed.close();
  }
}

async function getJson<T>(url: string, token: string): Promise<T> {
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

async function followRounds(
  o: DemoOptions,
  aggUrl: string,
  token: string,
  sites: readonly DemoSite[],
  sitesReport: DemoReport['sites'],
  p: Progress,
  started: Date,
  statusUrls: Readonly<Record<string, string>>,
): Promise<DemoReport> {
  // Privacy spend straight from each gateway's authenticated /status (what the aggregator polls too).
  const spend = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      await Promise.all(
        Object.entries(statusUrls).map(async ([site, url]) => {
          try {
            const st = await getJson<{ privacy: { epsilonSpent: number } | null }>(url, token);
            return [site, st.privacy?.epsilonSpent ?? NaN] as const;
          } catch {
            return [site, NaN] as const;
          }
        }),
      ),
    );
  const rounds: RoundRecord[] = [];
  const heads = ['drug_response', 'adverse_event'];
  p.line(`\n round  sites  ${heads.map((h) => `${h} F1 / AUROC`).join('   ')}   max epsilon`);
  let lastRoundStart = Date.now();
  let shown = 0;
  let doneSince: number | undefined;
  // Spend observed when round r closed (the next round opened, or the federation finished).
  const spendAt = new Map<number, Record<string, number>>();
  let openRound = 0;
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    if (Date.now() > deadline) throw new FhirfedError('FHIRFED_ERR_TIMEOUT', 'the federation did not finish within 15 minutes', { hint: 'see the logs in the work folder' });
    const v = await waitFor('the aggregator', () => getJson<FederationView>(`${aggUrl}/federation`, token), 10_000);
    const current = v.status === 'done' ? v.completedRounds + 1 : (v.round?.number ?? 0);
    if (current > openRound) {
      const s = await spend();
      for (let r = Math.max(1, openRound); r < current; r++) if (!spendAt.has(r)) spendAt.set(r, s);
      openRound = current;
    }
    // A version produced by round r is evaluated by the sites at the start of round r+1 (or in a final pass).
    for (const ver of v.versions.filter((x) => x.round > 0).sort((a, b) => a.round - b.round)) {
      if (ver.round <= shown) continue;
      const evals = v.evaluations[ver.version];
      const evaluatedBy = evals ? Object.keys(evals) : [];
      const expected = v.status === 'done' && ver.round === v.completedRounds ? sites.length : Math.min(3, sites.length);
      if (evaluatedBy.length < expected && !(doneSince !== undefined && Date.now() - doneSince > 20_000)) break;
      const metrics = combine(evals ?? {});
      const siteMetrics: RoundRecord['siteMetrics'] = Object.fromEntries(
        Object.entries(evals ?? {}).map(([s, hs]) => [s, Object.fromEntries(Object.entries(hs).map(([h, m]) => [h, { f1: m.f1, auroc: m.auroc ?? NaN }]))]),
      );
      const epsilon = spendAt.get(ver.round) ?? (await spend());
      const rec: RoundRecord = { round: ver.round, sites: evaluatedBy, metrics, siteMetrics, epsilon, seconds: (Date.now() - lastRoundStart) / 1000 };
      lastRoundStart = Date.now();
      rounds.push(rec);
      shown = ver.round;
      const maxEps = Math.max(...Object.values(epsilon).filter(Number.isFinite), 0);
      p.endBar();
      p.line(
        ` ${String(ver.round).padStart(5)}  ${String(evaluatedBy.length).padStart(5)}  ${heads
          .map((h) => `${(metrics[h]?.f1 ?? NaN).toFixed(3)} / ${(metrics[h]?.auroc ?? NaN).toFixed(3)}`.padEnd(h.length + 14))
          .join('   ')}   ${maxEps.toFixed(2)}`,
      );
    }
    if (v.status === 'done') {
      // The final model is evaluated by the sites after the last round closes; give them a moment.
      const last = v.versions.find((x) => x.round === v.completedRounds);
      const evaluated = last ? Object.keys(v.evaluations[last.version] ?? {}).length : 0;
      doneSince ??= Date.now();
      if (shown >= v.completedRounds || (evaluated === 0 && Date.now() - doneSince > 30_000)) break;
    }
    const sec = v.round?.secure;
    if (v.round && sec) p.bar(`  round ${v.round.number}/${o.rounds}`, sec.sent.length, sec.expected.length, `secure aggregation: ${sec.step} ${sec.sent.length}/${sec.expected.length}`);
    else if (v.round) p.bar(`  round ${v.round.number}/${o.rounds}`, v.round.submitted.length, v.round.selected.length, `${v.round.status}, updates ${v.round.submitted.length}/${v.round.selected.length}`);
    else p.bar('  waiting for sites', v.sites.filter((s) => s.registered).length, sites.length, 'registered');
    await new Promise((r) => setTimeout(r, 500));
  }
  p.endBar();
  const best = rounds.reduce<RoundRecord | undefined>((b, r) => {
    const score = (x: RoundRecord) => Object.values(x.metrics).reduce((a, m) => a + (Number.isFinite(m.auroc) ? m.auroc : 0), 0);
    return !b || score(r) > score(b) ? r : b;
  }, undefined);
  return {
    title: 'fhirfed demo federation',
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    settings: { rounds: o.rounds, patientsPerSite: o.patientsPerSite, seed: o.seed, hyper: { ...DEMO_HYPER, ...o.hyper }, codec: o.codec ?? 'masking', privacy: { sample: 'DP-SGD', client: 'client-level Gaussian', off: 'off' }[o.privacyMode ?? 'sample'], strategy: 'fedavg' },
    budget: { epsilon: o.epsilon, delta: o.delta },
    sites: sitesReport,
    rounds,
    ...(best ? { bestRound: best.round } : {}),
  };
}
