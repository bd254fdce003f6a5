/**
 * The one contract federation code uses, whatever protects the update. A round is a small state machine on each
 * side: a site session answers each aggregator message with its next message; the aggregator session collects one
 * message per site per step and, when the federation code decides the step is over (all arrived or a deadline
 * passed: late sites count as dropped), advances, yielding either messages to send to sites or the final sum.
 *
 *   plain:    site -> update                                      => sum
 *   masking:  advertise -> keys -> shares -> inbox -> masked -> unmask-request -> unmask => sum
 *   paillier: site -> ciphertexts => encrypted sum to the decrypting site -> decrypted sum => sum (only that site
 *             answers the second step)
 *
 * All messages are JSON-serialisable and validated on receipt; the federation layer only routes them.
 */
import type { PrivateKey } from 'paillier-bigint';
import { z } from 'zod';
import { SecAggClient, type SecAggClientOptions } from './client.js';
import { b64, parseWire, secaggError, siteId } from './messages.js';
import { paillierPayloadSchema, type PaillierCodec, type PaillierPayload } from './paillier.js';
import { SecAggServer, type SecAggServerOptions } from './server.js';

export type CodecScheme = 'plain' | 'masking' | 'paillier';

/** What the aggregator does after closing a step. */
export type Advance =
  /** `expect`: the sites the next step waits for (default: the senders of the step just closed). */
  | { readonly kind: 'send'; readonly messages: ReadonlyMap<string, unknown>; readonly expect?: readonly string[] }
  | { readonly kind: 'done'; readonly sum: Float32Array; readonly contributors: readonly string[] };

export interface SiteSession {
  readonly scheme: CodecScheme;
  /** The site's next message given the aggregator's last one (undefined to start); null when the site is done. */
  next(fromAggregator?: unknown): Promise<unknown | null>;
}

export interface AggregatorSession {
  readonly scheme: CodecScheme;
  /** Accepts one site message for the current step (validated; throws FHIRFED_ERR_SECAGG on a bad one). */
  receive(from: string, message: unknown): void;
  /** Closes the current step. */
  advance(): Promise<Advance>;
}

export interface UpdateCodec {
  readonly scheme: CodecScheme;
  siteSession(siteId: string, update: Float32Array): SiteSession;
  aggregatorSession(sites: readonly string[]): AggregatorSession;
}

// ---------------------------------------------------------------------------------------------------------------
// plain: no protection (development, or when DP noise alone is the protection).

const plainSchema = z.object({ v: z.literal(1), scheme: z.literal('plain'), data: z.string() }).strict();

export class PlainCodec implements UpdateCodec {
  readonly scheme = 'plain' as const;

  constructor(private readonly vectorLength: number) {}

  siteSession(_siteId: string, update: Float32Array): SiteSession {
    let sent = false;
    return {
      scheme: 'plain',
      next: async () => {
        if (sent) return null;
        sent = true;
        return { v: 1, scheme: 'plain', data: Buffer.from(update.buffer, update.byteOffset, update.byteLength).toString('base64') };
      },
    };
  }

