import type { Bundle, BundleEntry, FhirResource, Reference } from 'fhir/r4.js';
import type { Hl7Message } from '../message.js';
import { clean, dateTime, uriPart, type SystemOptions } from './datatypes.js';

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
   * A deterministic UUID for a resource type and its business key: RFC 9562 version 8 (custom hash) over two
   * seeded 53-bit cyrb53 hashes. Not cryptographic on purpose: ids are keys, not secrets, and node:crypto SHA-1
   * costs 6-18 us per call here, which alone would halve conversion throughput.
   */
  id(type: string, ...key: string[]): string {
    const text = `${this.sender}\u0000${type}\u0000${key.join('\u0000')}`;
    const a = cyrb53(text, 0x9e3779b9);
    const b = cyrb53(text, 0x85ebca6b);
    const x = a.toString(16).padStart(14, '0') + b.toString(16).padStart(14, '0');
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-8${x.slice(13, 16)}-${((parseInt(x.charAt(16), 16) & 0x3) | 0x8).toString(16)}${x.slice(17, 20)}-${x.slice(20, 28)}${x.slice(0, 4)}`;
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

/** cyrb53 (public-domain string hash by bryc): 53 well-mixed bits, seeded. */
function cyrb53(str: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
