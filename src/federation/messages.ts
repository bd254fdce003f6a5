/**
 * The federation's wire messages (gateway <-> aggregator), version 1. Every message is a zod schema in one
 * discriminated union on `type`; whatever arrives over HTTP is parsed with `parseMessage` before use, so a
 * malformed or foreign message is refused with the first bad field named, never half-processed.
 *
 * Data statistics in a status report are numbers keyed by feature/label name only: the schema itself has no place
 * for a record, an identifier or free text, which keeps PHI out by construction.
 */
import { z } from 'zod';
import { FhirfedError } from '../core/errors.js';

export const WIRE_VERSION = 1 as const;

const v = z.literal(WIRE_VERSION);
export const siteIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63 characters');
export const taskSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 letters, digits, ".", "_" or "-"');
const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const round = z.number().int().min(0);
const version = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a model version: 1-64 letters, digits, ".", "_" or "-"');
const isoTime = z.iso.datetime({ offset: true });
const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const fraction = z.number().min(0).max(1);
const statName = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'a feature or label name');
const numberMap = z.record(statName, finite);

/** A site announces itself (its key is registered out of band; this records its status URL and software). */
export const registrationSchema = z
  .object({ v, type: z.literal('register'), site: siteIdSchema, statusUrl: z.url({ protocol: /^https?$/ }).optional(), software: z.string().max(64).optional() })
  .strict();