  aggregatorSession(): AggregatorSession {
    const sum = new Float64Array(this.vectorLength);
    const contributors: string[] = [];
    return {
      scheme: 'plain',
      receive: (from, message) => {
        const m = parseWire(plainSchema, message, 'plain update');
        const bytes = Buffer.from(m.data, 'base64');
        if (bytes.length !== this.vectorLength * 4) throw secaggError(`update from ${from} has ${bytes.length / 4} values, expected ${this.vectorLength}`);
        if (contributors.includes(from)) throw secaggError(`duplicate update from ${from}`);
        const v = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
        for (let i = 0; i < v.length; i++) sum[i] = (sum[i] as number) + (v[i] as number);
        contributors.push(from);
      },
      advance: async () => ({ kind: 'done', sum: Float32Array.from(sum), contributors }),
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// masking: Bonawitz et al. pairwise masking (SecAgg / SecAgg+), see client.ts and server.ts.

export class MaskingCodec implements UpdateCodec {
  readonly scheme = 'masking' as const;

  constructor(
    private readonly round: string,
    private readonly roster: SecAggClientOptions['roster'],
    private readonly params: SecAggClientOptions['params'],
    /** Per-site ed25519 secret key lookup (only the site's own key exists at a site). */
    private readonly signingKey: (siteId: string) => Uint8Array,
  ) {}

  siteSession(siteId: string, update: Float32Array): SiteSession {
    const client = new SecAggClient({ siteId, round: this.round, signingKey: this.signingKey(siteId), roster: this.roster, params: this.params });
    let step = 0;
    return {
      scheme: 'masking',
      next: async (msg) => {
        switch (step++) {
          case 0: return client.advertise();
          case 1: return client.shareKeys(msg);
          case 2: return client.maskedInput(msg, update);
          case 3: return client.unmask(msg);
          default: return null;
        }
      },
    };
  }

  aggregatorSession(sites: readonly string[]): AggregatorSession {
    const server = new SecAggServer({ round: this.round, roster: this.roster, params: this.params } satisfies SecAggServerOptions);
    const steps = [
      (m: unknown) => server.receiveAdvertise(m),
      (m: unknown) => server.receiveShares(m),
      (m: unknown) => server.receiveMasked(m),
      (m: unknown) => server.receiveUnmask(m),
    ];
    let step = 0;
    const everyone = (msg: unknown): Map<string, unknown> => new Map(sites.map((s) => [s, msg]));
    return {
      scheme: 'masking',
      receive: (_from, message) => {
        const handler = steps[step];
        if (!handler) throw secaggError('the masking round is finished');
        handler(message);
      },
      advance: async () => {
        switch (step++) {
          case 0: return { kind: 'send', messages: everyone(server.keysBroadcast()) };
          case 1: {
            server.closeShares();
            return { kind: 'send', messages: new Map(sites.map((s) => [s, server.inboxFor(s)])) };
          }
          case 2: return { kind: 'send', messages: everyone(server.unmaskRequest()) };
          default: {
            const r = await server.aggregate();
            return { kind: 'done', sum: r.sum, contributors: r.survivors };
          }
        }
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// paillier: additively homomorphic encryption; one site holding the private key decrypts the sum.
//
//   site -> { paillier-ciphertexts: payload, canDecrypt }         (every site)
//   aggregator adds the payloads (public key only) and picks the decrypting site: the first, in sorted order, of
//   the senders that announced canDecrypt
//   aggregator -> decrypting site { paillier-route: decrypt, aggregate }; every other sender { paillier-route: wait }
//   decrypting site: checks count >= minSites, decrypts -> { paillier-sum }  => sum

export const paillierCiphertextsSchema = z
  .object({ v: z.literal(1), type: z.literal('paillier-ciphertexts'), sender: siteId, canDecrypt: z.boolean(), payload: paillierPayloadSchema })
  .strict();
export const paillierRouteSchema = z.discriminatedUnion('role', [
  z.object({ v: z.literal(1), type: z.literal('paillier-route'), role: z.literal('decrypt'), aggregate: paillierPayloadSchema }).strict(),
  z.object({ v: z.literal(1), type: z.literal('paillier-route'), role: z.literal('wait'), decryptor: siteId }).strict(),
]);
export const paillierSumSchema = z
  .object({ v: z.literal(1), type: z.literal('paillier-sum'), sender: siteId, count: z.number().int().positive(), data: b64 })
  .strict();
export type PaillierRoute = z.infer<typeof paillierRouteSchema>;

export interface PaillierSessionOptions {
  /** Present at sites allowed to decrypt; the aggregator never has it. */
  readonly privateKey?: PrivateKey | undefined;
  /** A decrypting site refuses an aggregate of fewer contributions. @defaultValue 2 */
  readonly minSites?: number;
  /** Aggregator side: the number of values every payload must have. */
  readonly length?: number;
}

/**
 * Site side of the decryption: refuses an aggregate that sums fewer than `minSites` contributions (the only check a
 * site can make that the aggregator is not asking it to decrypt one site's update; it trusts the count the
 * aggregator wrote, see the trust model in paillier.ts), more than the packing's headroom, or of the wrong length.
 */
export function decryptAggregate(codec: PaillierCodec, privateKey: PrivateKey, aggregate: unknown, o: { minSites: number; length: number }): Float32Array {
  const a = parseWire(paillierPayloadSchema, aggregate, 'Paillier aggregate');
  if (a.count < o.minSites) {
    throw secaggError(`refusing to decrypt an aggregate of ${a.count} contribution(s): the round's minSites is ${o.minSites}`, 'an aggregate below minSites could be a single site\'s update; the aggregator is not behaving as agreed');
  }
  if (2 ** (codec.slotBits - 32) < a.count) throw secaggError(`the aggregate sums ${a.count} contributions, beyond the packing headroom of ${2 ** (codec.slotBits - 32)}`);
  if (a.length !== o.length) throw secaggError(`the aggregate has ${a.length} values, this round's vector has ${o.length}`);
  return codec.decrypt(a, privateKey);
}

export class PaillierUpdateCodec implements UpdateCodec {
  readonly scheme = 'paillier' as const;
  private readonly minSites: number;

  constructor(
    private readonly codec: PaillierCodec,
    private readonly o: PaillierSessionOptions = {},
  ) {
    this.minSites = o.minSites ?? 2;
  }

  siteSession(siteId: string, update: Float32Array): SiteSession {
    let step = 0;
    return {
      scheme: 'paillier',
      next: async (msg) => {
        switch (step++) {
          case 0:
            return { v: 1, type: 'paillier-ciphertexts', sender: siteId, canDecrypt: this.o.privateKey !== undefined, payload: this.codec.encrypt(update) };
          case 1: {
            const route = parseWire(paillierRouteSchema, msg, 'Paillier routing message');
            if (route.role === 'wait') return null;
            if (!this.o.privateKey) throw secaggError(`site ${siteId} was asked to decrypt but holds no Paillier private key`, 'only sites announcing canDecrypt may be chosen');
            const sum = decryptAggregate(this.codec, this.o.privateKey, route.aggregate, { minSites: this.minSites, length: update.length });
            return { v: 1, type: 'paillier-sum', sender: siteId, count: route.aggregate.count, data: Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength).toString('base64') };
          }
          default:
            return null;
        }
      },
    };
  }

  aggregatorSession(): AggregatorSession {
    const payloads: PaillierPayload[] = [];
    const contributors: string[] = [];
    const decryptors: string[] = [];
    let aggregate: PaillierPayload | undefined;
    let decryptor: string | undefined;
    let decrypted: Float32Array | undefined;
    let step = 0;
    return {
      scheme: 'paillier',
      receive: (from, message) => {
        if (step === 0) {
          const m = parseWire(paillierCiphertextsSchema, message, 'Paillier ciphertexts');
          if (m.sender !== from) throw secaggError(`${from} cannot send ciphertexts for ${m.sender}`);
          if (contributors.includes(from)) throw secaggError(`duplicate ciphertexts from ${from}`);
          if (m.payload.count !== 1) throw secaggError(`the ciphertexts of ${from} claim to sum ${m.payload.count} updates; a site sends its own (count 1)`);
          const want = this.o.length ?? payloads[0]?.length;
          if (want !== undefined && want !== m.payload.length) throw secaggError(`the update of ${from} has ${m.payload.length} values, this round expects ${want}`);
          payloads.push(this.codec.add([m.payload]));
          contributors.push(from);
          if (m.canDecrypt) decryptors.push(from);
        } else if (step === 1 && from === decryptor) {
          const m = parseWire(paillierSumSchema, message, 'decrypted Paillier sum');
          const b = Buffer.from(m.data, 'base64');
          const want = (aggregate as PaillierPayload).length;
          if (m.count !== (aggregate as PaillierPayload).count || b.length !== want * 4) throw secaggError(`the decrypted sum from ${from} does not match the aggregate it was sent (${want} values of ${contributors.length} site(s))`);
          decrypted = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
        } else {
          throw secaggError(`${from} is not this round's decrypting site`);
        }
      },
      advance: async () => {
        if (step++ === 0) {
          if (payloads.length === 0) throw secaggError('no site sent ciphertexts this round');
          decryptor = [...decryptors].sort()[0];
          if (decryptor === undefined) {
            throw secaggError(`none of the ${contributors.length} site(s) that sent ciphertexts holds the Paillier private key`, 'give at least one site secagg.paillierPrivateKeyFile');
          }
          aggregate = this.codec.add(payloads);
          const chosen = decryptor;
          const messages = new Map<string, unknown>(
            contributors.map((s) => [s, s === chosen ? { v: 1, type: 'paillier-route', role: 'decrypt', aggregate } : { v: 1, type: 'paillier-route', role: 'wait', decryptor: chosen }]),
          );
          return { kind: 'send', messages, expect: [chosen] };
        }
        if (!decrypted) throw secaggError(`the decrypting site ${decryptor ?? '?'} did not return the decrypted sum`);
        return { kind: 'done', sum: decrypted, contributors };
      },
    };
  }
}
