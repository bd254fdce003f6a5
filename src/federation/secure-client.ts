/**
 * The gateway's side of secure aggregation by pairwise masking over HTTP. Given the trainer's update for a round,
 * it joins the round's protocol session (GET /v1/secagg/:task/:round), then for each step sends this site's
 * message and polls for what the aggregator routes back once the step has closed, feeding it to the next step:
 *
 *   advertise -> (key broadcast) -> shares -> (shares addressed to this site) -> masked -> (unmask request) -> unmask
 *
 * Every call goes through the AggregatorClient (signed, retried with backoff). The update is weighted inside the
 * secure sum ([w·Δ, w], w = numSamples / sampleScale, see secure-protocol.ts) and checked against the fixed-point
 * range before any key is advertised. The protocol state (fresh X25519 keys, shares held for the other sites) lives
 * in this object only: a gateway that restarts mid-protocol counts as dropped for that round, which the masking
 * scheme recovers from.
 */
import { FhirfedError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { MaskingCodec, type SiteSession } from '../secagg/index.js';
import type { AggregatorClient } from './client.js';
import type { CodecScheme } from './messages.js';
import { SECURE_STEPS, secaggRoundId, toSecAggParams, weightedVector, type SecureStep } from './secure-protocol.js';

export interface MaskingEncoderOptions {
  /** The site's ed25519 secret key (the one that signs its requests); it also signs the site's secagg messages. */
  readonly signingKey: Uint8Array;
  /**
   * ed25519 public keys (base64) of the federation's sites, from the site's own configuration. Without it the
   * roster the aggregator serves is used, which trusts the aggregator not to substitute keys (semi-honest model).
   */
  readonly roster?: Readonly<Record<string, string>>;
  /** Delay between polls of a step still open. @defaultValue 1000 ms */
  readonly pollMs?: number;
  /** How long past a step's deadline to wait for the aggregator to close it before giving up. @defaultValue 30 s */
  readonly graceMs?: number;
  readonly logger?: Logger;
}

export interface SecureSubmission {
  readonly task: string;
  readonly round: number;
  readonly delta: Float32Array;
  readonly numSamples: number;
}

export interface SecureResult {
  /** accepted: every step was sent; incomplete: the protocol stopped after this site had already sent a step. */
  readonly outcome: 'accepted' | 'incomplete';
  readonly reason?: string;
}

/** An encoder that runs a multi-step protocol for the round (masking, paillier); the follower calls `run`. */
export interface InteractiveEncoder {
  readonly scheme: CodecScheme;
  readonly interactive: true;
  run(client: AggregatorClient, u: SecureSubmission): Promise<SecureResult>;
}

export interface RelayOptions {
  /** Delay between polls of a step still open. @defaultValue 1000 ms */
  readonly pollMs?: number | undefined;
  /** How long past a step's deadline to wait for the aggregator to close it before giving up. @defaultValue 30 s */
  readonly graceMs?: number | undefined;
  readonly logger: Logger;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Sends a site session's messages step by step through the relay, feeding each step's routed answer to the next.
 * Throws when nothing was sent yet (the caller may retry from scratch); once a message is out, a failure is
 * reported as `incomplete` because a fresh attempt would need a new message, which the aggregator refuses for a
 * step already sent. A session that returns null is done (e.g. a Paillier site that does not decrypt).
 */
export async function relaySession(client: AggregatorClient, u: Pick<SecureSubmission, 'task' | 'round'>, steps: readonly SecureStep[], session: SiteSession, o: RelayOptions): Promise<SecureResult> {
  let incoming: unknown;
  let sent = false;
  try {
    for (const [i, step] of steps.entries()) {
      const message = await session.next(incoming);
      if (message === null) break;
      await client.secaggSend(u.task, u.round, step, message);
      sent = true;
      if (i === steps.length - 1) break;
      incoming = await awaitStep(client, u.task, u.round, step, o);
    }
  } catch (e) {
    if (!sent) throw e;
    const reason = e instanceof Error ? e.message : String(e);
    o.logger.warn({ task: u.task, round: u.round, reason }, 'secure aggregation stopped for this site; it counts as dropped');
    return { outcome: 'incomplete', reason };
  }
  return { outcome: 'accepted' };
}

async function awaitStep(client: AggregatorClient, task: string, round: number, step: SecureStep, o: RelayOptions): Promise<unknown> {
  for (;;) {
    const r = await client.secaggFetch(task, round, step);
    if (r.status === 'ready') return r.message;
    if (Date.now() > Date.parse(r.deadline) + (o.graceMs ?? 30_000)) {
      throw new FhirfedError('FHIRFED_ERR_FEDERATION', `the aggregator did not close the ${step} step of round ${round} by its deadline ${r.deadline}`, {
        hint: 'the aggregator may be overloaded or restarted; the site follows the next round',
      });
    }
    await sleep(o.pollMs ?? 1000);
  }
}

export class MaskingEncoder implements InteractiveEncoder {
  readonly scheme = 'masking' as const;
  readonly interactive = true as const;
  private readonly logger: Logger;

  constructor(private readonly o: MaskingEncoderOptions) {
    this.logger = o.logger ?? silentLogger;
  }

  /**
   * Runs the whole protocol for one round. Throws when nothing was sent yet (the caller may retry from scratch);
   * once a message is out, a failure is reported as `incomplete` because a fresh attempt would need new keys,
   * which the aggregator refuses for a step already sent.
   */
  async run(client: AggregatorClient, u: SecureSubmission): Promise<SecureResult> {
    const info = await client.secaggInfo(u.task, u.round);
    if (info.scheme !== 'masking') {
      throw new FhirfedError('FHIRFED_ERR_SECAGG', `round ${u.round} runs ${info.scheme} secure aggregation; this site is set up for masking`, {
        hint: 'the gateway\'s secagg.scheme must match the aggregator\'s task.codec',
      });
    }
    const vector = weightedVector(u.delta, u.numSamples, info.params, info.selected.length);
    const roster = this.o.roster ?? info.roster;
    const codec = new MaskingCodec(secaggRoundId(info.task, info.round, info.session), roster, toSecAggParams(info.params), () => this.o.signingKey);
    const session = codec.siteSession(client.site, vector);
    return relaySession(client, u, SECURE_STEPS, session, { pollMs: this.o.pollMs, graceMs: this.o.graceMs, logger: this.logger });
  }
}
