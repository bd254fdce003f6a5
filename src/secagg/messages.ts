/**
 * Wire format of the secure-aggregation protocol (Bonawitz et al. 2017): versioned, zod-validated,
 * JSON-serialisable (bytes as base64). Every client message carries (v, type, round, sender) and an ed25519
 * signature over a canonical encoding of everything else, so the aggregator cannot forge or alter a site's keys,
 * and a message replayed into another round or sent twice in one round is rejected by the receiver.
 */
import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { z } from 'zod';
import { FhirfedError } from '../core/errors.js';

export const SECAGG_WIRE_VERSION = 1 as const;
const DOMAIN = 'fhirfed-secagg/v1\n';

/** Wire field shapes every secagg message uses (masking here, Paillier in codec.ts). */
export const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
export const siteId = z.string().min(1).max(128);
const roundId = z.string().min(1).max(128);
const header = { v: z.literal(SECAGG_WIRE_VERSION), round: roundId, sender: siteId, sig: b64 };

/** Round 0: a site's two fresh X25519 public keys for this round (c: share encryption, s: pairwise masks). */
export const advertiseSchema = z.object({ ...header, type: z.literal('advertise'), cPk: b64, sPk: b64 }).strict();
/** Round 1: Shamir shares of the site's mask key and self-mask seed, AEAD-encrypted to each neighbour. */
export const sharesSchema = z
  .object({
    ...header,
    type: z.literal('shares'),
    /** SHA-256 of the self-mask seed: lets the aggregator check the seed it rebuilds from shares. */
    bHash: b64,
    shares: z.array(z.object({ to: siteId, nonce: b64, ct: b64 }).strict()).max(255),
  })
  .strict();
/** Round 2: the masked, fixed-point-encoded update (little-endian uint32 words). */
export const maskedSchema = z.object({ ...header, type: z.literal('masked'), length: z.number().int().positive(), data: b64 }).strict();
/** Round 3: shares the server needs: self-mask seeds of survivors, mask keys of dropped sites. */
export const unmaskSchema = z
  .object({
    ...header,
    type: z.literal('unmask'),
    seedShares: z.array(z.object({ of: siteId, share: b64 }).strict()).max(255),
    keyShares: z.array(z.object({ of: siteId, share: b64 }).strict()).max(255),
  })
  .strict();

export type AdvertiseMsg = z.infer<typeof advertiseSchema>;
export type SharesMsg = z.infer<typeof sharesSchema>;
export type MaskedMsg = z.infer<typeof maskedSchema>;
export type UnmaskMsg = z.infer<typeof unmaskSchema>;
export type ClientMsg = AdvertiseMsg | SharesMsg | MaskedMsg | UnmaskMsg;

/** Server -> clients after round 0: every advertisement, still signed by its site. */
export const keysBroadcastSchema = z
  .object({ v: z.literal(SECAGG_WIRE_VERSION), type: z.literal('keys'), round: roundId, advertisements: z.array(advertiseSchema).max(255) })
  .strict();
/** Server -> one client after round 1: the ciphertexts addressed to it. */
export const sharesInboxSchema = z
  .object({
    v: z.literal(SECAGG_WIRE_VERSION),
    type: z.literal('inbox'),
    round: roundId,
    to: siteId,
    shares: z.array(z.object({ from: siteId, nonce: b64, ct: b64 }).strict()).max(255),
  })
  .strict();
/** Server -> clients after round 2: who submitted a masked input and who dropped out. */
export const unmaskRequestSchema = z
  .object({
    v: z.literal(SECAGG_WIRE_VERSION),
    type: z.literal('unmask-request'),
    round: roundId,
    survivors: z.array(siteId).max(255),
    dropped: z.array(siteId).max(255),
  })
  .strict();

export type KeysBroadcast = z.infer<typeof keysBroadcastSchema>;
export type SharesInbox = z.infer<typeof sharesInboxSchema>;
export type UnmaskRequest = z.infer<typeof unmaskRequestSchema>;

