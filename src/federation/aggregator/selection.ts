/**
 * Participant selection: every registered site, or a seeded random share of them. The order comes from
 * SHA-256(seed | round | site), so a restarted aggregator (or an auditor) selects exactly the same sites for a
 * round, and no site can predict its selection from the others' ids.
 */
import { createHash } from 'node:crypto';

export function selectParticipants(sites: readonly string[], opts: { fraction: number; minSites: number; seed: number; round: number }): string[] {
  const sorted = [...new Set(sites)].sort();
  if (opts.fraction >= 1) return sorted;
  const k = Math.min(sorted.length, Math.max(opts.minSites, Math.ceil(opts.fraction * sorted.length)));
  const key = (s: string): string => createHash('sha256').update(`${opts.seed}|${opts.round}|${s}`).digest('hex');
  return sorted
    .map((s) => ({ s, k: key(s) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .slice(0, k)
    .map((x) => x.s)
    .sort();
}
