import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import {
  BudgetLedger,
  createDpSgdPolicy,
  dpSgdEvent,
  gaussianMechanism,
  type SampledGaussianEvent,
} from '../../privacy/index.js';
import type { PrivacyHook, SampleLevelPrivacy, TrainingUpdate } from '../../training/index.js';

/**
 * The site's privacy policy, from config: which mechanism protects an update, what a round may spend, and the
 * budget ledger that refuses a job that would exceed (epsilon, delta). Training receives only the injected hooks.
 */
export interface SitePrivacy {
  readonly mode: Config['privacy']['mode'];
  readonly ledger: BudgetLedger;
  /** Sample-level DP-SGD hook (mode `sample`). */
  readonly dpSgd?: SampleLevelPrivacy;
  /** Client-level hook on the update (mode `client`). */
  readonly updateHook?: PrivacyHook;
  /** Throws FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED before a round starts when client-level noise would overspend. */
  assertRoundAffordable(): void;
  /** Records what a finished round spent, once per (task, round), before the update leaves the site. */
  charge(update: TrainingUpdate): Promise<void>;
  status(): { epsilonSpent: number; epsilonBudget: number; delta: number };
}

export async function openSitePrivacy(config: Config): Promise<SitePrivacy> {
  const p = config.privacy;
  const ledger = await BudgetLedger.open(join(config.storage.dataDir, 'privacy-budget.json'), { epsilon: p.epsilon, delta: p.delta });
  const clientEvent: SampledGaussianEvent = { sampleRate: 1, noiseMultiplier: p.noiseMultiplier, steps: 1 };
  const charged = (round: string) => ledger.entries().some((e) => e.round === round);
  const base = {
    mode: p.mode,
    ledger,
    status: () => ({ epsilonSpent: ledger.spent(), epsilonBudget: p.epsilon, delta: p.delta }),
  };
  if (p.mode === 'sample') {
    const dpSgd = createDpSgdPolicy({ clipNorm: p.clipNorm, noiseMultiplier: p.noiseMultiplier, ledger });
    return {
      ...base,
      dpSgd,
      assertRoundAffordable: () => undefined, // DP-SGD authorizes the run's maximum spend before its first step
      charge: async (u) => {
        const round = `${u.task}#${u.round}`;
        if (u.dpSgd && !charged(round)) await ledger.record(round, [dpSgdEvent(u.dpSgd)]);
      },
    };
  }
  if (p.mode === 'client') {
    return {
      ...base,
      updateHook: {
        clipAndNoiseUpdate: (delta) => gaussianMechanism(delta, { clipNorm: p.clipNorm, noiseMultiplier: p.noiseMultiplier }).update,
      },
      assertRoundAffordable: () => ledger.assertCanSpend(clientEvent),
      charge: async (u) => {
        const round = `${u.task}#${u.round}`;
        if (!charged(round)) await ledger.record(round, [clientEvent]);
      },
    };
  }
  return { ...base, assertRoundAffordable: () => undefined, charge: async () => undefined };
}
