/**
 * The aggregator's HTTP API. Every route needs a signed site request or an operator token (checked by the auth
 * guard in aggregator-server.ts before anything here runs); handlers validate bodies into wire messages and make
 * sure a site only speaks for itself.
 *
 *   POST /v1/register            site registration (status URL, software)
 *   POST /v1/heartbeat
 *   GET  /v1/rounds/current      the round announcement (204 while waiting for sites)
 *   GET  /v1/models/:version     global model by version, `latest` or `best`
 *   POST /v1/updates             an update envelope for the open round
 *   POST /v1/evaluations         holdout metrics of a global version
 *   GET  /federation             rounds, versions and every site's last status
 *   POST /v1/admin/sites         operator (scope admin): add a site's public key
 */
import { Router, type Response } from 'express';
import { z } from 'zod';
import { FhirfedError } from '../../core/errors.js';
import { principalOf, requireSite } from '../../federation/auth.js';
import type { StatusPoller } from '../../federation/aggregator/poller.js';
import type { RoundEngine } from '../../federation/aggregator/rounds.js';
import { federationView } from '../../federation/aggregator/view.js';
import { parseMessage, siteIdSchema } from '../../federation/messages.js';

const addSiteSchema = z.object({ id: siteIdSchema, publicKey: z.string().min(1), statusUrl: z.url({ protocol: /^https?$/ }).optional() }).strict();

function requireOperator(res: Response, scope: string): void {
  const p = principalOf(res);
  if (p.kind !== 'operator' || !(p.scopes.includes('*') || p.scopes.includes(scope))) {
    throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', `this endpoint needs an operator token with scope ${scope}`, { hint: 'sites cannot administer the federation' });
  }
}

export function aggregatorRouter(engine: RoundEngine, poller: StatusPoller | undefined): Router {
  const r = Router();

  r.post('/v1/register', async (req, res) => {
    const msg = parseMessage(req.body, 'register', 'the request body');
    const site = requireSite(res, msg.site);
    await engine.register(site, msg);
    res.json({ ok: true, task: engine.snapshot().task });
  });

  r.post('/v1/heartbeat', async (req, res) => {
    const msg = parseMessage(req.body, 'heartbeat', 'the request body');
    await engine.heartbeat(requireSite(res, msg.site), msg);
    res.json({ ok: true });
  });

  r.get('/v1/rounds/current', (_req, res) => {
    const a = engine.announcement();
    if (a) res.json(a);
    else res.status(204).end();
  });

  r.get('/v1/models/:version', (req, res) => {
    res.json(engine.model(req.params.version));
  });

  r.post('/v1/updates', async (req, res) => {
    const msg = parseMessage(req.body, 'update', 'the request body');
    const outcome = await engine.receiveUpdate(requireSite(res, msg.site), msg);
    res.status(outcome === 'accepted' ? 201 : 200).json({ status: outcome, round: msg.round });
  });

  r.post('/v1/evaluations', async (req, res) => {
    const msg = parseMessage(req.body, 'evaluation', 'the request body');
    await engine.receiveEvaluation(requireSite(res, msg.site), msg);
    res.json({ ok: true });
  });

  r.get('/federation', (_req, res) => {
    res.json(federationView(engine, poller));
  });

  r.post('/v1/admin/sites', async (req, res) => {
    requireOperator(res, 'admin');
    const parsed = addSiteSchema.safeParse(req.body);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new FhirfedError('FHIRFED_ERR_VALIDATION', `invalid site: ${i?.path.join('.') ?? ''}: ${i?.message ?? 'malformed'}`, { hint: 'send { id, publicKey, statusUrl? }' });
    }
    await engine.addSite(parsed.data.id, parsed.data.publicKey, parsed.data.statusUrl);
    res.status(201).json({ ok: true, id: parsed.data.id });
  });

  return r;
}
