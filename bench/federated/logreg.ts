/**
 * FLamby's Fed-Heart-Disease model — torch `nn.Linear(13, 1)` + sigmoid, BCE loss — in plain Float64Array math. The
 * model has 14 parameters and ~500 rows: a tfjs graph would spend far more time in dispatch than in arithmetic, and
 * the closed forms are exact: for p = σ(w·x + b) the per-example BCE gradient is (p − y)·[x, 1].
 *
 * Parameter layout: weights in DESIGN_COLUMNS order, bias last.
 */
import { getRandomValues } from 'node:crypto';
import { gaussianNoise } from '../../src/privacy/noise.js';
import type { Rng } from '../../src/training/rng.js';
import { WIDTH, type Matrix } from './design.js';

export const PARAMS = WIDTH + 1;

/** torch.nn.Linear's default init for fan_in 13: weights and bias U(−1/√13, 1/√13). */
export function initParams(rng: Rng): Float64Array {
  const bound = 1 / Math.sqrt(WIDTH);
  return Float64Array.from({ length: PARAMS }, () => (rng() * 2 - 1) * bound);
}

function logit(w: ArrayLike<number>, m: Matrix, r: number): number {
  let z = w[WIDTH] as number;
  const off = r * WIDTH;
  for (let j = 0; j < WIDTH; j++) z += (w[j] as number) * (m.x[off + j] as number);
  return z;
}

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export function predict(w: ArrayLike<number>, m: Matrix): Float64Array {
  const p = new Float64Array(m.n);
  for (let r = 0; r < m.n; r++) p[r] = sigmoid(logit(w, m, r));
  return p;
}

/** Gradient of the mean BCE over `rows` (torch BCELoss, reduction mean). */
export function meanGradient(w: Float64Array, m: Matrix, rows: ArrayLike<number>): Float64Array {
  const g = new Float64Array(PARAMS);
  const k = rows.length;
  for (let i = 0; i < k; i++) {
    const r = rows[i] as number;
    const e = (sigmoid(logit(w, m, r)) - (m.y[r] as number)) / k;
    const off = r * WIDTH;
    for (let j = 0; j < WIDTH; j++) g[j] = (g[j] as number) + e * (m.x[off + j] as number);
    g[WIDTH] = (g[WIDTH] as number) + e;
  }
  return g;
}

export interface DpGradient {
  readonly grad: Float64Array;
  readonly clipped: number;
}

/**
 * DP-SGD's noisy gradient (Abadi et al. 2016, as Opacus computes it): Σ_i clip(g_i, C) + N(0, (zC)²) per coordinate,
 * divided by the EXPECTED batch size q·n, so the noise scale does not depend on the sampled batch. |g_i| is
 * |p_i − y_i|·√(|x_i|² + 1), so clipping needs no per-example backward pass. Noise comes from the CSPRNG.
 */
export function dpGradient(w: Float64Array, m: Matrix, rows: ArrayLike<number>, clipNorm: number, noiseMultiplier: number, expectedBatch: number): DpGradient {
  const g = new Float64Array(PARAMS);
  let clipped = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as number;
    const e = sigmoid(logit(w, m, r)) - (m.y[r] as number);
    const off = r * WIDTH;
    let sq = 1;
    for (let j = 0; j < WIDTH; j++) sq += (m.x[off + j] as number) ** 2;
    const norm = Math.abs(e) * Math.sqrt(sq);
    const s = norm > clipNorm ? clipNorm / norm : 1;
    if (s < 1) clipped++;
    for (let j = 0; j < WIDTH; j++) g[j] = (g[j] as number) + s * e * (m.x[off + j] as number);
    g[WIDTH] = (g[WIDTH] as number) + s * e;
  }
  const noise = gaussianNoise(PARAMS, noiseMultiplier * clipNorm);
  for (let j = 0; j < PARAMS; j++) g[j] = ((g[j] as number) + (noise[j] as number)) / expectedBatch;
  return { grad: g, clipped };
}

/**
 * torch DataLoader(shuffle=True, drop_last=False) wrapped in FLamby's DataLoaderWithMemory: fixed-size batches of a
 * fresh permutation each epoch, the last one short, and the position carried across rounds.
 */
export class BatchStream {
  private order: number[] = [];
  private pos = 0;

  constructor(
    private readonly n: number,
    private readonly batchSize: number,
    private readonly rng: Rng,
  ) {}

  next(): number[] {
    if (this.pos >= this.order.length) {
      this.order = Array.from({ length: this.n }, (_, i) => i);
      for (let i = this.n - 1; i > 0; i--) {
        const j = Math.floor(this.rng() * (i + 1));
        [this.order[i], this.order[j]] = [this.order[j] as number, this.order[i] as number];
      }
      this.pos = 0;
    }
    const batch = this.order.slice(this.pos, this.pos + this.batchSize);
    this.pos += this.batchSize;
    return batch;
  }
}

/**
 * Opacus' DPDataLoader: each row joins the batch independently with probability q (Poisson sampling), the sampling
 * the RDP accountant assumes. The coins come from the OS CSPRNG: a seeded stream would let anyone with the seed
 * know the batches, which voids privacy amplification by sampling.
 */
export function poissonBatch(n: number, q: number): number[] {
  const coins = getRandomValues(new Uint32Array(n));
  const out: number[] = [];
  for (let i = 0; i < n; i++) if ((coins[i] as number) / 4294967296 < q) out.push(i);
  return out;
}

/** torch.optim.Adam with its defaults (β = 0.9/0.999, ε = 1e-8, bias correction, no weight decay). */
export class Adam {
  private readonly m = new Float64Array(PARAMS);
  private readonly v = new Float64Array(PARAMS);
  private t = 0;

  constructor(private readonly lr: number) {}

  step(w: Float64Array, g: Float64Array): void {
    this.t++;
    const c1 = 1 - 0.9 ** this.t;
    const c2 = 1 - 0.999 ** this.t;
    for (let j = 0; j < PARAMS; j++) {
      const gj = g[j] as number;
      this.m[j] = 0.9 * (this.m[j] as number) + 0.1 * gj;
      this.v[j] = 0.999 * (this.v[j] as number) + 0.001 * gj * gj;
      w[j] = (w[j] as number) - (this.lr * ((this.m[j] as number) / c1)) / (Math.sqrt((this.v[j] as number) / c2) + 1e-8);
    }
  }
}

/** Plain SGD (torch.optim.SGD without momentum): w ← w − lr·g. */
export function sgdStep(w: Float64Array, g: Float64Array, lr: number): void {
  for (let j = 0; j < PARAMS; j++) w[j] = (w[j] as number) - lr * (g[j] as number);
}
