/**
 * Fixed-point encoding of a Float32 update into the ring Z_{2^32}, where masks and sums live.
 *
 * A value x encodes as round(x * 2^f) mod 2^32 (two's complement). Sums of n encodings are taken mod 2^32 and
 * decoded as a signed 32-bit integer / 2^f. That is exact as long as the true integer sum stays in
 * [-2^31, 2^31 - 1], which holds when every value satisfies |x| <= maxAbs = floor((2^31 - 1) / n) / 2^f.
 *
 * Error: each value is off by at most 2^-(f+1) (round to nearest), so a sum of n values is off by at most
 * n * 2^-(f+1) per coordinate.
 *
 * | f (fractional bits) | n sites | maxAbs per value | sum error bound |
 * |---|---|---|---|
 * | 16 (default) | 10 | 3276.8 | 7.6e-5 |
 * | 16 | 100 | 327.68 | 7.6e-4 |
 * | 20 | 10 | 204.8 | 4.8e-6 |
 *
 * A clipped, noised update (clip norm ~1, noise std ~1) has coordinates far inside these ranges; an out-of-range value
 * is refused rather than wrapped, because a wrap would silently corrupt the sum.
 */
import { FhirfedError } from '../core/errors.js';

export interface FixedPointOptions {
  /** f: bits after the binary point. Default 16. */
  readonly fractionalBits?: number;
  /** n: the most encodings that will ever be summed (sites in the round). */
  readonly maxSummands: number;
}

export class FixedPointCodec {
  readonly fractionalBits: number;
  readonly maxSummands: number;
  /** Largest |x| a single value may have so that a sum of maxSummands values cannot wrap. */
  readonly maxAbs: number;
  /** Worst-case absolute error per coordinate of the decoded sum of maxSummands values. */
  readonly sumErrorBound: number;
  private readonly scale: number;

  constructor(options: FixedPointOptions) {
    const f = options.fractionalBits ?? 16;
    if (!Number.isInteger(f) || f < 0 || f > 30) {
      throw new FhirfedError('FHIRFED_ERR_SECAGG', `fractional bits must be a whole number in [0, 30] (got ${f})`, { hint: 'the default 16 suits clipped updates' });
    }
    const n = options.maxSummands;
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 16) {
      throw new FhirfedError('FHIRFED_ERR_SECAGG', `the number of summed updates must be a whole number in [1, 65536] (got ${n})`);
    }
    this.fractionalBits = f;
    this.maxSummands = n;
    this.scale = 2 ** f;
    this.maxAbs = Math.floor((2 ** 31 - 1) / n) / this.scale;
    this.sumErrorBound = n * 2 ** -(f + 1);
  }

  /** Encodes into `out` (new array by default). Throws on NaN or on |x| > maxAbs, naming the first bad index. */
  encode(values: Float32Array, out: Uint32Array = new Uint32Array(values.length)): Uint32Array {
    const limit = this.maxAbs;
    for (let i = 0; i < values.length; i++) {
      const x = values[i] as number;
      if (!(Math.abs(x) <= limit)) {
        throw new FhirfedError('FHIRFED_ERR_SECAGG', `update value ${x} at index ${i} is outside the fixed-point range +-${limit} for ${this.maxSummands} sites`, {
          hint: 'clip the update first (privacy.clipNorm), or lower secagg fractional bits to widen the range',
        });
      }
      // Assigning a negative integer to a Uint32Array stores it mod 2^32: the two's-complement encoding.
      out[i] = Math.round(x * this.scale);
    }
    return out;
  }

  /** Decodes a ring element (a single encoding or a sum of encodings) to floats. */
  decode(ring: Uint32Array): Float32Array {
    const out = new Float32Array(ring.length);
    const inv = 1 / this.scale;
    for (let i = 0; i < ring.length; i++) out[i] = ((ring[i] as number) | 0) * inv;
    return out;
  }
}

/** acc += v (mod 2^32), in place. */
export function ringAdd(acc: Uint32Array, v: Uint32Array): Uint32Array {
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] as number) + (v[i] as number);
  return acc;
}

/** acc -= v (mod 2^32), in place. */
export function ringSub(acc: Uint32Array, v: Uint32Array): Uint32Array {
  for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] as number) - (v[i] as number);
  return acc;
}
