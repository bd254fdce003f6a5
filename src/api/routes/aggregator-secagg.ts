/**
 * The secure-aggregation relay of the aggregator (task.codec: masking or paillier). Signed site requests only (the auth guard
 * in aggregator-server.ts runs first); a site speaks only for itself, in rounds that selected it.
 *
 *   GET  /v1/secagg/:task/:round          protocol parameters, session id, roster, open step and its deadline
 *   POST /v1/secagg/:task/:round/:step    this site's message for a step: 201 accepted, 200 duplicate (a retry),
 *                                         409 a different message for the same step, a closed or unopened step
 *   GET  /v1/secagg/:task/:round/:step    what the aggregator routes to this site once that step closed
 *                                         (masking: key broadcast, encrypted shares addressed to it, unmask
 *                                         request; paillier: the encrypted aggregate to the decrypting site, a
 *                                         'wait' to the others): { status: 'pending', deadline } until then
 *
 * Steps: masking advertise, shares, masked, unmask; paillier ciphertexts, decrypt (src/federation/secure-protocol.ts).
 * The round info names the scheme and its steps; a step of the other scheme is refused with 409.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { FhirfedError } from '../../core/errors.js';
import { requireSite } from '../../federation/auth.js';
import type { RoundEngine } from '../../federation/aggregator/rounds.js';
import type { SecureRounds } from '../../federation/aggregator/secure-rounds.js';
import { taskSchema } from '../../federation/messages.js';
import { parseRelay, relayEnvelopeSchema, secureStepSchema } from '../../federation/secure-protocol.js';

const roundParams = z.object({ task: taskSchema, round: z.string().regex(/^\d{1,9}$/, 'a round number').transform(Number) }).strict();
const stepParams = roundParams.extend({ step: secureStepSchema });

function relay(engine: RoundEngine): SecureRounds {
  if (!engine.secure) {
    throw new FhirfedError('FHIRFED_ERR_CONFLICT', 'this aggregator does not run secure aggregation (task.codec is plain)', { hint: 'send updates to POST /v1/updates' });
  }
  return engine.secure;
}

export function secaggRouter(engine: RoundEngine): Router {
  const r = Router();

  r.get('/v1/secagg/:task/:round', (req, res) => {
    const p = parseRelay(roundParams, req.params, 'secagg path');
    res.json(relay(engine).info(requireSite(res), p.task, p.round));
  });

  r.post('/v1/secagg/:task/:round/:step', async (req, res) => {
    const p = parseRelay(stepParams, req.params, 'secagg path');
    const env = parseRelay(relayEnvelopeSchema, req.body, 'secagg message envelope');
    if (env.task !== p.task || env.round !== p.round || env.step !== p.step) {
      throw new FhirfedError('FHIRFED_ERR_VALIDATION', `the envelope (${env.task}, round ${env.round}, ${env.step}) does not match the path (${p.task}, round ${p.round}, ${p.step})`, {
        where: { path: 'step' },
      });
    }
    const site = requireSite(res, env.site);
    const bytes = (req as Request & { rawBody?: Buffer }).rawBody?.byteLength ?? 0;
    const outcome = await relay(engine).send(site, env, bytes);
    res.status(outcome === 'accepted' ? 201 : 200).json({ status: outcome, round: env.round, step: env.step });
  });

  r.get('/v1/secagg/:task/:round/:step', (req, res) => {
    const p = parseRelay(stepParams, req.params, 'secagg path');
    res.json(relay(engine).fetch(requireSite(res), p.task, p.round, p.step));
  });

  return r;
}
