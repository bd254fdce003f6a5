import type { Logger } from '../core/logger.js';
import type { TrainingHyperInput } from './hyper.js';
import { trainLocal, type TrainLocalResult } from './trainer.js';
import type { FeatureSpec, PrivacyHook, RowSource, SampleLevelPrivacy } from './types.js';

export interface LocalRoundsOptions {
  readonly site: string;
  readonly rowSource: RowSource;
  readonly specs: readonly FeatureSpec[];
  /** @defaultValue 1 */
  readonly rounds?: number;
  readonly hyper?: TrainingHyperInput;
  readonly globalWeights?: Float32Array;
  readonly privacy?: PrivacyHook;
  readonly dpSgd?: SampleLevelPrivacy;
  readonly logger?: Logger;
  readonly onProgress?: (round: number, epoch: number, loss: number) => void;
}

/**
 * `fhirfed train --site S --rounds N` without Redis or an aggregator: each round trains from the previous round's
 * weights (a one-site federation), so a site can debug its data and schema end to end.
 */
export async function runLocalRounds(opts: LocalRoundsOptions): Promise<TrainLocalResult[]> {
  const rows = await opts.rowSource.loadRows(opts.site);
  const results: TrainLocalResult[] = [];
  let global = opts.globalWeights;
  for (let round = 0; round < (opts.rounds ?? 1); round++) {
    const r = await trainLocal({
      rows,
      specs: opts.specs,
      ...(global ? { globalWeights: global } : {}),
      ...(opts.hyper ? { hyper: opts.hyper } : {}),
      ...(opts.privacy ? { privacy: opts.privacy } : {}),
      ...(opts.dpSgd ? { dpSgd: opts.dpSgd } : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
      onProgress: (epoch, loss) => opts.onProgress?.(round, epoch, loss),
    });
    opts.logger?.info({ site: opts.site, round, epochs: r.epochs, n: r.numSamples, backend: r.backend }, 'local training round done');
    results.push(r);
    global = r.weights;
  }
  return results;
}