/** Flat model weights: little-endian Float32 as base64, with a SHA-256 (hex) of the raw bytes. */
export const globalModelSchema = z
  .object({
    v,
    type: z.literal('global-model'),
    task: taskSchema,
    version,
    round,
    length: z.number().int().positive(),
    encoding: z.literal('f32le-base64'),
    weights: b64,
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();

export const codecSchemeSchema = z.enum(['plain', 'masking', 'paillier']);
export type CodecScheme = z.infer<typeof codecSchemeSchema>;

/** The aggregator's view of the current round for a task; sites poll it. */
export const roundAnnouncementSchema = z
  .object({
    v,
    type: z.literal('round'),
    task: taskSchema,
    round,
    status: z.enum(['open', 'closed', 'done']),
    modelVersion: version,
    deadline: isoTime,
    selected: z.array(siteIdSchema).max(10_000),
    codec: codecSchemeSchema,
    /** Training hyper-parameters for this round, passed to the trainer as they are. */
    hyper: z.record(z.string(), z.unknown()),
    /** When status is 'done': why the federation stopped and which model is best. */
    stopReason: z.string().max(256).optional(),
    bestVersion: version.optional(),
  })
  .strict();

/** PHI-free data-quality summary of a site's training data (every field a rate, a count or a mean). */
export const qualityStatsSchema = z
  .object({
    rows: z.number().int().min(0).optional(),
    /** Share of expected feature cells that are present. */
    fillRate: fraction.optional(),
    /** Share of present values refused by plausibility checks. */
    plausibilityFailureRate: fraction.optional(),
    /** Positive share per label (head). */
    labelPrevalence: z.record(statName, fraction).optional(),
    /** Mean per numeric feature (after unit harmonisation, before standardisation). */
    featureMeans: numberMap.optional(),
  })
  .strict();
export type QualityStats = z.infer<typeof qualityStatsSchema>;

export const payloadSchema = z.discriminatedUnion('scheme', [
  z.object({ scheme: z.literal('plain'), length: z.number().int().positive(), data: b64 }).strict(),
  /** Validated by the masking codec (src/secagg messages carry their own schema and signature). */
  z.object({ scheme: z.literal('masking'), message: z.unknown() }).strict(),
  z.object({ scheme: z.literal('paillier'), message: z.unknown() }).strict(),
]);
export type UpdatePayload = z.infer<typeof payloadSchema>;

export const updateEnvelopeSchema = z
  .object({
    v,
    type: z.literal('update'),
    site: siteIdSchema,
    task: taskSchema,
    round,
    modelVersion: version,
    numSamples: z.number().int().positive(),
    quality: qualityStatsSchema.optional(),
    payload: payloadSchema,
  })
  .strict();

export const heartbeatSchema = z
  .object({ v, type: z.literal('heartbeat'), site: siteIdSchema, at: isoTime, modelVersion: version.optional(), busy: z.boolean().optional() })
  .strict();

export const headMetricsSchema = z
  .object({ f1: fraction, auroc: fraction.nullable(), n: z.number().int().min(0), loss: finite.optional(), accuracy: fraction.optional() })
  .strict();

/** Holdout metrics of one global model version at one site, per head. */
export const evaluationReportSchema = z
  .object({
    v,
    type: z.literal('evaluation'),
    site: siteIdSchema,
    task: taskSchema,
    round,
    modelVersion: version,
    heads: z.record(statName, headMetricsSchema),
  })
  .strict();

export const statusReportSchema = z
  .object({
    v,
    type: z.literal('status'),
    site: siteIdSchema,
    at: isoTime,
    health: z.enum(['ok', 'degraded', 'down']),
    modelVersion: version.nullable(),
    /** Counts of the training queue by state; the provider names jobs by (task, round) only. */
    queue: z
      .object({ counts: z.record(z.string().max(32), z.number().int().min(0)), active: z.number().int().min(0).optional() })
      .strict()
      .nullable(),
    data: qualityStatsSchema.nullable(),
    privacy: z.object({ epsilonSpent: z.number().min(0), epsilonBudget: z.number().positive().optional(), delta: z.number().gt(0).lt(1).optional() }).strict().nullable(),
    round: z.object({ task: taskSchema, round, state: z.string().max(32) }).strict().nullable(),
    /** Providers that failed while building the report (name -> reason); the rest of the report is still valid. */
    errors: z.record(z.string().max(32), z.string().max(512)).optional(),
  })
  .strict();

export const messageSchema = z.discriminatedUnion('type', [
  registrationSchema,
  globalModelSchema,
  roundAnnouncementSchema,
  updateEnvelopeSchema,
  heartbeatSchema,
  evaluationReportSchema,
  statusReportSchema,
]);

export type Registration = z.infer<typeof registrationSchema>;
export type GlobalModelMsg = z.infer<typeof globalModelSchema>;
export type RoundAnnouncement = z.infer<typeof roundAnnouncementSchema>;
export type UpdateEnvelope = z.infer<typeof updateEnvelopeSchema>;
export type Heartbeat = z.infer<typeof heartbeatSchema>;
export type HeadMetricsMsg = z.infer<typeof headMetricsSchema>;
export type EvaluationReport = z.infer<typeof evaluationReportSchema>;
export type StatusReport = z.infer<typeof statusReportSchema>;
export type FederationMessage = z.infer<typeof messageSchema>;
export type MessageType = FederationMessage['type'];

/**
 * Validates `value` as the message `type` (or any message when omitted). Errors name the field and say where the
 * message came from, so an operator can tell a version mismatch from a broken peer.
 */
export function parseMessage<T extends MessageType>(value: unknown, type: T, from = 'peer'): Extract<FederationMessage, { type: T }> {
  const r = messageSchema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.slice(0, 5);
    const first = issues[0];
    const path = first?.path.map(String).join('.') ?? '';
    throw new FhirfedError('FHIRFED_ERR_VALIDATION', `invalid ${type} message from ${from}: ${path ? `${path}: ` : ''}${first?.message ?? 'malformed'}`, {
      where: { path },
      details: issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
      hint: `both ends must speak federation wire version ${WIRE_VERSION}; check the sender's fhirfed version`,
    });
  }
  if (r.data.type !== type) {
    throw new FhirfedError('FHIRFED_ERR_VALIDATION', `expected a ${type} message from ${from}, got ${r.data.type}`, { where: { path: 'type' } });
  }
  return r.data as Extract<FederationMessage, { type: T }>;
}

function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new FhirfedError('FHIRFED_ERR_INTERNAL', 'this platform is big-endian; the federation wire format is little-endian Float32');
  }
}

export function float32ToBase64(values: Float32Array): string {
  assertLittleEndian();
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

/** Decodes base64 Float32 (copying, so the result is aligned) and checks the length and finiteness. */
export function base64ToFloat32(data: string, length: number, what: string): Float32Array {
  assertLittleEndian();
  const buf = Buffer.from(data, 'base64');
  if (buf.byteLength !== length * 4) {
    throw new FhirfedError('FHIRFED_ERR_VALIDATION', `${what} carries ${buf.byteLength} bytes, expected ${length * 4} (${length} Float32 values)`, {
      hint: 'the sender and the aggregator disagree on the model size: check that they run the same model architecture',
    });
  }
  const out = new Float32Array(length);
  new Uint8Array(out.buffer).set(buf);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) {
      throw new FhirfedError('FHIRFED_ERR_VALIDATION', `${what} has a non-finite value at index ${i}`, { hint: 'the local training diverged; lower the learning rate' });
    }
  }
  return out;
}
