/**
 * The aggregator's relay for one secure-aggregation round (src/secagg). It only routes: each step collects one
 * message per expected site, then the scheme's aggregator session closes the step and yields what each site must
 * receive next or, after the last step, the SUM of the contributions.
 *
 *   masking:  advertise, shares, masked, unmask: the key broadcast, the encrypted shares addressed to each site,
 *             the unmask request, then the unmasked sum of the survivors. Individual masked inputs live only in the
 *             masking server's memory and are never written to disk or logged.
 *   paillier: ciphertexts, decrypt: the encrypted [w·Δ, w] of every site, added with the public key only; the
 *             aggregate goes to one decrypting site (the first, sorted, of the senders that hold the private key),
 *             which alone answers the decrypt step with the sum. Ciphertexts stay in memory only, like masked inputs.
 *
 * Expected senders: every selected site for the first step, then the sites the session names for the next step
 * (by default those that sent the previous one: a site that missed a step is dropped for the rest of the round;
 * paillier's decrypt step expects the decrypting site only). A step closes when every expected site has sent or
 * its deadline passes: the first step's deadline is the round deadline (it covers local training), each later
 * one `stepMs` after the previous step closed.
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
import type { PublicKey } from 'paillier-bigint';
import { canonicalJson, MaskingCodec, PaillierCodec, PaillierUpdateCodec, paillierKeyFingerprint, type AggregatorSession } from '../../secagg/index.js';
import { WIRE_VERSION } from '../messages.js';
import {
  maxRelayBytes,
  secaggRoundId,
  STEPS_OF,
  toSecAggParams,
  type RelayResult,
  type SecureParams,
  type SecureRoundInfo,
  type SecureScheme,
  type SecureStep,
} from '../secure-protocol.js';

export interface SecureRoundOptions {
  /** @defaultValue 'masking' */
  readonly scheme?: SecureScheme;
  /** The federation's Paillier public key (scheme paillier only; the aggregator never holds the private key). */
  readonly paillierPublicKey?: PublicKey;
  /** Contributions the sum needs (announced to the sites; a paillier decrypting site checks it). */
  readonly minSites: number;
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
  readonly scheme: SecureScheme;
  private readonly steps: readonly SecureStep[];
  private index = 0;
  private deadlineAt: number;
  private readonly session: AggregatorSession;
  /** Per step: site -> digest of the message accepted from it. */
  private readonly received: Map<string, string>[];
  /** Per closed step: what each site receives. */
  private readonly outbox: (ReadonlyMap<string, unknown> | undefined)[];
  /** Who the open step (after the first) waits for. */
  private waitingFor: readonly string[] = [];
  private readonly paillier: { codec: PaillierCodec; fingerprint: string } | undefined;

  constructor(private readonly o: SecureRoundOptions) {
    this.task = o.task;
    this.round = o.round;
    this.scheme = o.scheme ?? 'masking';
    this.steps = STEPS_OF[this.scheme];
    this.received = this.steps.map(() => new Map());
    this.outbox = this.steps.map(() => undefined);
    this.deadlineAt = o.firstDeadline;
    if (this.scheme === 'paillier') {
      if (!o.paillierPublicKey) throw new FhirfedError('FHIRFED_ERR_INTERNAL', 'a paillier round needs the federation public key');
      const codec = new PaillierCodec({ publicKey: o.paillierPublicKey, maxSummands: o.selected.length, fractionalBits: o.params.fractionalBits });
      this.paillier = { codec, fingerprint: paillierKeyFingerprint(o.paillierPublicKey) };
      this.session = new PaillierUpdateCodec(codec, { minSites: o.minSites, length: o.params.vectorLength }).aggregatorSession();
    } else {
      const noKey = (): Uint8Array => {
        throw new FhirfedError('FHIRFED_ERR_INTERNAL', 'the aggregator holds no site signing key');
      };
      const codec = new MaskingCodec(secaggRoundId(o.task, o.round, o.session), o.roster, toSecAggParams(o.params), noKey);
      this.session = codec.aggregatorSession(o.selected);
      this.paillier = undefined;
    }
  }

  /** The open step, or undefined once the sum has been produced. */
  step(): SecureStep | undefined {
    return this.steps[this.index];
  }

  /** Index of `step` in this scheme; a step of another scheme is a 409. */
  private indexOf(step: SecureStep): number {
    const k = this.steps.indexOf(step);
    if (k < 0) throw conflict(`${step} is not a step of ${this.scheme} secure aggregation (steps: ${this.steps.join(', ')})`, 'the gateway\'s secagg.scheme must match the aggregator\'s task.codec');
    return k;
  }

  deadline(): number {
    return this.deadlineAt;
  }

  /** Sites that sent `step` (so far). */
  senders(step: SecureStep): string[] {
    return [...(this.received[this.indexOf(step)] as Map<string, string>).keys()].sort();
  }

  /** Sites the open step waits for. */
  expected(): readonly string[] {
    return this.index === 0 ? this.o.selected : this.waitingFor;
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
      scheme: this.scheme,
      steps: [...this.steps],
      minSites: this.o.minSites,
      session: this.o.session,
      step: this.step() ?? 'done',
      deadline: new Date(this.deadlineAt).toISOString(),
      params: this.o.params,
      roster: { ...this.o.roster },
      selected: [...this.o.selected],
      ...(this.paillier ? { paillier: { keyFingerprint: this.paillier.fingerprint, maxSummands: this.o.selected.length } } : {}),
    };
  }

  /** Accepts `site`'s message for `step`; throws 403/409/413/422 without changing anything on refusal. */
  receive(site: string, step: SecureStep, message: unknown, bytes: number): 'accepted' | 'duplicate' {
    const k = this.indexOf(step);
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
    const p = this.paillier;
    const limit = maxRelayBytes(step, this.o.params.vectorLength, p && { ciphertexts: p.codec.ciphertextsFor(this.o.params.vectorLength), ciphertextHexChars: p.codec.publicKey._n2.toString(16).length });
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
      this.index = this.steps.length;
      return { kind: 'done', sum: a.sum, contributors: a.contributors };
    }
    this.outbox[this.index] = a.messages;
    this.waitingFor = a.expect ?? this.senders(this.steps[this.index] as SecureStep);
    this.index += 1;
    this.deadlineAt = now + this.o.stepMs;
    return { kind: 'next', step: this.steps[this.index] as SecureStep };
  }

  /** What the aggregator routes to `site` after `step`: pending while the step is open. */
  fetch(site: string, step: SecureStep): RelayResult {
    const k = this.indexOf(step);
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
