/**
 * Drives secure aggregation (codec masking or paillier) for the round engine: opens a relay (secure-round.ts) with
 * each round, accepts the sites' protocol messages through the engine's serial queue, closes a step when every
 * expected site has sent it or its deadline passes, and hands the sum back to the engine as the round's FedAvg
 * delta (Σ w·Δ / Σ w, see secure-protocol.ts).
 *
 * A step with fewer than minSites senders (while they can still contribute), a masking threshold failure, no
 * sender holding the Paillier private key, or a decrypting site that does not answer by the step deadline fails
 * the round with the reason; the engine then opens a new round from the same global model.
 */
import type { PublicKey } from 'paillier-bigint';
import { loadPaillierPublicKey } from '../../secagg/index.js';
import { FhirfedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { CONTRIBUTOR_STEPS, newSessionId, unweightSum, type RelayEnvelope, type RelayResult, type SecureRoundInfo, type SecureStep } from '../secure-protocol.js';
import { publicKeyBase64 } from '../signing.js';
import type { AggregatorConfig } from './config.js';
import { SecureRound, type SecureAdvance } from './secure-round.js';
import type { AggregatorStore, HistoryEntry, RoundState } from './store.js';

export interface SecureRoundsHost {
  readonly task: AggregatorConfig['task'];
  readonly store: AggregatorStore;
  readonly logger: Logger;
  serial<T>(fn: () => T | Promise<T>): Promise<T>;
  round(): RoundState | null;
  history(): readonly HistoryEntry[];
  /** Model parameters. */
  length(): number;
  publicKeyOf(site: string): Uint8Array | undefined;
  /** Records that the site was seen (persisted). */
  touch(site: string): void;
  fail(reason: string): void;
  commit(delta: Float32Array, participants: readonly string[], reason: string): void;
  schedule(): void;
}

const conflict = (message: string, hint?: string): FhirfedError => new FhirfedError('FHIRFED_ERR_CONFLICT', message, hint ? { hint } : {});

export class SecureRounds {
  private current: SecureRound | undefined;
  private readonly paillierKey: PublicKey | undefined;

  constructor(private readonly h: SecureRoundsHost) {
    if (h.task.codec === 'paillier') {
      const file = h.task.secagg.paillierPublicKeyFile;
      if (!file) {
        throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', 'task.codec paillier needs task.secagg.paillierPublicKeyFile', {
          where: { path: 'task.secagg.paillierPublicKeyFile' },
          hint: 'create the federation key pair with `fhirfed secagg paillier-keygen --out DIR` and give the aggregator DIR/paillier.pub.json only',
        });
      }
      this.paillierKey = loadPaillierPublicKey(file, 'task.secagg.paillierPublicKeyFile');
    }
  }

  open(round: number, selected: readonly string[], deadline: number): void {
    const sa = this.h.task.secagg;
    const paillier = this.paillierKey !== undefined;
    const roster = paillier ? {} : Object.fromEntries(selected.map((s) => [s, publicKeyBase64(this.h.publicKeyOf(s) as Uint8Array)]));
    this.current = new SecureRound({
      scheme: paillier ? 'paillier' : 'masking',
      ...(this.paillierKey ? { paillierPublicKey: this.paillierKey } : {}),
      minSites: this.h.task.minSites,
      task: this.h.task.name,
      round,
      session: newSessionId(),
      selected,
      roster,
      params: {
        vectorLength: this.h.length() + 1,
        // Masking only: Paillier has no dropout recovery to configure (a missing site is simply not in the sum).
        maxDropouts: paillier ? 0 : sa.maxDropouts,
        graph: sa.graphDegree && !paillier ? { kind: 'harary', degree: sa.graphDegree } : { kind: 'complete' },
        fractionalBits: sa.fractionalBits,
        sampleScale: sa.sampleScale,
      },
      firstDeadline: deadline,
      stepMs: sa.stepSeconds * 1000,
    });
  }

  discard(): void {
    this.current = undefined;
  }

  /** Which protocol step `round` is at and who has sent it (for GET /federation; names only, no content). */
  progress(round: number): { step: string; sent: readonly string[]; expected: readonly string[] } | undefined {
    const s = this.current;
    if (s?.round !== round) return undefined;
    const step = s.step();
    return step ? { step, sent: s.senders(step).sort(), expected: [...s.expected()].sort() } : undefined;
  }

  /** The open step's deadline when `round` is the secure round in progress. */
  deadlineOf(round: number): number | undefined {
    return this.current?.round === round ? this.current.deadline() : undefined;
  }

  async onDeadline(round: number): Promise<void> {
    const s = this.current;
    if (s?.round !== round) return;
    if (Date.now() < s.deadline()) this.h.schedule();
    else await this.advance(`the ${s.step() ?? 'last'} step deadline passed`);
  }

  /** The secure round `round` of task `task` that `site` takes part in, or a 409/403 saying why not. */
  private get(site: string, task: string, round: number): SecureRound {
    const name = this.h.task.name;
    if (task !== name) throw conflict(`this aggregator runs task ${name}, not ${task}`);
    const s = this.current;
    if (s?.round !== round) {
      const past = this.h.history().find((e) => e.round === round);
      const why = past ? `${past.outcome}: ${past.reason}` : 'no such round';
      throw conflict(`round ${round} has no secure aggregation in progress (${why})`, 'poll GET /v1/rounds/current and follow the open round');
    }
    if (!this.h.round()?.selected.includes(site)) {
      throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', `site ${site} was not selected for round ${round}`, { hint: 'wait for a round that selects this site' });
    }
    return s;
  }

  info(site: string, task: string, round: number): SecureRoundInfo {
    return this.get(site, task, round).info();
  }

  fetch(site: string, task: string, round: number, step: SecureStep): RelayResult {
    return this.get(site, task, round).fetch(site, step);
  }

  send(site: string, env: RelayEnvelope, bytes: number): Promise<'accepted' | 'duplicate'> {
    return this.h.serial(async () => {
      const s = this.get(site, env.task, env.round);
      const outcome = s.receive(site, env.step, env.message, bytes);
      if (outcome === 'accepted') {
        this.h.touch(site);
        // Which step and how big, never the content: a masked input is still one site's data.
        this.h.store.audit({ who: site, what: 'secagg', round: env.round, step: env.step, bytes });
        if (s.complete()) await this.advance(`every expected site sent ${env.step}`);
      }
      return outcome;
    });
  }

  /** Closes the open step; runs inside the engine's serial queue. */
  private async advance(reason: string): Promise<void> {
    const s = this.current as SecureRound;
    const step = s.step() as SecureStep;
    const senders = s.senders(step);
    let next: SecureAdvance;
    let delta: Float32Array | undefined;
    try {
      const min = this.h.task.minSites;
      if (CONTRIBUTOR_STEPS.has(step) && senders.length < min) throw conflict(`only ${senders.length} site(s) sent it; minSites is ${min}`);
      next = await s.advance();
      if (next.kind === 'done') delta = unweightSum(next.sum);
    } catch (e) {
      this.current = undefined;
      this.h.fail(`secure aggregation failed at the ${step} step: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    this.h.store.audit({ who: 'aggregator', what: 'secagg-step-closed', round: s.round, step, senders: senders.length, reason });
    if (next.kind === 'done') {
      this.current = undefined;
      this.h.commit(delta as Float32Array, next.contributors, `secure sum of ${next.contributors.length} site(s); ${reason}`);
      return;
    }
    this.h.logger.info({ round: s.round, closed: step, next: next.step, senders: senders.length }, 'secure aggregation step closed');
    this.h.schedule();
  }
}
