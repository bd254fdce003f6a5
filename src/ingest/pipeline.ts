import type { Resource } from 'fhir/r4.js';
import { FhirfedError, formatLocation, isFhirfedError } from '../core/errors.js';
import { convertToFhir, parseHl7, type Hl7Message } from './hl7v2/index.js';
import { sha256, type DeadLetterFilter, type DeadReason, type Ledger, type LedgerEntry } from './ledger/index.js';

/**
 * Turns what arrives (a parsed v2 message, a FHIR resource) into a ledger entry: converted resources or a dead letter
 * with a structured reason. The same functions re-run dead letters on replay, so a mapping fix applies to both.
 */

export type Outcome = { readonly resources: readonly Resource[] } | { readonly dead: DeadReason };

export function reasonOf(e: unknown, fallbackWhere?: string): DeadReason {
  if (isFhirfedError(e)) {
    const where = formatLocation(e.where) || fallbackWhere;
    return { code: e.code, message: e.message, ...(where ? { where } : {}) };
  }
  return { code: 'FHIRFED_ERR_INTERNAL', message: e instanceof Error ? e.message : String(e), ...(fallbackWhere ? { where: fallbackWhere } : {}) };
}

/** v2 -> FHIR resources, or why not. */
export function convertHl7(msg: Hl7Message): Outcome {
  try {
    const bundle = convertToFhir(msg);
    return { resources: (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource as Resource] : [])) };
  } catch (e) {
    return { dead: reasonOf(e) };
  }
}

/** The sender namespace of MSH-10 control ids: MSH-3 (application) ^ MSH-4 (facility). */
export function hl7Source(msg: Hl7Message): string {
  return `${msg.header.get(3)}^${msg.header.get(4)}`;
}

/**
 * Ledger entry of a parsed v2 message; dedupe on (sender, MSH-10), or on content when MSH-10 is empty. With
 * `convert: false` (the MLLP path) the entry is stored as `received` and converted after the ACK by PendingConverter,
 * which keeps conversion cost out of the ACK latency.
 */
export function hl7Entry(msg: Hl7Message, raw: string, options: { readonly convert?: boolean } = {}): LedgerEntry {
  const hash = sha256(raw);
  const source = hl7Source(msg);
  const key = msg.controlId || `sha256:${hash}`;
  const base: LedgerEntry = { kind: 'hl7v2', source, key, dedupeKey: `hl7v2|${source}|${key}`, payload: raw, hash };
  return options.convert === false ? base : { ...base, ...convertHl7(msg) };
}

/** Ledger entry of v2 text that does not parse (from a file): kept as a dead letter, deduplicated by content. */
export function unparsedHl7Entry(raw: string, error: unknown, origin: string): LedgerEntry {
  const hash = sha256(raw);
  return { kind: 'hl7v2', source: origin, key: `sha256:${hash}`, dedupeKey: `hl7v2|unparsed|${hash}`, payload: raw, hash, dead: reasonOf(error) };
}

const TYPE_RE = /^[A-Z][A-Za-z]+$/;
const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;

/** Structural checks every stored resource passes; the first failure is an error saying where and how to fix. */
export function validateResource(json: unknown, where?: string): Resource {
  const fail = (message: string, path: string, hint: string): never => {
    throw new FhirfedError('FHIRFED_ERR_FHIR_INVALID', message, { where: where ? { file: where, path } : { path }, hint });
  };
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail('not a JSON object', '$', 'send one FHIR resource as a JSON object');
  const r = json as { resourceType?: unknown; id?: unknown; meta?: { lastUpdated?: unknown; versionId?: unknown } };
  if (typeof r.resourceType !== 'string' || !TYPE_RE.test(r.resourceType)) {
    fail('resourceType is missing or not a FHIR type name', 'resourceType', "every resource needs e.g. \"resourceType\": \"Patient\"");
  }
  const type = r.resourceType as string;
  if (r.id !== undefined && (typeof r.id !== 'string' || !ID_RE.test(r.id))) {
    fail(`${type}.id is not a valid FHIR id`, `${type}.id`, 'ids are 1-64 characters of A-Z a-z 0-9 - .');
  }
  if (r.meta?.lastUpdated !== undefined && (typeof r.meta.lastUpdated !== 'string' || Number.isNaN(Date.parse(r.meta.lastUpdated)))) {
    fail(`${type}.meta.lastUpdated is not an instant`, `${type}.meta.lastUpdated`, 'use e.g. 2024-01-31T12:00:00Z');
  }
  return json as Resource;
}

/**
 * Ledger entry of one FHIR resource. Dedupe on type/id + versionId (else lastUpdated, else content hash), so a re-pull
 * of an unchanged resource is a duplicate and a new version is recorded. A resource without id gets one derived from
 * its content, which keeps re-posting the same payload idempotent.
 */
