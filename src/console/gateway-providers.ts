/**
 * The training page's providers, built from a site runtime's parts (src/api/wiring/runtime.ts): the BullMQ queue,
 * the privacy budget ledger, the feature store and the round follower. Every read is bounded: the last
 * `limit` completed jobs, and data statistics recomputed at most every `statsTtlMs`.
 */
import type { Queue } from 'bullmq';
import { computeStats } from '../features/stats.js';
import type { FeatureStore } from '../features/store.js';
import type { FeatureSchema } from '../harmonize/schema.js';
import type { BudgetLedger } from '../privacy/index.js';
import { getQueueState, type HeadMetrics, type TrainingJobResult } from '../training/index.js';
import type { DataState, RoundMetrics, TrainingProviders } from './training.js';

export interface GatewayProviderParts {
  readonly site: string;
  readonly queue: Queue;
  readonly privacy: { readonly mode: string; readonly ledger: BudgetLedger; status(): { epsilonSpent: number; epsilonBudget: number; delta: number } };
  readonly store: FeatureStore;
  readonly schema: FeatureSchema;
  readonly round: () => { task: string; round: number; state: string } | null;
  readonly modelVersion: () => string | null;
  /** Statistics are hidden below this many rows (as in /status). @defaultValue 10 */
  readonly minRows?: number;
  /** @defaultValue 30 s */
  readonly statsTtlMs?: number;
}

function headMetrics(m: Readonly<Record<string, HeadMetrics>>): RoundMetrics['metrics'] {
  return Object.fromEntries(Object.entries(m).map(([h, x]) => [h, { f1: x.f1, auroc: x.auroc, accuracy: x.accuracy, n: x.n }]));
}

export function gatewayTrainingProviders(p: GatewayProviderParts): TrainingProviders {
  const minRows = p.minRows ?? 10;
  const ttl = p.statsTtlMs ?? 30_000;
  const units = Object.fromEntries(p.schema.names.map((n) => [n, p.schema.features.get(n)?.unit]));
  let cached: { at: number; value: DataState } | undefined;
  return {
    queue: () => getQueueState(p.queue),
    rounds: async (limit) => {
      const jobs = await p.queue.getCompleted(0, Math.max(0, limit - 1));
      const out: RoundMetrics[] = [];
      for (const j of jobs) {
        const data = j.data as { task?: unknown; round?: unknown; globalModelVersion?: unknown };
        const result = j.returnvalue as TrainingJobResult | null | undefined;
        if (!result?.metrics || typeof data.round !== 'number') continue;
        out.push({
          task: String(data.task ?? ''),
          round: data.round,
          ...(typeof data.globalModelVersion === 'string' ? { modelVersion: data.globalModelVersion } : {}),
          ...(result.numSamples !== undefined ? { numSamples: result.numSamples } : {}),
          ...(j.finishedOn ? { finishedAt: new Date(j.finishedOn).toISOString() } : {}),
          metrics: headMetrics(result.metrics),
        });
      }
      return out;
    },
    round: p.round,
    modelVersion: p.modelVersion,
    privacy: () => {
      const s = p.privacy.status();
      return {
        mode: p.privacy.mode,
        ...s,
        history: p.privacy.ledger.entries().map((e) => ({ round: e.round, epsilonAfter: e.epsilonAfter, recordedAt: e.recordedAt })),
      };
    },
    data: () => {
      const now = Date.now();
      if (cached && now - cached.at < ttl) return cached.value;
      const count = p.store.count(p.site);
      let value: DataState = { rows: count, minRows, units };
      if (count >= minRows) {
        const rows = p.store.all(p.site);
        value = { rows: rows.length, stats: computeStats(rows, p.schema), minRows, units };
      }
      cached = { at: now, value };
      return value;
    },
  };
}
