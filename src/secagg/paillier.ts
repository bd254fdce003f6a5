/**
 * Paillier codec (paillier-bigint): sites encrypt packed fixed-point updates, the aggregator multiplies ciphertexts
 * (homomorphic addition) holding only the public key, and the sites, which hold the private key, decrypt the sum.
 * Key custody: one federation key pair (`fhirfed secagg paillier-keygen`, paillier-keys.ts) distributed to the sites
 * over their own secure channel; the aggregator only ever receives the public key. Threshold decryption (no single
 * site can decrypt) is not implemented (paillier-bigint has none): a site holding the private key could read an
 * individual update if it got one site's ciphertexts, which is why the decrypting site refuses an aggregate whose
 * count is below the round's minSites (codec.ts) and why the aggregator is trusted to be honest-but-curious.
 *
 * Packing: each value is encoded as an offset-binary 32-bit integer q = round(x * 2^f) + 2^31 in [0, 2^32), and a
 * slot is w = 32 + h bits wide where h = ceil(log2(maxSummands)) bits of headroom let up to maxSummands slot values
 * add without carrying into the next slot. A 2048-bit modulus holds floor(2046 / w) slots (the plaintext must stay
 * below n > 2^2047): with 16 sites w = 36 and 56 values per ciphertext; with 256 sites w = 40 and 51.
 * Range per value: |x| <= (2^31 - 1) / 2^f (32767.99 at f = 16); error of a decoded sum: n * 2^-(f+1).
 *
 * Cost (2048-bit, measured in bench/secagg.bench.ts): encryption is dominated by the randomness r^n mod n^2, one
 * modular exponentiation per ciphertext. It does not depend on the message, so `precompute()` produces
 * E(0; r) = r^n with the library's own `encrypt(0n)` between rounds; on the critical path a ciphertext is then
 * E(m; r) = (1 + m n) * r^n mod n^2, which is exactly what the library computes for g = n + 1 (the binomial
 * identity (1 + n)^m = 1 + m n mod n^2), at the cost of one multiplication. Keys must be generated with
 * `generateRandomKeys(bits, true)` (g = n + 1); the test suite checks the result is bit-identical to the library's
 * `encrypt(m, r)`.
 */
import type { PrivateKey, PublicKey } from 'paillier-bigint';
import { FhirfedError } from '../core/errors.js';
import { parseWire, secaggError } from './messages.js';
import { z } from 'zod';

export const paillierPayloadSchema = z
  .object({
    v: z.literal(1),
    scheme: z.literal('paillier'),
    /** Parameters in the update. */
    length: z.number().int().positive(),
    /** How many site updates this (possibly aggregated) payload sums. */
    count: z.number().int().positive(),
    /** Ciphertexts as lowercase hex. */
    ciphertexts: z.array(z.string().regex(/^[0-9a-f]+$/)).min(1),
  })
  .strict();
export type PaillierPayload = z.infer<typeof paillierPayloadSchema>;

export interface PaillierPackingOptions {
  readonly publicKey: PublicKey;
  readonly maxSummands: number;
  readonly fractionalBits?: number;
  /**
   * A pool of E(0; r) = r^n mod n^2 to draw from (and fill with `precompute`); shared by the codecs of one key so
   * randomness computed between rounds serves the next round's codec. Each entry is removed when used.
   */
  readonly randomness?: bigint[];
}

const OFFSET = 2n ** 31n;

export class PaillierCodec {
  readonly publicKey: PublicKey;
  readonly fractionalBits: number;
  readonly slotBits: number;
  readonly slotsPerCiphertext: number;
  readonly maxAbs: number;
  private readonly scale: number;
  private readonly pool: bigint[];

  constructor(options: PaillierPackingOptions) {
    const pk = options.publicKey;
    if (pk.g !== pk.n + 1n) {
      throw new FhirfedError('FHIRFED_ERR_SECAGG', 'the Paillier key must use g = n + 1', { hint: 'generate it with generateRandomKeys(2048, true)' });
    }
    const n = options.maxSummands;
    if (!Number.isInteger(n) || n < 1) throw secaggError(`maxSummands must be a whole number >= 1 (got ${n})`);
    this.publicKey = pk;
    this.pool = options.randomness ?? [];
    this.fractionalBits = options.fractionalBits ?? 16;
    this.scale = 2 ** this.fractionalBits;
    this.slotBits = 32 + Math.ceil(Math.log2(Math.max(2, n)));
    this.slotsPerCiphertext = Math.floor((pk.bitLength - 2) / this.slotBits);
    if (this.slotsPerCiphertext < 1) throw secaggError(`a ${pk.bitLength}-bit key cannot hold one ${this.slotBits}-bit slot`);
    this.maxAbs = (2 ** 31 - 1) / this.scale;
  }

