/**
 * What the gateway and the aggregator agree on to run secure aggregation over HTTP (pairwise masking or Paillier;
 * the round info names the scheme and its steps): the steps of each scheme, the relay wire messages (validated with
 * zod like every federation message), the round id bound into every secagg message, and the layout of the vector
 * that is summed (the same for both schemes; Paillier's packing has per-sum headroom, so the masking range check
 * below is the stricter of the two and is applied to both).
 *
 * Weighting (FedAvg by samples) inside the secure sum: a site with n samples sends the vector
 *
 *   [ w·Δ_1, ..., w·Δ_L, w ]      with  w = n / sampleScale  (sampleScale announced by the aggregator)
 *
 * so the aggregator learns Σ w·Δ and Σ w and divides: Σ n·Δ / Σ n, the FedAvg delta. It never sees a site's sample
 * count, and dropouts are handled for free (both sums cover exactly the survivors). Scaling by n/sampleScale rather
 * than n keeps values inside the fixed-point range of src/secagg/fixedpoint.ts: |w·Δ_j| must stay below
 * maxAbs = floor((2^31 - 1) / sites) / 2^f (10922 for 3 sites, 3276 for 10 at f = 16); a clipped update (|Δ_j| <=
 * clip norm) from a site with n <= 100·sampleScale fits for up to ~30 sites. A site checks this before it advertises
 * keys (or encrypts) and refuses with a clear error otherwise.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { FhirfedError } from '../core/errors.js';
import { FixedPointCodec, type SecAggParams } from '../secagg/index.js';
import { siteIdSchema, taskSchema, WIRE_VERSION } from './messages.js';

/** The steps of pairwise masking. */
export const SECURE_STEPS = ['advertise', 'shares', 'masked', 'unmask'] as const;
/** The steps of Paillier: every site sends its ciphertexts; one site holding the private key decrypts the sum. */
export const PAILLIER_STEPS = ['ciphertexts', 'decrypt'] as const;
export const ALL_SECURE_STEPS = [...SECURE_STEPS, ...PAILLIER_STEPS] as const;
export type SecureStep = (typeof ALL_SECURE_STEPS)[number];
export type SecureScheme = 'masking' | 'paillier';
export const STEPS_OF: Readonly<Record<SecureScheme, readonly SecureStep[]>> = { masking: SECURE_STEPS, paillier: PAILLIER_STEPS };
/** Steps whose senders can still contribute to the sum: a round with fewer than minSites of them fails early. */
export const CONTRIBUTOR_STEPS: ReadonlySet<SecureStep> = new Set(['advertise', 'shares', 'masked', 'ciphertexts']);

export const secureStepSchema = z.enum(ALL_SECURE_STEPS);
const v = z.literal(WIRE_VERSION);
const round = z.number().int().min(0);
const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const isoTime = z.iso.datetime({ offset: true });

export const secureParamsSchema = z
  .object({
    /** Model parameters + 1 (the weight). */
    vectorLength: z.number().int().min(2),
    maxDropouts: z.number().int().min(0),
    graph: z.discriminatedUnion('kind', [z.object({ kind: z.literal('complete') }).strict(), z.object({ kind: z.literal('harary'), degree: z.number().int().min(2) }).strict()]),
    fractionalBits: z.number().int().min(0).max(30),
    sampleScale: z.number().positive(),
  })
  .strict();
export type SecureParams = z.infer<typeof secureParamsSchema>;

/** Paillier only: which federation key the round expects and how the plaintext is packed. */
export const paillierRoundSchema = z
  .object({
    /** SHA-256 (hex) of the public key's n: a site refuses a round run under another key. */
    keyFingerprint: z.string().regex(/^[0-9a-f]{64}$/),
    /** Slot headroom of the packing: the most updates the aggregate may sum (the selected sites). */
    maxSummands: z.number().int().min(1).max(255),
  })
  .strict();

/**
 * GET /v1/secagg/:task/:round: what a site needs to join the protocol. With paillier, `params.maxDropouts` is 0 and
 * `params.graph` complete (they describe masking only), `roster` is empty and `paillier` is set.
 */
export const secureRoundInfoSchema = z
  .object({
    v,
    type: z.literal('secagg-round'),
    task: taskSchema,
    round,
    scheme: z.enum(['masking', 'paillier']),
    /** The scheme's steps in order (STEPS_OF). */
    steps: z.array(secureStepSchema).min(1).max(8),
    /** Contributions the aggregate must sum at least (a paillier decrypting site checks the aggregate's count). */
    minSites: z.number().int().min(1),
    /** Random per secure round: binds every secagg message to this run of this round. */
    session: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
    step: secureStepSchema.or(z.literal('done')),
    deadline: isoTime,
    params: secureParamsSchema,
    /** ed25519 public keys (base64) of the selected sites, as registered at the aggregator. */
    roster: z.record(siteIdSchema, b64),
    selected: z.array(siteIdSchema).max(255),
    paillier: paillierRoundSchema.optional(),
  })
  .strict()
  .superRefine((info, ctx) => {
    if (info.steps.join() !== STEPS_OF[info.scheme].join()) ctx.addIssue({ code: 'custom', path: ['steps'], message: `the ${info.scheme} steps are ${STEPS_OF[info.scheme].join(', ')}` });
    if ((info.scheme === 'paillier') !== (info.paillier !== undefined)) ctx.addIssue({ code: 'custom', path: ['paillier'], message: 'present exactly when the scheme is paillier' });
    if (info.step !== 'done' && !info.steps.includes(info.step)) ctx.addIssue({ code: 'custom', path: ['step'], message: `not a step of ${info.scheme}` });
  });
