/**
 * The gateway's console, mounted at /console: mapping workbench, ingest (messages, dead letters, replay), and
 * training and federation. See src/console/README.md for the login, session and CSRF design.
 */
import { Router, type Request, type Response } from 'express';
import { FhirfedError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { OperatorTokens } from '../federation/auth.js';
import type { Ledger } from '../ingest/ledger/index.js';
import { replayDeadLetters, type ReplaySummary } from '../ingest/pipeline.js';
import { cursor, ingestBody, openDeadLetterCount, openDeadLetters, recentMessages } from './ingest.js';
import { deriveSessionKey, SessionCodec } from './session.js';
import { ConsoleShell } from './shell.js';
import { trainingBody, type TrainingProviders } from './training.js';
import { ledgerCoverage, runWorkbench, validateSite } from './workbench.js';
import { coverageTables, problemsHtml, validateHtml, workbenchBody, WORKBENCH_SCRIPT } from './workbench-page.js';
import { esc } from './html.js';

export interface ConsoleDeps {
  readonly site: string;
  readonly ledger: Ledger;
  /** The mappings folder (schema.yaml, sites/<site>/); read fresh by the workbench. */
  readonly mappingsDir: string;
  /** The runtime's site secret: workbench pseudonyms match the feature store's. */
  readonly siteSecret: string;
  readonly training: TrainingProviders;
  readonly operatorTokens?: OperatorTokens;
  readonly logger: Logger;
  /** What the session MAC key is derived from (the gateway passes its site secret). @defaultValue a random key per process */
  readonly sessionSecret?: string | Uint8Array;
  /** @defaultValue 8 hours */
  readonly sessionTtlSeconds?: number;
  /** @defaultValue 2 MiB */
  readonly bodyLimitBytes?: number;
}

export const GATEWAY_COOKIE = 'fhirfed_console';

const NAV = [
  { href: '/workbench', label: 'Mapping workbench' },
  { href: '/ingest', label: 'Ingest' },
  { href: '/training', label: 'Training and federation' },
];

const field = (req: Request, name: string): string | undefined => {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : undefined;
};

/** `3-2-1` in the query after a replay: attempted, converted, still dead (Post/Redirect/Get). */
function parseReplayed(v: unknown): ReplaySummary | undefined {
  const m = typeof v === 'string' ? /^(\d{1,9})-(\d{1,9})-(\d{1,9})$/.exec(v) : null;
  if (!m) return undefined;
  return { attempted: Number(m[1]), converted: Number(m[2]), stillDead: Array.from({ length: Number(m[3]) }, () => ({ messageId: 0, reason: { code: '', message: '' } })) };
}

export function consoleRouter(deps: ConsoleDeps): Router {
  const codec = new SessionCodec(deriveSessionKey(deps.sessionSecret, 'gateway-console'), deps.sessionTtlSeconds);
  const shell = new ConsoleShell({
    ...(deps.operatorTokens ? { operatorTokens: deps.operatorTokens } : {}),
    codec,
    cookieName: GATEWAY_COOKIE,
    who: `site ${deps.site}`,
    nav: NAV,
    logger: deps.logger,
    ...(deps.bodyLimitBytes ? { bodyLimitBytes: deps.bodyLimitBytes } : {}),
  });
  const wb = { site: deps.site, mappingsDir: deps.mappingsDir, siteSecret: deps.siteSecret };
  const r = Router();
  shell.install(r);

  const workbench = (req: Request, res: Response, extra: { input?: string; outcome?: Awaited<ReturnType<typeof runWorkbench>>; extra?: string; status?: number } = {}) =>
    shell.render(req, res, {
      title: 'Mapping workbench',
      current: '/workbench',
      status: extra.status ?? 200,
      script: WORKBENCH_SCRIPT,
      body: workbenchBody({ action: `${req.baseUrl}/workbench`, csrf: shell.csrf(res), site: deps.site, ...extra }),
    });

  r.get('/', (req, res) => res.redirect(303, `${req.baseUrl}/workbench`));
  r.get('/workbench', (req, res) => workbench(req, res));

  r.post('/workbench', async (req, res) => {
    const input = field(req, 'input') ?? '';
    if (input.trim() === '') {
      workbench(req, res, { input, status: 400, extra: problemsHtml('Nothing to run', [{ code: 'FHIRFED_ERR_BAD_REQUEST', message: 'the message box is empty', hint: 'paste an HL7v2 message or FHIR JSON' }]) });
      return;
    }
    const outcome = await runWorkbench(input, wb);
    workbench(req, res, { input, outcome, status: outcome.ok ? 200 : 422 });
  });

  r.post('/workbench/validate', async (req, res) => {
    const v = await validateSite(deps.mappingsDir, deps.site);
    workbench(req, res, { extra: validateHtml(v) });
  });

  r.post('/workbench/coverage', async (req, res) => {
    const c = await ledgerCoverage(deps.ledger, wb);
    const extra = c.ok
      ? `<section aria-labelledby="coverage-h"><h2 id="coverage-h">Dry-run coverage over the ledger</h2>${
          c.truncated ? `<p class="notice">Read the first ${c.limit} resources only.</p>` : ''
        }${coverageTables(c.report, 'coverage')}</section>`
      : problemsHtml("This site's mapping files do not load", c.problems);
    workbench(req, res, { extra, status: c.ok ? 200 : 422 });
  });

  r.get('/ingest', (req, res) => {
    const before = cursor(req.query.before);
    const deadBefore = cursor(req.query.deadBefore);
    const replayed = parseReplayed(req.query.replayed);
    shell.render(req, res, {
      title: 'Ingest',
      current: '/ingest',
      body: ingestBody({
        base: req.baseUrl,
        csrf: shell.csrf(res),
        counts: deps.ledger.counts(),
        openDead: openDeadLetterCount(deps.ledger),
        messages: recentMessages(deps.ledger, before),
        dead: openDeadLetters(deps.ledger, deadBefore),
        query: { ...(before ? { before } : {}), ...(deadBefore ? { deadBefore } : {}) },
        ...(replayed ? { replayed } : {}),
      }),
    });
  });

  r.post('/ingest/replay', (req, res) => {
    const id = field(req, 'id');
    const all = field(req, 'all') === '1';
    if (!all && !(id && /^\d{1,15}$/.test(id))) {
      shell.render(req, res, {
        title: 'Ingest',
        current: '/ingest',
        status: 400,
        body: problemsHtml('Nothing to replay', [{ code: 'FHIRFED_ERR_BAD_REQUEST', message: 'the replay form names no dead letter', hint: 'use a Replay button on the ingest page' }]),
      });
      return;
    }
    const s = replayDeadLetters(deps.ledger, all ? {} : { messageIds: [Number(id)] });
    deps.logger.info({ attempted: s.attempted, converted: s.converted }, 'console replayed dead letters');
    res.redirect(303, `${req.baseUrl}/ingest?replayed=${s.attempted}-${s.converted}-${s.stillDead.length}`);
  });

  r.get('/training', async (req, res) => {
    const body = await trainingBody(deps.training);
    shell.render(req, res, { title: 'Training and federation', current: '/training', body: `<p>Site <code>${esc(deps.site)}</code>.</p>${body}` });
  });

  r.use((req, _res, next) => next(new FhirfedError('FHIRFED_ERR_NOT_FOUND', `no console page ${req.path}`, { hint: 'use the navigation at the top' })));
  r.use(shell.errorHandler());
  return r;
}