  ciphertextsFor(length: number): number {
    return Math.ceil(length / this.slotsPerCiphertext);
  }

  /** Randomness E(0; r) = r^n mod n^2 waiting in the pool. */
  get precomputed(): number {
    return this.pool.length;
  }

  /** Fills the pool with `count` fresh E(0; r) (one modexp each); run between rounds, off the critical path. */
  precompute(count: number): void {
    for (let i = 0; i < count; i++) this.pool.push(this.publicKey.encrypt(0n));
  }

  private randomness(): bigint {
    // Each r is used once: reusing r^n for two plaintexts would reveal their difference's encryption structure.
    return this.pool.pop() ?? this.publicKey.encrypt(0n);
  }

  private pack(update: Float32Array, from: number): bigint {
    let m = 0n;
    const end = Math.min(update.length, from + this.slotsPerCiphertext);
    const w = BigInt(this.slotBits);
    for (let i = end - 1; i >= from; i--) {
      const x = update[i] as number;
      if (!(Math.abs(x) <= this.maxAbs)) {
        throw secaggError(`update value ${x} at index ${i} is outside the Paillier fixed-point range +-${this.maxAbs}`, 'clip the update first');
      }
      m = (m << w) | (BigInt(Math.round(x * this.scale)) + OFFSET);
    }
    return m;
  }

  /** Site side: encrypts one update (uses precomputed randomness while it lasts). */
  encrypt(update: Float32Array): PaillierPayload {
    const { n, _n2: n2 } = this.publicKey;
    const ciphertexts: string[] = [];
    for (let from = 0; from < update.length; from += this.slotsPerCiphertext) {
      const m = this.pack(update, from);
      ciphertexts.push(((((1n + m * n) % n2) * this.randomness()) % n2).toString(16));
    }
    return { v: 1, scheme: 'paillier', length: update.length, count: 1, ciphertexts };
  }

  /** The naive baseline: one value per ciphertext with the library's encrypt (for benchmarks only). */
  encryptNaive(update: Float32Array): bigint[] {
    return Array.from(update, (x) => this.publicKey.encrypt(BigInt(Math.round(x * this.scale)) + OFFSET));
  }

  /** Aggregator side: adds payloads homomorphically with the public key only. */
  add(payloads: readonly unknown[]): PaillierPayload {
    const parsed = payloads.map((p, k) => parseWire(paillierPayloadSchema, p, `Paillier payload ${k}`));
    const first = parsed[0];
    if (!first) throw secaggError('no Paillier payloads to add');
    const count = parsed.reduce((s, p) => s + p.count, 0);
    if (2 ** (this.slotBits - 32) < count) throw secaggError(`${count} summed updates overflow the ${this.slotBits - 32}-bit slot headroom`, 'raise maxSummands');
    for (const p of parsed) {
      if (p.length !== first.length || p.ciphertexts.length !== this.ciphertextsFor(first.length)) {
        throw secaggError(`Paillier payloads disagree on the update shape (${p.length} vs ${first.length} values)`);
      }
    }
    const n2 = this.publicKey._n2;
    const ciphertexts = first.ciphertexts.map((_, j) => {
      const cs = parsed.map((p) => BigInt(`0x${p.ciphertexts[j] as string}`));
      for (const c of cs) if (c <= 0n || c >= n2) throw secaggError(`ciphertext ${j} is out of range for this key`);
      return (cs.length === 1 ? (cs[0] as bigint) : this.publicKey.addition(...cs)).toString(16);
    });
    return { v: 1, scheme: 'paillier', length: first.length, count, ciphertexts };
  }

  /** Site side: decrypts an aggregated payload to the sum of `count` updates. */
  decrypt(payload: unknown, privateKey: PrivateKey): Float32Array {
    const p = parseWire(paillierPayloadSchema, payload, 'Paillier payload');
    if (p.ciphertexts.length !== this.ciphertextsFor(p.length)) throw secaggError('Paillier payload has the wrong number of ciphertexts');
    const out = new Float32Array(p.length);
    const w = BigInt(this.slotBits);
    const mask = (1n << w) - 1n;
    const offset = OFFSET * BigInt(p.count);
    const inv = 1 / this.scale;
    p.ciphertexts.forEach((hex, j) => {
      let m = privateKey.decrypt(BigInt(`0x${hex}`));
      const from = j * this.slotsPerCiphertext;
      const end = Math.min(p.length, from + this.slotsPerCiphertext);
      for (let i = from; i < end; i++) {
        out[i] = Number((m & mask) - offset) * inv;
        m >>= w;
      }
    });
    return out;
  }
}
