import { hash } from 'node:crypto';
import type { Bundle, BundleEntry, FhirResource, Reference } from 'fhir/r4.js';
import type { Hl7Message } from '../message.js';
import { clean, dateTime, uriPart, type SystemOptions } from './datatypes.js';

/** RFC 9562 variant nibble (10xx) from two hash bits. */
const VARIANT = ['8', '9', 'a', 'b'] as const;

/** Options of v2 -> FHIR conversion; every field has its default here and only here. */
export interface ConvertOptions {
  /**
   * `batch` (default, like the ms-fhir-converter golden bundles: each entry a PUT, one failing entry does not block
   * the others) or `transaction` (all or nothing).
   */
  readonly bundleType?: 'batch' | 'transaction';
  /** Prefix for v2 coding systems with no FHIR URI. @defaultValue `urn:fhirfed:v2:codesystem:` */
  readonly unknownCodeSystemPrefix?: string;
  /** Prefix for non-OID assigning authorities. @defaultValue `urn:fhirfed:v2:identifier:` */
  readonly identifierSystemPrefix?: string;
  /**
   * UTC offset for v2 times that carry none. @defaultValue the offset of MSH-7, else `Z` — a v2 sender usually writes
   * all its times in one zone, and FHIR requires an offset on every time.
   */
  readonly timezone?: string;
}

/**
 * State of one conversion: the message, the entries built so far and the deterministic ids. Ids are UUIDv5-style
 * hashes of the sender (MSH-3/MSH-4) and business keys (patient identifier, filler order number, control id +
 * segment position), so converting the same message twice yields the same ids and a re-sent message overwrites,
 * rather than duplicates, its resources.
 */
export class ConvertContext implements SystemOptions {
  readonly unknownCodeSystemPrefix: string;
  readonly identifierSystemPrefix: string;
  readonly timezone: string;
  readonly bundleType: 'batch' | 'transaction';
  /** Sender namespace for ids: sending application and facility. */
  readonly sender: string;
  private readonly entries: BundleEntry[] = [];
  private readonly seen = new Map<string, FhirResource>();
  patient: Reference | undefined;
  encounter: Reference | undefined;

  constructor(
    readonly msg: Hl7Message,
    options: ConvertOptions = {},
  ) {
    this.unknownCodeSystemPrefix = options.unknownCodeSystemPrefix ?? 'urn:fhirfed:v2:codesystem:';
    this.identifierSystemPrefix = options.identifierSystemPrefix ?? 'urn:fhirfed:v2:identifier:';
    this.bundleType = options.bundleType ?? 'batch';
    const msh7 = /([+-]\d{4})$/.exec(clean(msg.header.get(7)));
    const tz = msh7?.[1];
    this.timezone = options.timezone ?? (tz ? `${tz.slice(0, 3)}:${tz.slice(3)}` : 'Z');
    this.sender = `${msg.header.get(3)}|${msg.header.get(4)}`;
  }

  /**
   * A deterministic UUID for a resource type and its business key: the layout of RFC 9562 version 8 (custom) filled
   * with SHA-1 of sender, type and key (like version 5, without the namespace bytes). Node's one-shot `crypto.hash`
   * costs about 0.5 us here, five times less than two JavaScript string hashes rendered through Number#toString(16).
   */
  id(type: string, ...key: string[]): string {
    const x = hash('sha1', `${this.sender}\u0000${type}\u0000${key.join('\u0000')}`, 'hex');
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-8${x.slice(13, 16)}-${VARIANT[x.charCodeAt(16) & 3]}${x.slice(17, 20)}-${x.slice(20, 32)}`;
  }

  /** Key for resources that have no business identifier: control id and segment position. */
  segmentKey(segmentIndex: number): string {
    return `${this.msg.controlId}#${segmentIndex}`;
  }

  /** Adds a resource (once per id) and returns a reference to it. */
  add<T extends FhirResource & { id?: string }>(resource: T): Reference {
    const id = resource.id as string;
    const key = `${resource.resourceType}/${id}`;
    if (!this.seen.has(key)) {
      this.seen.set(key, resource);
      this.entries.push({
        fullUrl: `urn:uuid:${id}`,
        resource,
        request: { method: 'PUT', url: key },
      });
    }
    return { reference: key };
  }

  dateTime(v: string): string | undefined {
    return dateTime(v, this);
  }

  bundle(): Bundle {
    const b: Bundle = {
      resourceType: 'Bundle',
      id: this.id('Bundle', this.msg.controlId),
      type: this.bundleType,
      entry: this.entries,
    };
    const control = this.msg.controlId;
    if (control) b.identifier = { system: this.identifierSystemPrefix + uriPart(this.sender), value: control };
    const ts = this.dateTime(this.msg.header.get(7));
    if (ts && ts.length > 10) b.timestamp = ts;
    return b;
  }
}
