/**
 * How an update travels from a site to the aggregator. Federation code only sees this interface; which scheme runs
 * is configuration (`task.codec`), and implementations are injected (architecture rule 4).
 *
 * - `plain`: the delta as little-endian Float32. The aggregator sees every site's update, which robust strategies
 *   (median, trimmed mean) need. Use only when updates are already protected by differential privacy or in tests.
 * - `masking` / `paillier`: secure aggregation (src/secagg). The aggregator only learns the sum of the survivors'
 *   updates; dropped sites are recovered by the scheme itself when `sum` is called with the survivors.
 */
import { FhirfedError } from '../core/errors.js';
import { base64ToFloat32, float32ToBase64, type CodecScheme, type UpdatePayload } from './messages.js';

export interface EncodeContext {
  readonly site: string;
  readonly task: string;
  readonly round: number;
}

/** Gateway side. */
export interface UpdateEncoder {
  readonly scheme: CodecScheme;
  encode(ctx: EncodeContext, delta: Float32Array): Promise<UpdatePayload>;
}

/** Aggregator side. */
export interface UpdateDecoder {
  readonly scheme: CodecScheme;
  /** true when `decode` can return a single site's update (plain only). */
  readonly revealsIndividualUpdates: boolean;
  /** Validates a payload on receipt; throws FHIRFED_ERR_VALIDATION / FHIRFED_ERR_SECAGG when it is malformed. */
  check(site: string, payload: UpdatePayload, length: number): void;
  /** One site's delta; only for schemes that reveal individual updates. */
  decode(site: string, payload: UpdatePayload, length: number): Float32Array;
  /** Σ of the survivors' deltas. */
  sum(survivors: readonly { site: string; payload: UpdatePayload }[], length: number): Promise<Float32Array>;
}

export type UpdateCodec = UpdateEncoder & UpdateDecoder;

function plainData(site: string, payload: UpdatePayload, length: number): Float32Array {
  if (payload.scheme !== 'plain') {
    throw new FhirfedError('FHIRFED_ERR_VALIDATION', `the update of ${site} uses the ${payload.scheme} codec, this round expects plain`, {
      where: { path: 'payload.scheme' },
      hint: 'the gateway and the aggregator must agree on task.codec',
    });
  }
  return base64ToFloat32(payload.data, length, `the update of ${site}`);
}

/** The `plain` codec: no protection beyond TLS and whatever privacy the site applied before encoding. */
export class PlainCodec implements UpdateCodec {
  readonly scheme = 'plain' as const;
  readonly revealsIndividualUpdates = true;

  encode(_ctx: EncodeContext, delta: Float32Array): Promise<UpdatePayload> {
    return Promise.resolve({ scheme: 'plain', length: delta.length, data: float32ToBase64(delta) });
  }

  check(site: string, payload: UpdatePayload, length: number): void {
    this.decode(site, payload, length);
  }

  decode(site: string, payload: UpdatePayload, length: number): Float32Array {
    return plainData(site, payload, length);
  }

  sum(survivors: readonly { site: string; payload: UpdatePayload }[], length: number): Promise<Float32Array> {
    const acc = new Float64Array(length);
    for (const s of survivors) {
      const d = this.decode(s.site, s.payload, length);
      for (let i = 0; i < length; i++) acc[i] = (acc[i] as number) + (d[i] as number);
    }
    return Promise.resolve(Float32Array.from(acc));
  }
}

/**
 * The decoder of an interactive scheme (masking): updates never arrive as one payload, they are relayed step by
 * step (/v1/secagg) and only their sum is produced, so every one-shot entry point refuses.
 */
export class RelayOnlyDecoder implements UpdateDecoder {
  readonly revealsIndividualUpdates = false;

  constructor(readonly scheme: 'masking' | 'paillier') {}

  private refuse(): never {
    throw new FhirfedError('FHIRFED_ERR_CONFLICT', `the ${this.scheme} codec runs through the secure-aggregation relay, not as a single update`, {
      where: { path: 'payload.scheme' },
      hint: 'the gateway must follow the round with secagg.scheme set to the aggregator\'s task.codec',
    });
  }

  check(): void {
    this.refuse();
  }

  decode(): Float32Array {
    this.refuse();
  }

  sum(): Promise<Float32Array> {
    this.refuse();
  }
}
