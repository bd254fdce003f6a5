/**
 * Builds the configured strategy and checks it against the codec: robust statistics need each site's update in
 * the clear, which secure aggregation exists to prevent, so that combination is refused at startup.
 */
import { FhirfedError } from '../../core/errors.js';
import type { CodecScheme } from '../messages.js';
import { fedAdam } from './fedadam.js';
import { fedAvg } from './fedavg.js';
import { fedProx } from './fedprox.js';
import { fedYogi } from './fedyogi.js';
import { median } from './median.js';
import { trimmedMeanStrategy } from './trimmed-mean.js';
import type { Strategy } from './types.js';

export const STRATEGY_NAMES = ['fedavg', 'fedprox', 'fedadam', 'fedyogi', 'median', 'trimmed-mean'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export interface StrategyOptions {
  readonly name: StrategyName;
  readonly serverLr?: number | undefined;
  readonly beta1?: number | undefined;
  readonly beta2?: number | undefined;
  readonly tau?: number | undefined;
  readonly trimFraction?: number | undefined;
  readonly mu?: number | undefined;
}

const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

export function createStrategy(o: StrategyOptions, codec: CodecScheme): Strategy {
  const { name, ...rest } = o;
  const opts = defined(rest);
  let s: Strategy;
  switch (name) {
    case 'fedavg':
      s = fedAvg(opts);
      break;
    case 'fedprox':
      s = fedProx(opts);
      break;
    case 'fedadam':
      s = fedAdam(opts);
      break;
    case 'fedyogi':
      s = fedYogi(opts);
      break;
    case 'median':
      s = median(opts);
      break;
    case 'trimmed-mean':
      s = trimmedMeanStrategy(opts);
      break;
  }
  if (s.needsIndividualUpdates && codec !== 'plain') {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `strategy ${name} needs every site's update in the clear, but secure aggregation (${codec}) only reveals their sum`, {
      where: { path: 'task.strategy.name' },
      hint: 'use fedavg, fedprox, fedadam or fedyogi with secure aggregation, or set task.codec: plain to use robust aggregation',
    });
  }
  return s;
}

export type { OptimizerState, SiteUpdate, Strategy } from './types.js';
export { sampleWeights, weightedMean } from './types.js';
export { adaptiveWeights } from './adaptive-weighting.js';
