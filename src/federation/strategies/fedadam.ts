/** FedAdam: the Adam-style server optimiser of Reddi et al. 2021 (formulas in adaptive-optimizer.ts). */
import { adaptiveStrategy, type AdaptiveOptions } from './adaptive-optimizer.js';
import type { Strategy } from './types.js';

export function fedAdam(options: AdaptiveOptions = {}): Strategy {
  return adaptiveStrategy('fedadam', options);
}