export function secaggError(message: string, hint?: string, path?: string): FhirfedError {
  return new FhirfedError('FHIRFED_ERR_SECAGG', message, {
    ...(hint === undefined ? {} : { hint }),
    ...(path === undefined ? {} : { where: { path } }),
  });
}

/** Validates a wire value against a schema; a failure names the first bad field. */
export function parseWire<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  throw secaggError(`invalid ${what}: ${path ? `${path}: ` : ''}${issue?.message ?? 'malformed'}`, 'check that both ends run the same fhirfed wire version', path);
}

export const toB64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/** Decodes base64, optionally insisting on a byte length (keys 32, signatures 64). */
export function fromB64(s: string, what: string, length?: number): Uint8Array {
  const buf = Buffer.from(s, 'base64');
  const out = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (length !== undefined && out.length !== length) throw secaggError(`${what} must be ${length} bytes (got ${out.length})`);
  return out;
}

/** JSON with object keys sorted at every level: the same value always signs to the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What is signed: DOMAIN || SHA-256(canonical JSON of the message without `sig`). Hash-then-sign keeps ed25519's
 * internal SHA-512 passes off a 500 KB masked input (in JS they cost ~100 ms; node:crypto's SHA-256 takes ~1 ms).
 */
function signingBytes(msg: Omit<ClientMsg, 'sig'> | ClientMsg): Uint8Array {
  const { sig: _sig, ...rest } = msg as ClientMsg;
  const digest = createHash('sha256').update(canonicalJson(rest), 'utf8').digest();
  const domain = new TextEncoder().encode(DOMAIN);
  const out = new Uint8Array(domain.length + digest.length);
  out.set(domain, 0);
  out.set(digest, domain.length);
  return out;
}

/** Signs a client message with the site's long-term ed25519 key. */
export function signMessage<T extends ClientMsg>(unsigned: Omit<T, 'sig'>, signingKey: Uint8Array): T {
  const sig = ed25519.sign(signingBytes(unsigned), signingKey);
  return { ...unsigned, sig: toB64(sig) } as T;
}

/** Verifies the signature of `msg` against the sender's ed25519 public key from the roster. */
export function verifyMessage(msg: ClientMsg, roster: ReadonlyMap<string, Uint8Array>): void {
  const pk = roster.get(msg.sender);
  if (!pk) throw secaggError(`message from ${msg.sender}, which is not in the round's roster`, 'add the site to the federation roster', 'sender');
  let ok = false;
  try {
    ok = ed25519.verify(fromB64(msg.sig, 'signature', 64), signingBytes(msg), pk);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw secaggError(`bad signature on the ${msg.type} message from ${msg.sender} in round ${msg.round}: it was altered or not signed by that site`, 'check the site key registered in the roster', 'sig');
  }
}

/**
 * Tracks (round, sender, type) per receiver: the same message twice in one round is a replay. `check` runs before
 * the signature is verified and `accept` after, so a forged copy arriving first cannot lock out the genuine one.
 */
export class ReplayGuard {
  private readonly seen = new Set<string>();

  constructor(private readonly round: string) {}

  check(msg: { round: string; sender: string; type: string }): void {
    if (msg.round !== this.round) {
      throw secaggError(`${msg.type} message from ${msg.sender} is for round ${msg.round}, not the current round ${this.round}`, 'a message from another round is a replay or a stale retry', 'round');
    }
    if (this.seen.has(`${msg.sender}\u0000${msg.type}`)) {
      throw secaggError(`duplicate ${msg.type} message from ${msg.sender} in round ${msg.round} (replay)`, undefined, 'sender');
    }
  }

  accept(msg: { sender: string; type: string }): void {
    this.seen.add(`${msg.sender}\u0000${msg.type}`);
  }
}

/** Builds the roster map from base64 or raw ed25519 public keys, checking each is 32 bytes. */
export function rosterFrom(entries: Readonly<Record<string, string | Uint8Array>>): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const [id, k] of Object.entries(entries)) m.set(id, typeof k === 'string' ? fromB64(k, `roster key of ${id}`, 32) : k);
  return m;
}
