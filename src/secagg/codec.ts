/**
 * The one contract federation code uses, whatever protects the update. A round is a small state machine on each
 * side: a site session answers each aggregator message with its next message; the aggregator session collects one
 * message per site per step and, when the federation code decides the step is over (all arrived or a deadline
 * passed: late sites count as dropped), advances, yielding either messages to send to sites or the final sum.
 *
 *   plain:    site -> update                                      => sum
 *   masking:  advertise -> keys -> shares -> inbox -> masked -> unmask-request -> unmask => sum
 *   paillier: site -> ciphertexts => encrypted sum to the decrypting site -> decrypted sum => sum
 *
 * All messages are JSON-serialisable and validated on receipt; the federation layer only routes them.
 */
import type { PrivateKey } from 'paillier-bigint';
import { z } from 'zod';
import { SecAggClient, type SecAggClientOptions } from './client.js';
import { parseWire, secaggError } from './messages.js';
import type { PaillierCodec, PaillierPayload } from './paillier.js';
import { SecAggServer, type SecAggServerOptions } from './server.js';

export type CodecScheme = 'plain' | 'masking' | 'paillier';

/** What the aggregator does after closing a step. */
export type Advance =
  | { readonly kind: 'send'; readonly messages: ReadonlyMap<string, unknown> }
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
// paillier: additively homomorphic encryption; a designated site holding the private key decrypts the sum.

const decryptedSchema = z.object({ v: z.literal(1), scheme: z.literal('paillier-sum'), data: z.string() }).strict();

export class PaillierUpdateCodec implements UpdateCodec {
  readonly scheme = 'paillier' as const;

  constructor(
    private readonly codec: PaillierCodec,
    /** The site that decrypts the aggregate this round. */
    private readonly decryptor: string,
    /** Present at sites only; the aggregator never has it. */
    private readonly privateKey?: PrivateKey,
  ) {}

  siteSession(siteId: string, update: Float32Array): SiteSession {
    let step = 0;
    return {
      scheme: 'paillier',
      next: async (msg) => {
        if (step++ === 0) return this.codec.encrypt(update);
        if (step === 2 && siteId === this.decryptor && msg !== undefined) {
          if (!this.privateKey) throw secaggError(`site ${siteId} is the decryptor but has no Paillier private key`, 'distribute the federation key to the sites');
          const sum = this.codec.decrypt(msg, this.privateKey);
          return { v: 1, scheme: 'paillier-sum', data: Buffer.from(sum.buffer).toString('base64') };
        }
        return null;
      },
    };
  }

  aggregatorSession(): AggregatorSession {
    const payloads: PaillierPayload[] = [];
    const contributors: string[] = [];
    let decrypted: Float32Array | undefined;
    let step = 0;
    return {
      scheme: 'paillier',
      receive: (from, message) => {
        if (step === 0) {
          if (contributors.includes(from)) throw secaggError(`duplicate ciphertexts from ${from}`);
          payloads.push(this.codec.add([message]));
          contributors.push(from);
        } else if (from === this.decryptor) {
          const m = parseWire(decryptedSchema, message, 'decrypted sum');
          const b = Buffer.from(m.data, 'base64');
          decrypted = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
        } else {
          throw secaggError(`${from} is not this round's decrypting site`);
        }
      },
      advance: async () => {
        if (step++ === 0) {
          if (payloads.length === 0) throw secaggError('no site sent ciphertexts this round');
          return { kind: 'send', messages: new Map([[this.decryptor, this.codec.add(payloads)]]) };
        }
        if (!decrypted) throw secaggError(`the decrypting site ${this.decryptor} has not returned the sum`);
        return { kind: 'done', sum: decrypted, contributors };
      },
    };
  }
}
