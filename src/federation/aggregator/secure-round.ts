/**
 * The aggregator's relay for one secure-aggregation round (pairwise masking, src/secagg). It only routes: each
 * step collects one message per expected site, then the masking server closes the step and yields what each site
 * must receive next (the key broadcast, the encrypted shares addressed to it, the unmask request) or, after the
 * last step, the unmasked SUM of the survivors. Individual masked inputs live only in the masking server's memory
 * and are never written to disk or logged.
 *
 * Expected senders: every selected site for the first step, then exactly the sites that sent the previous step
 * (a site that missed a step is dropped for the rest of the round). A step closes when every expected site has
 * sent or its deadline passes: the first step's deadline is the round deadline (it covers local training), each
 * later one `stepMs` after the previous step closed.
 *
 * Retries are idempotent: the same message for a step again is `duplicate` (accepted once); a different message
 * for a step already sent is a conflict (409), as is a message for a closed or not yet open step.
 *
 * State is in memory only. If the aggregator restarts during a secure round the round is abandoned and a new one
 * starts from the same global model (rounds.ts): the masking server's state cannot be rebuilt from disk without
 * storing the masked inputs and shares, which would widen what an attacker with disk access learns.
 */
import { createHash } from 'node:crypto';
import { FhirfedError } from '../../core/errors.js';
import { canonicalJson, MaskingCodec, type AggregatorSession } from '../../secagg/index.js';
import { WIRE_VERSION } from '../messages.js';
import {
  maxRelayBytes,
  SECURE_STEPS,
  secaggRoundId,
  toSecAggParams,
  type RelayResult,
  type SecureParams,
  type SecureRoundInfo,
  type SecureStep,
} from '../secure-protocol.js';

export interface SecureRoundOptions {
  readonly task: string;
  readonly round: number;
  readonly session: string;
  readonly selected: readonly string[];
  /** ed25519 public keys (base64) of the selected sites. */
  readonly roster: Readonly<Record<string, string>>;
  readonly params: SecureParams;
  /** Deadline of the first step (ms since the epoch): the round deadline. */
  readonly firstDeadline: number;
  readonly stepMs: number;
}

export type SecureAdvance = { readonly kind: 'next'; readonly step: SecureStep } | { readonly kind: 'done'; readonly sum: Float32Array; readonly contributors: readonly string[] };

const conflict = (message: string, hint?: string): FhirfedError => new FhirfedError('FHIRFED_ERR_CONFLICT', message, hint ? { hint } : {});
const digest = (message: unknown): string => createHash('sha256').update(canonicalJson(message)).digest('base64');

export class SecureRound {
  readonly task: string;
  readonly round: number;
  private index = 0;
  private deadlineAt: number;
  private readonly session: AggregatorSession;
  /** Per step: site -> digest of the message accepted from it. */
  private readonly received: Map<string, string>[] = SECURE_STEPS.map(() => new Map());
  /** Per closed step: what each site receives. */
  private readonly outbox: (ReadonlyMap<string, unknown> | undefined)[] = SECURE_STEPS.map(() => undefined);

  constructor(private readonly o: SecureRoundOptions) {
    this.task = o.task;
    this.round = o.round;
    this.deadlineAt = o.firstDeadline;
    const noKey = (): Uint8Array => {
      throw new FhirfedError('FHIRFED_ERR_INTERNAL', 'the aggregator holds no site signing key');
    };
    const codec = new MaskingCodec(secaggRoundId(o.task, o.round, o.session), o.roster, toSecAggParams(o.params), noKey);
    this.session = codec.aggregatorSession(o.selected);
  }

  /** The open step, or undefined once the sum has been produced. */
  step(): SecureStep | undefined {
    return SECURE_STEPS[this.index];
  }

  deadline(): number {
    return this.deadlineAt;
  }

  /** Sites that sent `step` (so far). */
  senders(step: SecureStep): string[] {
    return [...(this.received[SECURE_STEPS.indexOf(step)] as Map<string, string>).keys()].sort();
  }

  /** Sites the open step waits for. */
  expected(): readonly string[] {
    return this.index === 0 ? this.o.selected : this.senders(SECURE_STEPS[this.index - 1] as SecureStep);
  }

