import express, { type Router } from 'express';
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';
import type { Config } from '../../config/schema.js';
import { FhirfedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Ledger, LedgerEntry } from '../../ingest/ledger/index.js';
import { fhirEntry, unbundle } from '../../ingest/pipeline.js';

/**
 * `POST /fhir` (a Bundle or one resource) and `POST /fhir/:type`: validated, then recorded in the ledger in one
 * transaction. All or nothing: if any resource is invalid the answer is 422 listing each problem and nothing is
 * stored, so a client can fix and resend the same request. 201 when something new was stored, 200 when everything
 * was already there; the body is an OperationOutcome summary (accepted, duplicates, per type).
 */

export interface FhirIngestDeps {
  readonly config: Config;
  readonly ledger: Ledger;
  readonly logger: Logger;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

function info(text: string): OperationOutcomeIssue {
  return { severity: 'information', code: 'informational', details: { text } };
}

export function fhirIngestRouter(deps: FhirIngestDeps): Router {
  const router = express.Router();
  const parseJson = express.json({ type: ['application/fhir+json', 'application/json', 'application/*+json'], limit: deps.config.server.bodyLimitBytes });

  const handle = (req: express.Request, res: express.Response): void => {
    if (!req.is(['application/fhir+json', 'application/json', 'application/*+json'])) {
      throw new FhirfedError('FHIRFED_ERR_UNSUPPORTED_MEDIA_TYPE', `POST ${req.originalUrl} needs a JSON body, got ${req.get('content-type') ?? 'no Content-Type'}`, {
        hint: 'send Content-Type: application/fhir+json with a FHIR resource or Bundle',
      });
    }
    const body: unknown = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', 'the body must be one FHIR resource or a Bundle (a JSON object)', {
        hint: 'for many resources send a Bundle (type batch, transaction or collection)',
      });
    }
    const type = req.params.type;
    if (type !== undefined && (body as { resourceType?: unknown }).resourceType !== type) {
      throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `POST /fhir/${type} carries a ${String((body as { resourceType?: unknown }).resourceType)}`, {
        where: { path: 'resourceType' },
        hint: `send a ${type}, or POST to /fhir`,
      });
    }
    const isBundle = (body as { resourceType?: unknown }).resourceType === 'Bundle';
    const entries: LedgerEntry[] = [];
    let i = 0;
    for (const r of unbundle(body)) {
      entries.push(fhirEntry(r, 'http', isBundle ? `Bundle.entry[${i}].resource` : undefined));
      i++;
    }
    const invalid = entries.filter((e) => e.dead);
    if (invalid.length > 0) {
      throw new FhirfedError('FHIRFED_ERR_FHIR_INVALID', `${invalid.length} of ${entries.length} resource(s) are invalid; nothing was stored`, {
        hint: 'fix the listed resources and resend the request',
        details: invalid.map((e) => ({ message: e.dead?.message ?? 'invalid', path: e.dead?.where ?? '' })),
      });
    }
    if (entries.length === 0) {
      throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', 'the Bundle has no entries with a resource', { where: { path: 'Bundle.entry' } });
    }
    const results = deps.ledger.write(entries);
    const byType: Record<string, number> = {};
    let accepted = 0;
    results.forEach((r, k) => {
      if (r.duplicate) return;
      accepted++;
      const t = entries[k]?.resources?.[0]?.resourceType ?? 'unknown';
      byType[t] = (byType[t] ?? 0) + 1;
    });
    const duplicates = results.length - accepted;
    deps.logger.info({ accepted, duplicates }, 'fhir post ingested');
    const outcome: OperationOutcome = {
      resourceType: 'OperationOutcome',
      issue: [
        info(`accepted ${accepted}, duplicates ${duplicates}`),
        ...Object.entries(byType).map(([t, n]) => info(`${t}: ${n} stored`)),
      ],
    };
    res.status(accepted > 0 ? 201 : 200).type(FHIR_JSON).json(outcome);
  };

  router.post('/', parseJson, handle);
  router.post('/:type', parseJson, handle);
  return router;
}
