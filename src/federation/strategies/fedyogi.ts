/**
 * FedYogi: the Yogi-style server optimiser of Reddi et al. 2021 (formulas in adaptive-optimizer.ts). Its second
 * moment grows or shrinks additively, so v cannot collapse as fast as Adam's when updates get small.
 */
import { adaptiveStrategy, type AdaptiveOptions } from './adaptive-optimizer.js';
import type { Strategy } from './types.js';

export function fedYogi(options: AdaptiveOptions = {}): Strategy {
  return adaptiveStrategy('fedyogi', options);
}