export type SecureRoundInfo = z.infer<typeof secureRoundInfoSchema>;

/** POST /v1/secagg/:task/:round/:step body. The message itself is validated by src/secagg. */
export const relayEnvelopeSchema = z.object({ v, type: z.literal('secagg'), site: siteIdSchema, task: taskSchema, round, step: secureStepSchema, message: z.unknown() }).strict();
export type RelayEnvelope = z.infer<typeof relayEnvelopeSchema>;

/** GET /v1/secagg/:task/:round/:step: what the aggregator routes to this site once the step has closed. */
export const relayResultSchema = z.discriminatedUnion('status', [
  z.object({ v, type: z.literal('secagg-relay'), round, step: secureStepSchema, status: z.literal('pending'), deadline: isoTime }).strict(),
  z.object({ v, type: z.literal('secagg-relay'), round, step: secureStepSchema, status: z.literal('ready'), message: z.unknown() }).strict(),
]);
export type RelayResult = z.infer<typeof relayResultSchema>;

/** Parses a relay wire value; the error names the field, like parseMessage. */
export function parseRelay<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const path = first?.path.map(String).join('.') ?? '';
  throw new FhirfedError('FHIRFED_ERR_VALIDATION', `invalid ${what}: ${path ? `${path}: ` : ''}${first?.message ?? 'malformed'}`, {
    where: { path },
    hint: `both ends must speak federation wire version ${WIRE_VERSION}; check the sender's fhirfed version`,
  });
}

export const newSessionId = (): string => randomBytes(12).toString('base64url');

/** The round id inside secagg messages and key derivations. */
export const secaggRoundId = (task: string, round: number, session: string): string => `${task}/${round}/${session}`;

export function toSecAggParams(p: SecureParams): SecAggParams {
  return { vectorLength: p.vectorLength, maxDropouts: p.maxDropouts, graph: p.graph, fractionalBits: p.fractionalBits, clampDropouts: true };
}

/**
 * Largest accepted relay body per step: the masked input is 4 bytes per value in base64 plus a small header;
 * keys, shares and unmask messages grow with the number of sites (at most 255 per round). Paillier ciphertexts
 * are `ciphertexts` hex strings of at most `ciphertextHexChars` characters (n^2 in hex) each; the decrypted sum is
 * 4 bytes per value in base64 like the masked input.
 */
export function maxRelayBytes(step: SecureStep, vectorLength: number, paillier?: { ciphertexts: number; ciphertextHexChars: number }): number {
  if (step === 'ciphertexts' && paillier) return paillier.ciphertexts * (paillier.ciphertextHexChars + 3) + 8192;
  return step === 'masked' || step === 'decrypt' ? 4 * Math.ceil((vectorLength * 4) / 3) + 8192 : 256 * 1024;
}

/** [w·Δ, w] with w = numSamples / sampleScale, checked against the fixed-point range for `sites` summands. */
export function weightedVector(delta: Float32Array, numSamples: number, p: Pick<SecureParams, 'vectorLength' | 'sampleScale' | 'fractionalBits'>, sites: number): Float32Array {
  if (delta.length + 1 !== p.vectorLength) {
    throw new FhirfedError('FHIRFED_ERR_VALIDATION', `the update has ${delta.length} values, the round expects ${p.vectorLength - 1}`, {
      hint: 'the site and the aggregator disagree on the model size: check that they run the same model architecture',
    });
  }
  const w = numSamples / p.sampleScale;
  const out = new Float32Array(p.vectorLength);
  let peak = w;
  for (let i = 0; i < delta.length; i++) {
    const x = (delta[i] as number) * w;
    out[i] = x;
    peak = Math.max(peak, Math.abs(x));
  }
  out[delta.length] = w;
  const limit = new FixedPointCodec({ fractionalBits: p.fractionalBits, maxSummands: Math.max(1, sites) }).maxAbs;
  if (!(peak <= limit)) {
    throw new FhirfedError('FHIRFED_ERR_SECAGG', `the weighted update peaks at ${peak.toPrecision(4)} (weight ${w} = ${numSamples} samples / sampleScale ${p.sampleScale}), beyond the fixed-point range ±${limit} for ${sites} sites`, {
      hint: 'clip the update (privacy.clipNorm), or raise task.secagg.sampleScale or lower task.secagg.fractionalBits at the aggregator',
    });
  }
  return out;
}

/** Σ w·Δ / Σ w from the unmasked sum. */
export function unweightSum(sum: Float32Array): Float32Array {
  const total = sum[sum.length - 1] as number;
  if (!(total > 0)) {
    throw new FhirfedError('FHIRFED_ERR_SECAGG', `the securely summed weight is ${total}; it must be positive`, { hint: 'every site sends numSamples / sampleScale as the last value' });
  }
  const out = new Float32Array(sum.length - 1);
  for (let i = 0; i < out.length; i++) out[i] = (sum[i] as number) / total;
  return out;
}
