/**
 * The pure-ish steps of closing a round, kept out of the engine: the initial global model, and turning stored
 * updates into one aggregated delta. With a codec that reveals individual updates (plain) the strategy combines
 * them with sample or adaptive weights; secure codecs only reveal Σ n_i·Δ_i (sites pre-scale by their sample
 * count, see follower.ts), so the delta is that sum divided by Σ n_i and carried stragglers cannot be added.
 */
import { existsSync, readFileSync } from 'node:fs';
import { FhirfedError } from '../../core/errors.js';
import type { UpdateDecoder } from '../codec.js';
import type { UpdatePayload } from '../messages.js';
import { adaptiveWeights, sampleWeights, type SiteUpdate, type Strategy } from '../strategies/index.js';
import type { AggregatorConfig } from './config.js';
import type { StoredUpdate } from './store.js';

/** v0: raw little-endian Float32 from `initialFile`, or zeros of `parameters`. */
export function initialWeights(m: AggregatorConfig['task']['model']): Float32Array {
  if (!m.initialFile) return new Float32Array(m.parameters as number);
  if (!existsSync(m.initialFile)) throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', `initial model file ${m.initialFile} does not exist`, { where: { path: 'task.model.initialFile' } });
  const buf = readFileSync(m.initialFile);
  if (buf.byteLength === 0 || buf.byteLength % 4 !== 0) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', `initial model file ${m.initialFile} is not raw Float32 (size ${buf.byteLength})`, { where: { path: 'task.model.initialFile' } });
  }
  const weights = new Float32Array(buf.byteLength / 4);
  new Uint8Array(weights.buffer).set(buf);
  return weights;
}

export async function aggregateUpdates(o: {
  readonly current: readonly StoredUpdate[];
  readonly carried: readonly StoredUpdate[];
  readonly decoder: UpdateDecoder;
  readonly strategy: Strategy;
  readonly length: number;
  readonly weighting: AggregatorConfig['task']['weighting'];
  readonly read: (file: string) => UpdatePayload;
}): Promise<Float32Array> {
  if (o.decoder.revealsIndividualUpdates) {
    const updates: SiteUpdate[] = [...o.current, ...o.carried].map((u) => ({
      site: u.site,
      delta: o.decoder.decode(u.site, o.read(u.file), o.length),
      numSamples: u.numSamples,
      quality: u.quality,
    }));
    const weights = o.weighting.mode === 'adaptive' ? adaptiveWeights(updates, { lambda: o.weighting.lambda }) : sampleWeights(updates);
    return o.strategy.combine(updates, weights);
  }
  const sum = await o.decoder.sum(o.current.map((u) => ({ site: u.site, payload: o.read(u.file) })), o.length);
  const total = o.current.reduce((s, u) => s + u.numSamples, 0);
  return sum.map((x) => x / total);
}
