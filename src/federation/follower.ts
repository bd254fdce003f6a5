/**
 * The gateway's round follower. Each tick it asks the aggregator for the current round; when a round is open and
 * selects this site it downloads the round's global model, reports that model's holdout metrics (federated
 * evaluation, when an `evaluate` hook is given) and calls the injected `startTraining` (which enqueues the BullMQ
 * training job). The trainer's update comes back through `submit`, which encodes it with the injected codec and
 * sends it once: the on-disk ledger remembers every (task, round) step, so a restart neither re-evaluates nor
 * re-submits. Federation never imports the trainer (architecture rule 4); everything is injected.
 *
 * The encoder is this site's policy: a round announcing another codec is not followed (a gateway configured for
 * masking never sends its update in the clear). With an interactive encoder (MaskingEncoder, secure-client.ts;
 * PaillierEncoder, paillier-client.ts) `submit` runs the secure aggregation protocol for the round and resolves
 * when this site's part is done.
 */
import { isFhirfedError, type FhirfedError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { AggregatorClient, GlobalModel, SubmitOutcome } from './client.js';
import type { UpdateEncoder } from './codec.js';
import { RemoteError } from './http.js';
import type { RoundLedger } from './ledger.js';
import type { EvaluationReport, QualityStats, RoundAnnouncement } from './messages.js';
import type { InteractiveEncoder } from './secure-client.js';

export interface TrainingRequest {
  readonly task: string;
  readonly round: number;
  readonly modelVersion: string;
  readonly hyper: Readonly<Record<string, unknown>>;
  readonly deadline: string;
}

export interface LocalUpdate {
  readonly task: string;
  readonly round: number;
  readonly modelVersion: string;
  readonly delta: Float32Array;
  readonly numSamples: number;
  readonly quality?: QualityStats | undefined;
}

export interface RoundFollowerOptions {
  readonly client: AggregatorClient;
  readonly task: string;
  readonly ledger: RoundLedger;
  /**
   * `new PlainCodec()` (updates in the clear), or an interactive secure-aggregation encoder:
   * `new MaskingEncoder({ signingKey, ... })` or `new PaillierEncoder({ publicKey, privateKey?, ... })`.
   */
  readonly encoder: UpdateEncoder | InteractiveEncoder;
  readonly startTraining: (req: TrainingRequest) => Promise<void>;
  readonly evaluate?: (model: GlobalModel, round: RoundAnnouncement) => Promise<EvaluationReport['heads'] | undefined>;
  /** Sent with the registration so the aggregator can poll GET /status. */
  readonly statusUrl?: string;
  /** @defaultValue 10 s */
  readonly pollMs?: number;
  readonly logger?: Logger;
}

export type TickResult = 'waiting' | 'done' | 'closed' | 'not-selected' | 'submitted' | 'in-progress' | 'started' | 'codec-mismatch';
/** `incomplete`: secure aggregation stopped after this site had sent a step (it counts as dropped). */
export type SubmitResult = SubmitOutcome | 'already-submitted' | 'refused' | 'incomplete';

/** Refusals that retrying cannot fix: the aggregator said no, or the protocol itself rejected the input. */
function isFinalRefusal(e: unknown): e is FhirfedError {
  if (e instanceof RemoteError) return e.httpStatus === 409 || e.httpStatus === 403 || e.httpStatus === 404 || e.httpStatus === 422;
  return isFhirfedError(e) && (e.code === 'FHIRFED_ERR_SECAGG' || e.code === 'FHIRFED_ERR_VALIDATION');
}

export class RoundFollower {
  private registered = false;
  private readonly models = new Map<string, GlobalModel>();
  private timer: NodeJS.Timeout | undefined;
  private last: { round: number; state: TickResult } | undefined;
  private readonly logger: Logger;

  constructor(private readonly o: RoundFollowerOptions) {
    this.logger = o.logger ?? silentLogger;
  }

  /** The global weights of a version (cached); usable as the training worker's GlobalModelSource. */
  async loadGlobal(task: string, version: string): Promise<Float32Array | undefined> {
    if (task !== this.o.task) return undefined;
    let m = this.models.get(version);
    if (!m) {
      m = await this.o.client.fetchModel(version);
      this.models.set(version, m);
      // Two versions are enough: the round's and possibly the previous one a slow job still trains from.
      while (this.models.size > 2) this.models.delete(this.models.keys().next().value as string);
    }
    return m.weights;
  }

  async tick(): Promise<TickResult> {
    const { client } = this.o;
    if (!this.registered) {
      await client.register(this.o.statusUrl);
      this.registered = true;
    }
    const a = await client.currentRound();
    const result = await this.follow(a);
    if (a) this.last = { round: a.round, state: result };
    return result;
  }

  private async follow(a: RoundAnnouncement | undefined): Promise<TickResult> {
    const { client, ledger, task } = this.o;
    if (!a) return 'waiting';
    if (a.task !== task) {
      this.logger.error({ expected: task, got: a.task }, 'the aggregator runs another task');
      return 'waiting';
    }
    if (a.status === 'done') {
      // The last model no later round will evaluate: report its holdout metrics once, so the federation can score it.
      if (this.o.evaluate && !ledger.has(task, a.round, 'final-evaluated')) {
        await this.loadGlobal(task, a.modelVersion);
        const heads = await this.o.evaluate(this.models.get(a.modelVersion) as GlobalModel, a);
        if (heads && Object.keys(heads).length > 0) await client.reportEvaluation({ task, round: a.round, modelVersion: a.modelVersion, heads });
        ledger.mark(task, a.round, 'final-evaluated');
      }
      return 'done';
    }
    if (a.status !== 'open') return 'closed';
    if (!a.selected.includes(client.site)) return 'not-selected';
    if (a.codec !== this.o.encoder.scheme) {
      this.logger.error({ round: a.round, announced: a.codec, site: this.o.encoder.scheme }, 'the round uses another update codec than this site allows; not taking part');
      return 'codec-mismatch';
    }
    if (ledger.has(task, a.round, 'submitted')) return 'submitted';
    if (ledger.has(task, a.round, 'started')) {
      // Asked again on every tick while the round is open: enqueueing is idempotent per (task, round), and a job
      // lost with a Redis that restarted without persistence is re-created instead of leaving the round unanswered.
      try {
        await this.o.startTraining({ task, round: a.round, modelVersion: a.modelVersion, hyper: a.hyper, deadline: a.deadline });
      } catch (e) {
        this.logger.debug({ round: a.round, err: e instanceof Error ? e.message : String(e) }, 'could not re-check the training job; next tick retries');
      }
      return 'in-progress';
    }
    if (this.o.evaluate && !ledger.has(task, a.round, 'evaluated')) {
      await this.loadGlobal(task, a.modelVersion);
      const heads = await this.o.evaluate(this.models.get(a.modelVersion) as GlobalModel, a);
      if (heads && Object.keys(heads).length > 0) await client.reportEvaluation({ task, round: a.round, modelVersion: a.modelVersion, heads });
      ledger.mark(task, a.round, 'evaluated');
    }
    await this.o.startTraining({ task, round: a.round, modelVersion: a.modelVersion, hyper: a.hyper, deadline: a.deadline });
    ledger.mark(task, a.round, 'started');
    this.logger.info({ task, round: a.round, modelVersion: a.modelVersion }, 'training started for round');
    return 'started';
  }

  /**
   * Sends the trainer's update for a round, at most once. Secure schemes only reveal a sum, so the delta is
   * pre-scaled by the sample count there (the aggregator divides by Σ n). A refusal (late, wrong model version)
   * is final and recorded; transport failures throw so the training job retries the submit.
   */
  async submit(u: LocalUpdate): Promise<SubmitResult> {
    const { client, ledger, encoder } = this.o;
    if (ledger.has(u.task, u.round, 'submitted')) return 'already-submitted';
    if ('interactive' in encoder) return this.submitSecure(encoder, u);
    const delta = encoder.scheme === 'plain' ? u.delta : u.delta.map((x) => x * u.numSamples);
    const payload = await encoder.encode({ site: client.site, task: u.task, round: u.round }, delta);
    try {
      const outcome = await client.submitUpdate({ task: u.task, round: u.round, modelVersion: u.modelVersion, numSamples: u.numSamples, quality: u.quality, payload });
      ledger.mark(u.task, u.round, 'submitted', outcome);
      return outcome;
    } catch (e) {
      if (e instanceof RemoteError && (e.httpStatus === 409 || e.httpStatus === 403)) {
        ledger.mark(u.task, u.round, 'submitted', `refused: ${e.message}`);
        this.logger.warn({ task: u.task, round: u.round, reason: e.message }, 'update refused by the aggregator');
        return 'refused';
      }
      throw e;
    }
  }

  private async submitSecure(encoder: InteractiveEncoder, u: LocalUpdate): Promise<SubmitResult> {
    const { client, ledger } = this.o;
    try {
      const r = await encoder.run(client, { task: u.task, round: u.round, delta: u.delta, numSamples: u.numSamples });
      ledger.mark(u.task, u.round, 'submitted', r.outcome === 'accepted' ? 'accepted' : `incomplete: ${r.reason ?? ''}`);
      return r.outcome;
    } catch (e) {
      if (!isFinalRefusal(e)) throw e;
      ledger.mark(u.task, u.round, 'submitted', `refused: ${e.message}`);
      this.logger.warn({ task: u.task, round: u.round, reason: e.message }, 'secure aggregation refused for this round');
      return 'refused';
    }
  }

  /** For GET /status: the round this site last saw and what it is doing in it. */
  roundState(): { task: string; round: number; state: string } | null {
    return this.last ? { task: this.o.task, round: this.last.round, state: this.last.state } : null;
  }

  start(): void {
    if (this.timer) return;
    const loop = (): void => {
      this.tick()
        .catch((e: unknown) => this.logger.warn({ err: isFhirfedError(e) ? e.code : undefined, error: e instanceof Error ? e.message : String(e) }, 'round follower tick failed'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(loop, this.o.pollMs ?? 10_000).unref();
        });
    };
    this.timer = setTimeout(loop, 0).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
