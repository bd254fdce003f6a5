/**
 * A small seeded PRNG (mulberry32) so that the demo data is a pure function of its seed: the same seed gives the same
 * patients, messages and resources byte for byte, on every machine. Not for anything secret.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    // Mix the seed once so that consecutive seeds (1, 2, 3) do not start from similar states.
    this.state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  int(low: number, highInclusive: number): number {
    return low + Math.floor(this.next() * (highInclusive - low + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal by Box-Muller (one of the pair; simplicity beats the wasted draw here). */
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A child generator for an independent stream (per site), so adding a site does not shift the others' data. */
  fork(salt: number): Rng {
    return new Rng((Math.floor(this.next() * 2 ** 31) ^ Math.imul(salt + 1, 0x27d4eb2d)) >>> 0);
  }
}

export function clamp(x: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, x));
}

export function round(x: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}
