import { z } from 'zod';
import { FhirfedError, type ErrorDetail } from '../core/errors.js';

/**
 * Training hyper-parameters with their defaults in one place. The same schema validates job data on the queue
 * and direct calls to `trainLocal`, so a bad value gets the same clear message on both paths.
 */
export const TrainingHyperSchema = z
  .object({
    /** `logreg`: one sigmoid head per label on the inputs. `mlp`: shared ReLU trunk, one head per label. @defaultValue 'mlp' */
    model: z.enum(['logreg', 'mlp']).default('mlp'),
    /** Hidden layer sizes of the MLP trunk (ignored for logreg). @defaultValue [32] */
    hidden: z.union([z.number().int().positive(), z.array(z.number().int().positive()).min(1).max(8)]).default([32]),
    /** Maximum local epochs per round. @defaultValue 20 */
    epochs: z.number().int().min(1).max(10_000).default(20),
    /** @defaultValue 32 */
    batchSize: z.number().int().min(1).max(65_536).default(32),
    /** Adam learning rate. @defaultValue 0.01 */
    learningRate: z.number().positive().max(10).default(0.01),
    /** FedProx proximal coefficient mu; 0 disables the term. @defaultValue 0 */
    proxMu: z.number().min(0).max(1000).default(0),
    /** Seed of the split, shuffles and (without a global model) initial weights. @defaultValue 42 */
    seed: z.number().int().min(0).max(0xffffffff).default(42),
    /** Early stopping: epochs without holdout-loss improvement before stopping. @defaultValue 5 */
    patience: z.number().int().min(1).max(10_000).default(5),
    /** Fraction of each site's rows held out for validation and early stopping. @defaultValue 0.2 */
    holdoutFraction: z.number().gt(0).lt(1).default(0.2),
    /**
     * `balanced` weights positives by negatives/positives (per head, on train) in the loss. Off by default: the
     * decision threshold chosen on train already handles imbalance and keeps probabilities calibrated.
     * @defaultValue 'none'
     */
    classWeight: z.enum(['none', 'balanced']).default('none'),
  })
  .strict();

export type TrainingHyper = z.output<typeof TrainingHyperSchema>;
export type TrainingHyperInput = z.input<typeof TrainingHyperSchema>;

/** Zod issues -> one FhirfedError listing every problem with its key path. */
export function zodDetails(issues: readonly z.core.$ZodIssue[], prefix: string): ErrorDetail[] {
  return issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter((s) => s !== '').join('.'),
    message: i.message,
  }));
}

export function parseHyper(input: unknown, where = 'hyper'): TrainingHyper {
  const res = TrainingHyperSchema.safeParse(input ?? {});
  if (res.success) return res.data;
  throw new FhirfedError('FHIRFED_ERR_VALIDATION', `invalid training hyper-parameters`, {
    where: { path: where },
    details: zodDetails(res.error.issues, where),
    hint: 'fix the listed fields; omit a field to use its default',
  });
}

/** Trunk sizes as an array; logreg has no trunk. */
export function trunkSizes(h: TrainingHyper): number[] {
  if (h.model === 'logreg') return [];
  return typeof h.hidden === 'number' ? [h.hidden] : [...h.hidden];
}