  /** Every expected site has sent the open step. */
  complete(): boolean {
    const got = this.received[this.index];
    return got !== undefined && this.expected().every((s) => got.has(s));
  }

  info(): SecureRoundInfo {
    return {
      v: WIRE_VERSION,
      type: 'secagg-round',
      task: this.o.task,
      round: this.o.round,
      scheme: 'masking',
      session: this.o.session,
      step: this.step() ?? 'done',
      deadline: new Date(this.deadlineAt).toISOString(),
      params: this.o.params,
      roster: { ...this.o.roster },
      selected: [...this.o.selected],
    };
  }

  /** Accepts `site`'s message for `step`; throws 403/409/413/422 without changing anything on refusal. */
  receive(site: string, step: SecureStep, message: unknown, bytes: number): 'accepted' | 'duplicate' {
    const k = SECURE_STEPS.indexOf(step);
    const seen = (this.received[k] as Map<string, string>).get(site);
    const d = digest(message);
    if (seen !== undefined) {
      if (seen === d) return 'duplicate';
      throw conflict(`site ${site} already sent a different ${step} message in round ${this.round}`, 'a site sends one message per step; a retry must resend the same message');
    }
    if (k < this.index) throw conflict(`the ${step} step of round ${this.round} is closed; ${site} counts as dropped for the rest of the round`, 'follow the next round');
    if (k > this.index) throw conflict(`the ${step} step of round ${this.round} is not open yet (open step: ${this.step() ?? 'none'})`, 'fetch the result of the previous step first');
    if (!this.expected().includes(site)) {
      throw conflict(`site ${site} is not a participant of the ${step} step of round ${this.round} (it was not selected or missed an earlier step)`, 'follow the next round');
    }
    const sender = (message as { sender?: unknown } | null)?.sender;
    if (typeof message === 'object' && message !== null && sender !== site) {
      throw new FhirfedError('FHIRFED_ERR_FORBIDDEN', `site ${site} cannot relay a secagg message whose sender is ${String(sender)}`, { where: { path: 'message.sender' } });
    }
    const limit = maxRelayBytes(step, this.o.params.vectorLength);
    if (bytes > limit) {
      throw new FhirfedError('FHIRFED_ERR_PAYLOAD_TOO_LARGE', `the ${step} message of ${site} is ${bytes} bytes; at most ${limit} are accepted for this step`, { where: { path: 'message' } });
    }
    this.session.receive(site, message);
    (this.received[k] as Map<string, string>).set(site, d);
    return 'accepted';
  }

  /** Closes the open step (validation and threshold errors throw FHIRFED_ERR_SECAGG). */
  async advance(now = Date.now()): Promise<SecureAdvance> {
    const a = await this.session.advance();
    if (a.kind === 'done') {
      this.index = SECURE_STEPS.length;
      return { kind: 'done', sum: a.sum, contributors: a.contributors };
    }
    this.outbox[this.index] = a.messages;
    this.index += 1;
    this.deadlineAt = now + this.o.stepMs;
    return { kind: 'next', step: SECURE_STEPS[this.index] as SecureStep };
  }

  /** What the aggregator routes to `site` after `step`: pending while the step is open. */
  fetch(site: string, step: SecureStep): RelayResult {
    const k = SECURE_STEPS.indexOf(step);
    if (!(this.received[k] as Map<string, string>).has(site)) {
      if (k >= this.index) {
        if (!this.expected().includes(site)) throw conflict(`site ${site} is not a participant of the ${step} step of round ${this.round}`, 'follow the next round');
        throw conflict(`site ${site} has not sent its ${step} message for round ${this.round}`, 'send it first');
      }
      throw conflict(`site ${site} did not send its ${step} message before the step closed; it is dropped from round ${this.round}`, 'follow the next round');
    }
    const out = this.outbox[k];
    if (!out) return { v: WIRE_VERSION, type: 'secagg-relay', round: this.round, step, status: 'pending', deadline: new Date(this.deadlineAt).toISOString() };
    return { v: WIRE_VERSION, type: 'secagg-relay', round: this.round, step, status: 'ready', message: out.get(site) };
  }
}
