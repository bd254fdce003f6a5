import { FhirfedError } from '../core/errors.js';
import type { Tf } from './backend.js';
import { createRng } from './rng.js';
import type { WeightEntry, WeightLayout } from './types.js';
import type * as tfTypes from '@tensorflow/tfjs';

/**
 * The federation's model: logistic regression (one sigmoid head per label on the inputs) or an MLP with a shared
 * ReLU trunk and one head per label (multi-task). Heads output logits; the sigmoid lives in the loss and in
 * `predictProba`, which is numerically safer than a sigmoid layer followed by cross-entropy.
 */

export interface ModelSpec {
  readonly inputWidth: number;
  readonly labels: readonly string[];
  /** Trunk layer sizes; empty = logistic regression. */
  readonly trunk: readonly number[];
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** FNV-1a over names and shapes: cheap, stable across processes and sites. */
function fingerprint(entries: readonly WeightEntry[]): string {
  let h = 0x811c9dc5;
  const text = entries.map((e) => `${e.name}:${e.shape.join('x')}`).join(';');
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

export class MultiTaskModel {
  readonly layout: WeightLayout;
  /** Trainable variables in layout order: what the optimizer updates and what the flat vector holds. */
  readonly variables: readonly tfTypes.Variable[];

  private constructor(
    private readonly tf: Tf,
    readonly spec: ModelSpec,
    readonly net: tfTypes.LayersModel,
  ) {
    const entries: WeightEntry[] = [];
    const vars: tfTypes.Variable[] = [];
    let offset = 0;
    for (const layer of net.layers) {
      layer.trainableWeights.forEach((w, i) => {
        const size = w.shape.reduce((a, b) => (a as number) * (b as number), 1) as number;
        entries.push({ name: `${layer.name}/${i === 0 ? 'kernel' : 'bias'}`, shape: w.shape as number[], offset, size });
        vars.push(w.read() as tfTypes.Variable);
        offset += size;
      });
    }
    this.variables = vars;
    this.layout = { entries, total: offset, fingerprint: fingerprint(entries) };
  }

  static build(tf: Tf, spec: ModelSpec): MultiTaskModel {
    if (spec.labels.length === 0 || spec.inputWidth === 0) {
      throw new FhirfedError('FHIRFED_ERR_TRAINING', 'a model needs at least one input column and one label');
    }
    const input = tf.input({ shape: [spec.inputWidth], name: 'features' });
    let h: tfTypes.SymbolicTensor = input;
    spec.trunk.forEach((units, i) => {
      h = tf.layers.dense({ units, activation: 'relu', name: `trunk_${i}` }).apply(h) as tfTypes.SymbolicTensor;
    });
    const heads = spec.labels.map(
      (label, j) => tf.layers.dense({ units: 1, name: `head_${j}_${safeName(label)}` }).apply(h) as tfTypes.SymbolicTensor,
    );
    const output = heads.length === 1 ? (heads[0] as tfTypes.SymbolicTensor) : (tf.layers.concatenate({ axis: 1 }).apply(heads) as tfTypes.SymbolicTensor);
    return new MultiTaskModel(tf, spec, tf.model({ inputs: input, outputs: output }));
  }

  /** Deterministic Glorot-uniform kernels and zero biases from a seed, so every site can start identically. */
  initialWeights(seed: number): Float32Array {
    const rng = createRng(seed);
    const out = new Float32Array(this.layout.total);
    for (const e of this.layout.entries) {
      if (e.shape.length !== 2) continue; // biases start at 0
      const limit = Math.sqrt(6 / ((e.shape[0] as number) + (e.shape[1] as number)));
      for (let i = 0; i < e.size; i++) out[e.offset + i] = (rng() * 2 - 1) * limit;
    }
    return out;
  }

  getFlatWeights(): Float32Array {
    const out = new Float32Array(this.layout.total);
    this.variables.forEach((v, i) => out.set(v.dataSync() as Float32Array, (this.layout.entries[i] as WeightEntry).offset));
    return out;
  }

  setFlatWeights(flat: Float32Array): void {
    this.checkLength(flat, 'weights');
    this.tf.tidy(() => {
      this.variables.forEach((v, i) => {
        const e = this.layout.entries[i] as WeightEntry;
        v.assign(this.tf.tensor(flat.subarray(e.offset, e.offset + e.size), [...e.shape]));
      });
    });
  }

  /** One tensor per variable from a flat vector (e.g. the global model for the FedProx term). Caller disposes. */
  toTensors(flat: Float32Array): tfTypes.Tensor[] {
    this.checkLength(flat, 'global weights');
    return this.layout.entries.map((e) => this.tf.tensor(flat.slice(e.offset, e.offset + e.size), [...e.shape]));
  }

  checkLength(flat: Float32Array, what: string): void {
    if (flat.length !== this.layout.total) {
      throw new FhirfedError(
        'FHIRFED_ERR_VALIDATION',
        `${what} have ${flat.length} values, this model (layout ${this.layout.fingerprint}) has ${this.layout.total}`,
        { hint: 'the global model was built from another feature schema or architecture; use the federation\'s current schema and hyper-parameters' },
      );
    }
  }

  /** Logits [n, labels]. */
  logits(x: tfTypes.Tensor2D): tfTypes.Tensor2D {
    const out = this.net.apply(x) as tfTypes.Tensor;
    return (out.rank === 2 ? out : out.reshape([-1, this.spec.labels.length])) as tfTypes.Tensor2D;
  }

  /** Probabilities, row-major [n, labels], in chunks so a large site does not allocate one huge activation. */
  predictProba(x: tfTypes.Tensor2D, chunk = 8192): Float32Array {
    const n = x.shape[0];
    const out = new Float32Array(n * this.spec.labels.length);
    for (let s = 0; s < n; s += chunk) {
      const size = Math.min(chunk, n - s);
      const p = this.tf.tidy(() => this.tf.sigmoid(this.logits(x.slice([s, 0], [size, -1]))));
      out.set(p.dataSync() as Float32Array, s * this.spec.labels.length);
      p.dispose();
    }
    return out;
  }

  dispose(): void {
    this.net.dispose();
  }
}

/**
 * Masked multi-task binary cross-entropy. `targets` packs [labels | weights | mask] as [n, 3H]: a missing label has
 * mask 0 and weight 0, so it adds nothing to the loss and nothing to its head's gradient. Each head's loss is
 * averaged over the rows where that head has a label, then heads are averaged.
 */
export function maskedLoss(tf: Tf, logits: tfTypes.Tensor2D, targets: tfTypes.Tensor2D, heads: number): tfTypes.Scalar {
  const [y, w, m] = tf.split(targets, [heads, heads, heads], 1) as [tfTypes.Tensor2D, tfTypes.Tensor2D, tfTypes.Tensor2D];
  // Stable BCE with logits: max(z,0) - z*y + log(1 + exp(-|z|)).
  const bce = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
  const perHead = tf.div(tf.sum(tf.mul(bce, w), 0), tf.maximum(tf.sum(m, 0), 1));
  return tf.mean(perHead) as tfTypes.Scalar;
}

/** FedProx proximal term (mu/2) * ||w - w_global||^2 over all trainable variables. */
export function proximalTerm(tf: Tf, vars: readonly tfTypes.Variable[], global: readonly tfTypes.Tensor[], mu: number): tfTypes.Scalar {
  const sq = vars.map((v, i) => tf.sum(tf.squaredDifference(v, global[i] as tfTypes.Tensor)));
  return tf.mul(tf.addN(sq), mu / 2) as tfTypes.Scalar;
}

/** The update a site submits: local minus global, element-wise. */
export function computeDelta(local: Float32Array, global: Float32Array): Float32Array {
  if (local.length !== global.length) {
    throw new FhirfedError('FHIRFED_ERR_TRAINING', `cannot diff weights of length ${local.length} and ${global.length}`);
  }
  const d = new Float32Array(local.length);
  for (let i = 0; i < local.length; i++) d[i] = (local[i] as number) - (global[i] as number);
  return d;
}