export function fhirEntry(json: unknown, source: string, where?: string): LedgerEntry {
  const payload = JSON.stringify(json);
  const hash = sha256(payload);
  let resource: Resource;
  try {
    resource = validateResource(json, where);
  } catch (e) {
    return { kind: 'fhir', source, key: `invalid|${hash}`, dedupeKey: `fhir|invalid|${hash}`, payload, hash, dead: reasonOf(e, where) };
  }
  if (!resource.id) resource = { ...resource, id: hash.slice(0, 32) };
  const version = resource.meta?.versionId ? `v:${resource.meta.versionId}` : resource.meta?.lastUpdated ? `t:${resource.meta.lastUpdated}` : `h:${hash}`;
  const key = `${resource.resourceType}/${resource.id}|${version}`;
  return { kind: 'fhir', source, key, dedupeKey: `fhir|${key}`, hash, resources: [resource] };
}

/** A FHIR payload that is not even JSON: kept as a dead letter, deduplicated by content. */
export function deadFhirEntry(payload: string, error: unknown, source: string): LedgerEntry {
  const hash = sha256(payload);
  return { kind: 'fhir', source, key: `invalid|${hash}`, dedupeKey: `fhir|invalid|${hash}`, payload, hash, dead: reasonOf(error) };
}

/** The resources of a Bundle (any type, nested Bundles flattened) or the resource itself. */
export function* unbundle(json: unknown): Generator<unknown> {
  const b = json as { resourceType?: unknown; entry?: unknown };
  if (b && typeof b === 'object' && b.resourceType === 'Bundle' && Array.isArray(b.entry)) {
    for (const e of b.entry as { resource?: unknown }[]) if (e && typeof e === 'object' && e.resource !== undefined) yield* unbundle(e.resource);
  } else yield json;
}

export interface ReplaySummary {
  readonly attempted: number;
  readonly converted: number;
  readonly stillDead: readonly { messageId: number; reason: DeadReason }[];
}

/** Re-runs open dead letters through the current parser/converter/validator (after a mapping fix). */
export function replayDeadLetters(ledger: Ledger, filter: DeadLetterFilter = {}): ReplaySummary {
  const letters = ledger.deadLetters(filter);
  let converted = 0;
  const stillDead: { messageId: number; reason: DeadReason }[] = [];
  const settled = letters.map((d) => ({ messageId: d.messageId, outcome: reprocess(d.kind, d.payload) }));
  ledger.settle(settled);
  for (const { messageId, outcome } of settled) {
    if ('dead' in outcome) stillDead.push({ messageId, reason: outcome.dead });
    else converted++;
  }
  return { attempted: letters.length, converted, stillDead };
}

/** Converts up to `limit` stored-but-unconverted messages; returns how many it settled. */
export function convertPending(ledger: Ledger, limit = 200): number {
  const batch = ledger.pending(limit);
  ledger.settle(batch.map((m) => ({ messageId: m.messageId, outcome: reprocess(m.kind, m.payload) })));
  return batch.length;
}

/**
 * Converts `received` messages in the background, a chunk per event-loop turn so ACKs keep flowing. `kick()` after
 * each commit; on start it also picks up what a crash left unconverted.
 */
export class PendingConverter {
  private running = false;
  private again = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly ledger: Ledger,
    private readonly onError: (e: unknown) => void,
    private readonly chunk = 200,
  ) {}

  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    setImmediate(() => this.step());
  }

  /** Resolves when nothing is left to convert. */
  drain(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private step(): void {
    let n = 0;
    try {
      n = this.ledger.db.open ? convertPending(this.ledger, this.chunk) : 0;
    } catch (e) {
      this.onError(e);
    }
    if (n === this.chunk || this.again) {
      this.again = false;
      setImmediate(() => this.step());
      return;
    }
    this.running = false;
    for (const w of this.waiters.splice(0)) w();
  }
}

/** The outcome of a stored payload run through the current parser/converter/validator. */
export function reprocess(kind: 'hl7v2' | 'fhir', payload: string | null): Outcome {
  if (payload === null) return { dead: { code: 'FHIRFED_ERR_LEDGER', message: 'the dead letter has no stored payload to replay' } };
  if (kind === 'hl7v2') {
    try {
      return convertHl7(parseHl7(payload));
    } catch (e) {
      return { dead: reasonOf(e) };
    }
  }
  try {
    let json: unknown;
    try {
      json = JSON.parse(payload);
    } catch (e) {
      throw new FhirfedError('FHIRFED_ERR_FHIR_INVALID', `not valid JSON: ${(e as Error).message}`, { hint: 'the stored payload must be one JSON resource' });
    }
    const resource = validateResource(json);
    return { resources: [resource.id ? resource : { ...resource, id: sha256(payload).slice(0, 32) }] };
  } catch (e) {
    return { dead: reasonOf(e) };
  }
}
