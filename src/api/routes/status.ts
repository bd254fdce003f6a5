/**
 * GET /status on the gateway: what the aggregator polls and operators read. Authenticated with the aggregator's
 * signature (signer `aggregator`, its public key from configuration) or an operator bearer token. Each section
 * comes from an injected provider; a provider that fails or returns something outside the wire schema is
 * reported in `errors` and its section is null, so one broken dependency never hides the rest, and nothing but
 * the schema's counts, rates and ids can leave the site.
 */
import { Router } from 'express';
import type { z } from 'zod';
import { jsonWithRawBody, MemoryNonceStore, requireAuth, type NonceStore, type OperatorTokens } from '../../federation/auth.js';
import { statusReportSchema, WIRE_VERSION, type StatusReport } from '../../federation/messages.js';
import { AGGREGATOR_SIGNER } from '../../federation/signing.js';

type Section<K extends keyof StatusReport> = () => Promise<StatusReport[K]> | StatusReport[K];

export interface StatusProviders {
  readonly site: string;
  readonly health?: Section<'health'>;
  readonly modelVersion?: Section<'modelVersion'>;
  readonly queue?: Section<'queue'>;
  readonly data?: Section<'data'>;
  readonly privacy?: Section<'privacy'>;
  readonly round?: Section<'round'>;
}

export interface StatusRouterOptions {
  readonly providers: StatusProviders;
  /** The aggregator's ed25519 public key; without it only operator tokens are accepted. */
  readonly aggregatorPublicKey?: Uint8Array;
  readonly operatorTokens?: OperatorTokens;
  /** @defaultValue an in-memory store */
  readonly nonces?: NonceStore;
}

/** Maps the training queue's state (src/training getQueueState) to the status section: counts only. */
export function summarizeQueue(s: { readonly counts: Readonly<Record<string, number>>; readonly active: readonly unknown[] }): NonNullable<StatusReport['queue']> {
  return { counts: { ...s.counts }, active: s.active.length };
}

const shape = statusReportSchema.shape;

async function section<T>(name: string, schema: z.ZodType<T>, fn: (() => Promise<T> | T) | undefined, fallback: T, errors: Record<string, string>): Promise<T> {
  if (!fn) return fallback;
  try {
    const r = schema.safeParse(await fn());
    if (r.success) return r.data;
    errors[name] = `provider returned data outside the status schema (${r.error.issues[0]?.path.join('.') ?? ''}: ${r.error.issues[0]?.message ?? ''})`;
  } catch (e) {
    errors[name] = (e instanceof Error ? e.message : String(e)).slice(0, 500);
  }
  return fallback;
}

export async function buildStatusReport(p: StatusProviders): Promise<StatusReport> {
  const errors: Record<string, string> = {};
  const [health, modelVersion, queue, data, privacy, round] = await Promise.all([
    section('health', shape.health, p.health, 'ok' as const, errors),
    section('modelVersion', shape.modelVersion, p.modelVersion, null, errors),
    section('queue', shape.queue, p.queue, null, errors),
    section('data', shape.data, p.data, null, errors),
    section('privacy', shape.privacy, p.privacy, null, errors),
    section('round', shape.round, p.round, null, errors),
  ]);
  const degraded = Object.keys(errors).length > 0 && health === 'ok';
  return {
    v: WIRE_VERSION,
    type: 'status',
    site: p.site,
    at: new Date().toISOString(),
    health: degraded ? 'degraded' : health,
    modelVersion,
    queue,
    data,
    privacy,
    round,
    ...(Object.keys(errors).length > 0 ? { errors } : {}),
  };
}

/** Mount at `/status` through createApp's `routers`. */
export function statusRouter(o: StatusRouterOptions): Router {
  const r = Router();
  const key = o.aggregatorPublicKey;
  r.use(jsonWithRawBody(1024));
  r.use(
    requireAuth({
      resolveKey: (signer) => (signer === AGGREGATOR_SIGNER ? key : undefined),
      nonces: o.nonces ?? new MemoryNonceStore(),
      operatorScope: 'status',
      ...(o.operatorTokens ? { operatorTokens: o.operatorTokens } : {}),
    }),
  );
  r.get('/', async (_req, res) => {
    res.json(await buildStatusReport(o.providers));
  });
  return r;
}
