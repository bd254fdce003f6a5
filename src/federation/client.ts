/**
 * The gateway's client of the aggregator: every call is signed with the site's ed25519 key and retried with
 * exponential backoff and jitter on transient failures (http.ts). Responses are validated as wire messages; a
 * downloaded model is checked against its SHA-256 before use.
 */
import { createHash } from 'node:crypto';
import { FhirfedError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { signedJson, type RetryPolicy, type Signer } from './http.js';
import {
  base64ToFloat32,
  parseMessage,
  WIRE_VERSION,
  type EvaluationReport,
  type QualityStats,
  type RoundAnnouncement,
  type UpdatePayload,
} from './messages.js';
import { parseRelay, relayResultSchema, secureRoundInfoSchema, type RelayResult, type SecureRoundInfo, type SecureStep } from './secure-protocol.js';

export interface GlobalModel {
  readonly task: string;
  readonly version: string;
  readonly round: number;
  readonly weights: Float32Array;
}

export interface AggregatorClientOptions {
  readonly baseUrl: string;
  readonly site: string;
  readonly secretKey: Uint8Array;
  readonly retry?: RetryPolicy;
}

export type SubmitOutcome = 'accepted' | 'duplicate' | 'carried';

export class AggregatorClient {
  private readonly signer: Signer;

  constructor(private readonly o: AggregatorClientOptions) {
    this.signer = { site: o.site, secretKey: o.secretKey };
  }

  get site(): string {
    return this.o.site;
  }

  private call<T>(method: 'GET' | 'POST', path: string, what: string, body?: unknown): Promise<{ status: number; body: T | undefined }> {
    return signedJson<T>({ baseUrl: this.o.baseUrl, signer: this.signer, method, path, what, ...(body === undefined ? {} : { body }), ...(this.o.retry ? { retry: this.o.retry } : {}) });
  }

  async register(statusUrl?: string): Promise<void> {
    await this.call('POST', 'v1/register', 'registering with the aggregator', {
      v: WIRE_VERSION,
      type: 'register',
      site: this.o.site,
      software: `fhirfed/${VERSION}`,
      ...(statusUrl ? { statusUrl } : {}),
    });
  }

  async heartbeat(extra: { modelVersion?: string; busy?: boolean } = {}): Promise<void> {
    await this.call('POST', 'v1/heartbeat', 'sending a heartbeat', { v: WIRE_VERSION, type: 'heartbeat', site: this.o.site, at: new Date().toISOString(), ...extra });
  }

  /** The current round, or undefined while the aggregator waits for sites. */
  async currentRound(): Promise<RoundAnnouncement | undefined> {
    const res = await this.call('GET', 'v1/rounds/current', 'asking for the current round');
    if (res.status === 204) return undefined;
    return parseMessage(res.body, 'round', 'the aggregator');
  }

  async fetchModel(version: string): Promise<GlobalModel> {
    const res = await this.call('GET', `v1/models/${encodeURIComponent(version)}`, `downloading global model ${version}`);
    const msg = parseMessage(res.body, 'global-model', 'the aggregator');
    const weights = base64ToFloat32(msg.weights, msg.length, `global model ${msg.version}`);
    const hash = createHash('sha256').update(new Uint8Array(weights.buffer)).digest('hex');
    if (hash !== msg.sha256) {
      throw new FhirfedError('FHIRFED_ERR_FEDERATION', `global model ${msg.version} does not match its SHA-256`, { hint: 'the download was corrupted; it will be fetched again' });
    }
    return { task: msg.task, version: msg.version, round: msg.round, weights };
  }

  async submitUpdate(u: {
    readonly task: string;
    readonly round: number;
    readonly modelVersion: string;
    readonly numSamples: number;
    readonly quality?: QualityStats | undefined;
    readonly payload: UpdatePayload;
  }): Promise<SubmitOutcome> {
    const res = await this.call<{ status?: SubmitOutcome }>('POST', 'v1/updates', `submitting the update of round ${u.round}`, {
      v: WIRE_VERSION,
      type: 'update',
      site: this.o.site,
      task: u.task,
      round: u.round,
      modelVersion: u.modelVersion,
      numSamples: u.numSamples,
      ...(u.quality ? { quality: u.quality } : {}),
      payload: u.payload,
    });
    return res.body?.status ?? 'accepted';
  }

  async reportEvaluation(r: Omit<EvaluationReport, 'v' | 'type' | 'site'>): Promise<void> {
    await this.call('POST', 'v1/evaluations', `reporting holdout metrics of ${r.modelVersion}`, { v: WIRE_VERSION, type: 'evaluation', site: this.o.site, ...r });
  }

  /** Secure aggregation: the round's protocol parameters, session and roster. */
  async secaggInfo(task: string, round: number): Promise<SecureRoundInfo> {
    const res = await this.call('GET', `v1/secagg/${encodeURIComponent(task)}/${round}`, `joining secure aggregation of round ${round}`);
    return parseRelay(secureRoundInfoSchema, res.body, 'secure round info from the aggregator');
  }

  /** Secure aggregation: sends this site's message for a step (a retry of the same message is harmless). */
  async secaggSend(task: string, round: number, step: SecureStep, message: unknown): Promise<'accepted' | 'duplicate'> {
    const res = await this.call<{ status?: string }>('POST', `v1/secagg/${encodeURIComponent(task)}/${round}/${step}`, `sending the ${step} message of round ${round}`, {
      v: WIRE_VERSION,
      type: 'secagg',
      site: this.o.site,
      task,
      round,
      step,
      message,
    });
    return res.body?.status === 'duplicate' ? 'duplicate' : 'accepted';
  }

  /** Secure aggregation: what the aggregator routes to this site after `step` (pending while it is open). */
  async secaggFetch(task: string, round: number, step: SecureStep): Promise<RelayResult> {
    const res = await this.call('GET', `v1/secagg/${encodeURIComponent(task)}/${round}/${step}`, `fetching the result of the ${step} step of round ${round}`);
    return parseRelay(relayResultSchema, res.body, 'secagg relay answer from the aggregator');
  }

  /** The federation view (rounds, versions, sites' last statuses). */
  async federation(): Promise<unknown> {
    return (await this.call('GET', 'federation', 'reading the federation view')).body;
  }
}
