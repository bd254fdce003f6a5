/**
 * Who masks with whom and who holds whose shares, and the Shamir threshold.
 *
 * - `complete` (Bonawitz et al. 2017): every pair of sites shares a mask; each site's secrets are split among all n
 *   participants (itself included), threshold t = n - maxDropouts.
 * - `harary` (SecAgg+, Bell et al. 2020): sites sit on a ring in a pseudo-random order and each is linked to its
 *   `degree` nearest ring neighbours (a Harary graph H(k, n)); masks and shares only travel along edges, so each
 *   site does O(k) instead of O(n) work. Shares of u go to its k neighbours and itself, threshold
 *   t = k + 1 - maxDropouts.
 *
 * Either way t must exceed half of the share holders, otherwise the survivors' shares could be used to rebuild both
 * the self-mask seed and the mask key of one site and unmask its individual update. Bell et al. pick k = O(log n)
 * with a probabilistic threshold; here the threshold is the deterministic worst case above, which is stricter.
 * The ring order comes from SHA-256 of the round id and the participant list, so every party derives the same
 * graph without an extra message; an aggregator able to choose round ids could grind for a favourable order, which
 * the semi-honest model assumed here excludes.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { secaggError } from './messages.js';

export type MaskGraph = { readonly kind: 'complete' } | { readonly kind: 'harary'; readonly degree: number };

export interface SecAggParams {
  /** Number of parameters in an update. */
  readonly vectorLength: number;
  /** Sites that may drop out after advertising keys with the sum still recovered. */
  readonly maxDropouts: number;
  readonly graph?: MaskGraph;
  /** Fixed-point fractional bits (default 16). */
  readonly fractionalBits?: number;
  /**
   * Lower maxDropouts to what the number of sites that advertised keys allows (threshold >= 2 and more than half
   * of the share holders) instead of refusing the round. Both ends derive the same value from the key broadcast,
   * so a site that never advertised does not make a federated round impossible. Default false.
   */
  readonly clampDropouts?: boolean;
}

export function checkParams(p: SecAggParams): void {
  if (!Number.isInteger(p.vectorLength) || p.vectorLength < 1) {
    throw secaggError(`vector length must be a whole number >= 1 (got ${p.vectorLength})`);
  }
  if (!Number.isInteger(p.maxDropouts) || p.maxDropouts < 0) {
    throw secaggError(`maxDropouts must be a whole number >= 0 (got ${p.maxDropouts})`, 'set secagg.maxDropouts', 'secagg.maxDropouts');
  }
  const g = p.graph;
  if (g?.kind === 'harary' && (!Number.isInteger(g.degree) || g.degree < 2 || g.degree % 2 !== 0)) {
    throw secaggError(`SecAgg+ graph degree must be an even whole number >= 2 (got ${g.degree})`, 'a common choice is 2 * ceil(log2(n))');
  }
}

function ringOrder(round: string, participants: readonly string[]): string[] {
  const key = (id: string): string => Buffer.from(sha256(new TextEncoder().encode(`graph|${round}|${id}`))).toString('hex');
  return [...participants].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : a < b ? -1 : 1;
  });
}

/** The mask/share topology of one round over the sites that advertised keys. */
export class RoundGraph {
  readonly participants: readonly string[];
  /** Shamir threshold: shares needed to rebuild one site's secret. */
  readonly threshold: number;
  private readonly neighbours = new Map<string, readonly string[]>();

  constructor(round: string, participants: readonly string[], params: SecAggParams) {
    checkParams(params);
    const ids = [...new Set(participants)].sort();
    const n = ids.length;
    if (n < 2) throw secaggError(`secure aggregation needs at least 2 sites (got ${n})`, 'wait for more sites before closing the key round');
    if (n > 255) throw secaggError(`at most 255 sites per round (got ${n})`, 'split the federation into groups of at most 255 sites');
    this.participants = ids;
    const g = params.graph ?? { kind: 'complete' };
    const k = g.kind === 'harary' ? Math.min(g.degree, n - 1) : n - 1;
    const holders = k + 1;
    const tolerable = Math.max(0, Math.ceil(holders / 2) - 1);
    this.threshold = holders - (params.clampDropouts ? Math.min(params.maxDropouts, tolerable) : params.maxDropouts);
    if (this.threshold < 2 || this.threshold * 2 <= holders) {
      throw secaggError(
        `cannot tolerate ${params.maxDropouts} dropout(s) with ${holders} share holders per site (threshold would be ${this.threshold}; it must be >= 2 and more than half)`,
        `lower secagg.maxDropouts to at most ${Math.max(0, Math.ceil(holders / 2) - 1)}${g.kind === 'harary' ? ' or raise the graph degree' : ' or add sites'}`,
        'secagg.maxDropouts',
      );
    }
    if (k === n - 1) {
      for (const id of ids) this.neighbours.set(id, ids.filter((x) => x !== id));
    } else {
      const ring = ringOrder(round, ids);
      ring.forEach((id, pos) => {
        const set = new Set<string>();
        for (let d = 1; d <= k / 2; d++) {
          set.add(ring[(pos + d) % n] as string);
          set.add(ring[(pos - d + n) % n] as string);
        }
        this.neighbours.set(id, [...set].sort());
      });
    }
  }

  has(site: string): boolean {
    return this.neighbours.has(site);
  }

  /** Sites that `site` masks with and sends shares to. */
  neighboursOf(site: string): readonly string[] {
    const n = this.neighbours.get(site);
    if (!n) throw secaggError(`${site} did not advertise keys in this round`);
    return n;
  }

  /** Share holders of `site`'s secrets: its neighbours and itself. */
  holdersOf(site: string): readonly string[] {
    return [site, ...this.neighboursOf(site)].sort();
  }

  isEdge(a: string, b: string): boolean {
    return this.neighbours.get(a)?.includes(b) ?? false;
  }
}
