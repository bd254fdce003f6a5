/**
 * The aggregator's console, mounted at /console on the aggregator: the federation at a glance from the same data
 * as GET /federation: every site's last status, the rounds, and the global model's metric curve (the sites'
 * holdout evaluations of each global version, weighted by holdout size). Same login and session design as the
 * gateway's console; its own cookie name, since cookies do not separate ports of one host.
 */
import { Router } from 'express';
import { FhirfedError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { OperatorTokens } from '../federation/auth.js';
import type { StatusReport } from '../federation/messages.js';
import { chart, points } from './charts.js';
import { esc, num, pct, table } from './html.js';
import { deriveSessionKey, SessionCodec } from './session.js';
import { ConsoleShell } from './shell.js';

type HeadEval = { readonly f1: number; readonly auroc: number | null; readonly n: number };

/** The parts of GET /federation this page reads. */
export interface FederationViewData {
  readonly task: string;
  readonly status: string;
  readonly stopReason?: string;
  readonly completedRounds: number;
  readonly currentVersion: string;
  readonly best: { readonly version: string; readonly metric: number } | null;
  readonly round: { readonly number: number; readonly status: string; readonly modelVersion: string; readonly deadline?: string; readonly selected: readonly string[]; readonly submitted: readonly string[] } | null;
  readonly versions: readonly { readonly version: string; readonly round: number; readonly createdAt: string; readonly metric?: number; readonly evaluatedBy?: number }[];
  readonly history: readonly { readonly round: number; readonly outcome: string; readonly participants: readonly string[]; readonly missing: readonly string[]; readonly version?: string; readonly reason: string; readonly closedAt: string }[];
  readonly evaluations: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, HeadEval>>>>>>;
  readonly sites: readonly {
    readonly id: string;
    readonly registered: boolean;
    readonly lastSeen: string | null;
    readonly statusUrl: string | null;
    readonly lastStatus: StatusReport | null;
    readonly polledAt: string | null;
    readonly pollError: string | null;
  }[];
}

export interface AggregatorConsoleDeps {
  /** federationView(engine, poller): what GET /federation returns. */
  readonly view: () => unknown;
  readonly operatorTokens?: OperatorTokens;
  readonly logger: Logger;
  /** @defaultValue a random key per process (sessions end on restart) */
  readonly sessionSecret?: string | Uint8Array;
  readonly sessionTtlSeconds?: number;
}

export const AGGREGATOR_COOKIE = 'fhirfed_aggregator_console';

/** Per version and head: holdout-size-weighted mean F1 and AUROC over the sites that evaluated it. */
export function globalCurve(v: FederationViewData): { version: string; round: number; heads: Record<string, { f1: number | null; auroc: number | null; n: number; sites: number }> }[] {
  return [...v.versions]
    .sort((a, b) => a.round - b.round)
    .map((ver) => {
      const acc: Record<string, { f1: number; f1n: number; auroc: number; aurocN: number; sites: number }> = {};
      for (const heads of Object.values(v.evaluations[ver.version] ?? {})) {
        for (const [h, m] of Object.entries(heads)) {
          const a = (acc[h] ??= { f1: 0, f1n: 0, auroc: 0, aurocN: 0, sites: 0 });
          if (m.n <= 0) continue;
          a.sites++;
          a.f1 += m.f1 * m.n;
          a.f1n += m.n;
          if (m.auroc !== null) {
            a.auroc += m.auroc * m.n;
            a.aurocN += m.n;
          }
        }
      }
      const heads = Object.fromEntries(
        Object.entries(acc).map(([h, a]) => [h, { f1: a.f1n > 0 ? a.f1 / a.f1n : null, auroc: a.aurocN > 0 ? a.auroc / a.aurocN : null, n: a.f1n, sites: a.sites }]),
      );
      return { version: ver.version, round: ver.round, heads };
    });
}

function sitesTable(v: FederationViewData): string {
  return table(
    'Sites and their last polled status',
    ['site', 'registered', 'last seen', 'health', 'model', 'round', 'queue', 'rows', 'fill rate', 'epsilon spent / budget', 'polled', 'poll error', 'status URL'],
    v.sites.map((s) => {
      const st = s.lastStatus;
      const busy = st?.queue ? Object.entries(st.queue.counts).filter(([k, n]) => n > 0 && k !== 'completed') : [];
      const q = st?.queue ? busy.map(([k, n]) => `${k} ${n}`).join(', ') || `idle (${st.queue.counts.completed ?? 0} done)` : '';
      const p = st?.privacy ? `${num(st.privacy.epsilonSpent, 3)} / ${st.privacy.epsilonBudget !== undefined ? num(st.privacy.epsilonBudget, 3) : '?'}` : '';
      return [
        s.id,
        s.registered ? 'yes' : 'no',
        s.lastSeen ?? '',
        st?.health ?? 'unknown',
        st?.modelVersion ?? '',
        st?.round ? `${st.round.round} ${st.round.state}` : '',
        q,
        st?.data ? st.data.rows : '',
        pct(st?.data?.fillRate),
        p,
        s.polledAt ?? 'never',
        s.pollError ?? '',
        s.statusUrl ?? 'not configured',
      ];
    }),
    { empty: 'No site is known yet.', id: 'sites' },
  );
}

export function aggregatorBody(v: FederationViewData): string {
  const curve = globalCurve(v);
  const heads = [...new Set(curve.flatMap((c) => Object.keys(c.heads)))].sort();
  const plot = (metric: 'f1' | 'auroc', title: string) =>
    chart(title, heads.map((h) => ({ name: h, points: points(curve.map((c) => [c.round, c.heads[h]?.[metric]] as const)) })), {
      yMin: 0,
      yMax: 1,
      caption: `${title}: each global version evaluated on the sites' holdouts, weighted by holdout size; x is the round that produced it.`,
    });
  const r = v.round;
  const summary = `<dl class="kv" id="federation-summary"><dt>task</dt><dd>${esc(v.task)}</dd><dt>status</dt><dd>${esc(v.status)}${v.stopReason ? ` (${esc(v.stopReason)})` : ''}</dd>
<dt>completed rounds</dt><dd>${v.completedRounds}</dd><dt>current global model</dt><dd>${esc(v.currentVersion)}</dd><dt>best</dt><dd>${v.best ? `${esc(v.best.version)} (${esc(num(v.best.metric, 4))})` : '—'}</dd>
<dt>open round</dt><dd>${r ? `${r.number}, ${esc(r.status)}, from ${esc(r.modelVersion)}; selected ${esc(r.selected.join(', ') || 'none')}; submitted ${esc(r.submitted.join(', ') || 'none')}${r.deadline ? `; deadline ${esc(r.deadline)}` : ''}` : 'none'}</dd></dl>`;
  const versions = table(
    'Global model versions (holdout metrics, weighted over sites)',
    ['version', 'round', 'created', 'sites evaluated', ...heads.flatMap((h) => [`${h} F1`, `${h} AUROC`])],
    curve.map((c) => {
      const ver = v.versions.find((x) => x.version === c.version);
      const sites = Math.max(0, ...Object.values(c.heads).map((x) => x.sites));
      return [c.version, c.round, ver?.createdAt ?? '', sites, ...heads.flatMap((h) => [num(c.heads[h]?.f1 ?? null, 3), num(c.heads[h]?.auroc ?? null, 3)])];
    }),
    { empty: 'No global model yet.', id: 'versions' },
  );
  const history = table(
    'Rounds (most recent 20)',
    ['round', 'outcome', 'participants', 'missing', 'new version', 'reason', 'closed'],
    [...v.history].reverse().map((h) => [h.round, h.outcome, h.participants.join(', '), h.missing.join(', '), h.version ?? '', h.reason, h.closedAt]),
    { empty: 'No round has closed yet.', id: 'history' },
  );
  return `${summary}
<section aria-labelledby="curve-h"><h2 id="curve-h">Global model</h2><div class="charts">${plot('auroc', 'Global AUROC per head')}${plot('f1', 'Global F1 per head')}</div>${versions}</section>
<section aria-labelledby="sites-h"><h2 id="sites-h">Sites</h2>${sitesTable(v)}</section>
<section aria-labelledby="rounds-h"><h2 id="rounds-h">Rounds</h2>${history}</section>`;
}

export function aggregatorConsoleRouter(deps: AggregatorConsoleDeps): Router {
  const shell = new ConsoleShell({
    ...(deps.operatorTokens ? { operatorTokens: deps.operatorTokens } : {}),
    codec: new SessionCodec(deriveSessionKey(deps.sessionSecret, 'aggregator-console'), deps.sessionTtlSeconds),
    cookieName: AGGREGATOR_COOKIE,
    who: 'aggregator',
    nav: [{ href: '/', label: 'Federation' }],
    logger: deps.logger,
    bodyLimitBytes: 16 * 1024,
  });
  const r = Router();
  shell.install(r);
  r.get('/', (req, res) => {
    const v = deps.view() as FederationViewData;
    shell.render(req, res, { title: `Federation: ${v.task}`, current: '/', body: aggregatorBody(v) });
  });
  r.use((req, _res, next) => next(new FhirfedError('FHIRFED_ERR_NOT_FOUND', `no console page ${req.path}`, { hint: 'the aggregator console has one page: /console/' })));
  r.use(shell.errorHandler());
  return r;
}
