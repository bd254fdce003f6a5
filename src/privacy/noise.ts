/**
 * Gaussian noise from a cryptographically secure source, and the client-level Gaussian mechanism.
 *
 * Source: node:crypto `randomBytes` (the OS CSPRNG). Each uniform is 53 random bits -> a double in (0, 1]; the
 * Box-Muller transform turns two uniforms into two independent N(0, 1) samples. A seeded PRNG (Math.random, a
 * seeded xorshift) would let anyone who learns the seed subtract the noise, which voids the DP guarantee.
 *
 * Known limitation (documented, as in Opacus and TF Privacy): floating-point Gaussian sampling is not exactly a
 * Gaussian and can leak through the low-order bits (Mironov 2012 showed this for the Laplace mechanism). A discrete
 * Gaussian (Canonne, Kamath, Steinke 2020) would close that gap; it is not implemented here.
 */
import { randomBytes } from 'node:crypto';
import { FhirfedError } from '../core/errors.js';
import { clipL2 } from './clipping.js';

const TWO_POW_53 = 2 ** 53;
/** Bytes drawn from the OS per refill: enough for 8192 uniforms, so a 100k-parameter update takes ~13 syscalls. */
const POOL_BYTES = 8 * 8192;

/** A source of N(0, 1) samples. Injected so tests and benches can count calls; production uses CsprngGaussian. */
export interface GaussianSource {
  /** Fills `out` with independent N(0, 1) samples. */
  fill(out: Float64Array): void;
}

/** Box-Muller over 53-bit uniforms from node:crypto randomBytes. */
export class CsprngGaussian implements GaussianSource {
  private pool = Buffer.alloc(0);
  private offset = 0;

  /** A uniform double in (0, 1]: never 0, so log(u) is finite. */
  private uniform(): number {
    if (this.offset + 8 > this.pool.length) {
      this.pool = randomBytes(POOL_BYTES);
      this.offset = 0;
    }
    const hi = this.pool.readUInt32BE(this.offset) >>> 11; // 21 bits
    const lo = this.pool.readUInt32BE(this.offset + 4); // 32 bits
    this.offset += 8;
    return (hi * 2 ** 32 + lo + 1) / TWO_POW_53;
  }

  fill(out: Float64Array): void {
    for (let i = 0; i < out.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(this.uniform()));
      const theta = 2 * Math.PI * this.uniform();
      out[i] = r * Math.cos(theta);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(theta);
    }
  }
}

const defaultSource = new CsprngGaussian();

/** `n` samples of N(0, std^2) from the CSPRNG. */
export function gaussianNoise(n: number, std: number, source: GaussianSource = defaultSource): Float64Array {
  if (!Number.isInteger(n) || n < 0) throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `noise length must be a whole number >= 0 (got ${n})`);
  if (!Number.isFinite(std) || std < 0) {
    throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `noise standard deviation must be finite and >= 0 (got ${std})`);
  }
  const out = new Float64Array(n);
  if (std === 0 || n === 0) return out;
  source.fill(out);
  for (let i = 0; i < n; i++) out[i] = (out[i] as number) * std;
  return out;
}

/** Adds N(0, std^2) noise to every coordinate of `v`, in place; returns `v`. */
export function addGaussianNoise(v: Float32Array, std: number, source: GaussianSource = defaultSource): Float32Array {
  const noise = gaussianNoise(v.length, std, source);
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) + (noise[i] as number);
  return v;
}

export interface GaussianMechanismOptions {
  /** L2 bound on the update (its sensitivity under add/remove-one-site). */
  readonly clipNorm: number;
  /** Noise std divided by clipNorm; this is the sigma the accountant needs. */
  readonly noiseMultiplier: number;
  /**
   * Distributed DP: with secure aggregation the aggregator only sees the sum of `shareOf` updates, so each site adds
   * 1/sqrt(shareOf) of the noise and the sum carries the full N(0, (z*C)^2). Default 1: each update carries it all
   * (central/local noise). If fewer sites survive than planned, the sum is under-noised: account for that.
   */
  readonly shareOf?: number;
  readonly source?: GaussianSource;
}

export interface PrivatizedUpdate {
  readonly update: Float32Array;
  /** L2 norm before clipping (for adaptive clipping's unclipped-count indicator). */
  readonly normBefore: number;
  readonly clipped: boolean;
  readonly noiseStd: number;
}

/** Client-level DP: clip the update to clipNorm, then add Gaussian noise of std noiseMultiplier * clipNorm. */
export function gaussianMechanism(update: Float32Array, options: GaussianMechanismOptions): PrivatizedUpdate {
  const shareOf = options.shareOf ?? 1;
  if (!Number.isInteger(shareOf) || shareOf < 1) {
    throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `shareOf must be a whole number >= 1 (got ${shareOf})`, {
      hint: 'set it to the number of sites whose updates are securely summed, or 1',
    });
  }
  if (!Number.isFinite(options.noiseMultiplier) || options.noiseMultiplier < 0) {
    throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `noise multiplier must be finite and >= 0 (got ${options.noiseMultiplier})`);
  }
  const copy = Float32Array.from(update);
  const { norm, clipped } = clipL2(copy, options.clipNorm);
  const noiseStd = (options.noiseMultiplier * options.clipNorm) / Math.sqrt(shareOf);
  addGaussianNoise(copy, noiseStd, options.source);
  return { update: copy, normBefore: norm, clipped, noiseStd };
}

/** The server's half of the adaptive-clipping quantile query: sum of b_i plus N(0, countNoiseStd^2). */
export function noisyUnclippedCount(unclipped: number, countNoiseStd: number, source: GaussianSource = defaultSource): number {
  return unclipped + (gaussianNoise(1, countNoiseStd, source)[0] ?? 0);
}
