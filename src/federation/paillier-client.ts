/**
 * The gateway's side of secure aggregation with Paillier encryption over HTTP (secagg.scheme: paillier). Given the
 * trainer's update for a round it joins the round (GET /v1/secagg/:task/:round), checks that the round runs
 * paillier under this federation's public key, and then:
 *
 *   ciphertexts: sends Enc([w·Δ, w]) (w = numSamples / sampleScale, see secure-protocol.ts) and whether this site
 *                holds the private key (canDecrypt)
 *   decrypt:     only if the aggregator routes the encrypted aggregate to this site: refuses an aggregate whose
 *                count is below the round's minSites (and never below 2), decrypts it and sends the sum back
 *
 * Sites that are not chosen to decrypt are done after the first step. The randomness of encryption (r^n mod n^2,
 * one modular exponentiation per ciphertext, independent of the message) is precomputed in the background after
 * each round, a few milliseconds of CPU at a time, so the next round's encryption is one multiplication per
 * ciphertext; a pool that is not full yet only means the rest is computed on the critical path.
 */
import type { PrivateKey, PublicKey } from 'paillier-bigint';
import { FhirfedError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { PaillierCodec, PaillierUpdateCodec, paillierKeyFingerprint } from '../secagg/index.js';
import type { AggregatorClient } from './client.js';
import { relaySession, type InteractiveEncoder, type SecureResult, type SecureSubmission } from './secure-client.js';
import { PAILLIER_STEPS, weightedVector } from './secure-protocol.js';

export interface PaillierEncoderOptions {
  /** The federation's public key (secagg.paillierPublicKeyFile). */
  readonly publicKey: PublicKey;
  /** The federation's private key, on sites allowed to decrypt the aggregate (secagg.paillierPrivateKeyFile). */
  readonly privateKey?: PrivateKey | undefined;
  /** The decrypting site's own floor on the aggregate's count, whatever the round announces. @defaultValue 2 */
  readonly minSites?: number;
  /** Precompute encryption randomness between rounds for as many ciphertexts as the last round used. @defaultValue true */
  readonly precompute?: boolean;
  /** Delay between polls of a step still open. @defaultValue 1000 ms */
  readonly pollMs?: number;
  /** How long past a step's deadline to wait for the aggregator to close it before giving up. @defaultValue 30 s */
  readonly graceMs?: number;
  readonly logger?: Logger;
}

export class PaillierEncoder implements InteractiveEncoder {
  readonly scheme = 'paillier' as const;
  readonly interactive = true as const;
  readonly fingerprint: string;
  private readonly logger: Logger;
  /** E(0; r) values ready for use, shared by every round's codec (each is used once). */
  private readonly randomness: bigint[] = [];
  private refill: NodeJS.Timeout | undefined;

  constructor(private readonly o: PaillierEncoderOptions) {
    this.logger = o.logger ?? silentLogger;
    this.fingerprint = paillierKeyFingerprint(o.publicKey);
  }

  get canDecrypt(): boolean {
    return this.o.privateKey !== undefined;
  }

  /** Randomness waiting in the pool. */
  get precomputed(): number {
    return this.randomness.length;
  }

  async run(client: AggregatorClient, u: SecureSubmission): Promise<SecureResult> {
    const info = await client.secaggInfo(u.task, u.round);
    if (info.scheme !== 'paillier' || !info.paillier) {
      throw new FhirfedError('FHIRFED_ERR_SECAGG', `round ${u.round} runs ${info.scheme} secure aggregation; this site is set up for paillier`, {
        hint: 'the gateway\'s secagg.scheme must match the aggregator\'s task.codec',
      });
    }
    if (info.paillier.keyFingerprint !== this.fingerprint) {
      throw new FhirfedError('FHIRFED_ERR_SECAGG', `round ${u.round} runs under another Paillier public key (${info.paillier.keyFingerprint.slice(0, 16)}…; this site has ${this.fingerprint.slice(0, 16)}…)`, {
        where: { path: 'secagg.paillierPublicKeyFile' },
        hint: 'the aggregator and every site must use the same paillier.pub.json',
      });
    }
    const vector = weightedVector(u.delta, u.numSamples, info.params, info.selected.length);
    this.stopRefill();
    const codec = new PaillierCodec({ publicKey: this.o.publicKey, maxSummands: info.paillier.maxSummands, fractionalBits: info.params.fractionalBits, randomness: this.randomness });
    const minSites = Math.max(info.minSites, this.o.minSites ?? 2);
    const session = new PaillierUpdateCodec(codec, { privateKey: this.o.privateKey, minSites }).siteSession(client.site, vector);
    try {
      return await relaySession(client, u, PAILLIER_STEPS, session, { pollMs: this.o.pollMs, graceMs: this.o.graceMs, logger: this.logger });
    } finally {
      if (this.o.precompute ?? true) this.startRefill(codec, codec.ciphertextsFor(vector.length));
    }
  }

  /** Fills the pool up to `target` entries, one modular exponentiation per event-loop turn (off the critical path). */
  private startRefill(codec: PaillierCodec, target: number): void {
    const step = (): void => {
      this.refill = undefined;
      if (this.randomness.length >= target) return;
      codec.precompute(1);
      this.refill = setTimeout(step, 0).unref();
    };
    this.stopRefill();
    this.refill = setTimeout(step, 0).unref();
  }

  private stopRefill(): void {
    if (this.refill) clearTimeout(this.refill);
    this.refill = undefined;
  }

  /** Stops the background precomputation (the pool keeps what it has). */
  close(): void {
    this.stopRefill();
  }
}
