import type { Address, CodeableConcept, Coding, ContactPoint, HumanName, Identifier, Quantity } from 'fhir/r4.js';
import type { Hl7Field, Hl7Segment } from '../message.js';
import { CODE_SYSTEMS, NAME_USE } from './vocab.js';
import { isUcum } from './ucum.js';

/**
 * v2 data types -> FHIR R4 data types, after the IG's datatype maps (reference/v2-to-fhir/datatypes: CWE, CX, XPN,
 * XAD, XTN, DTM, CQ). All functions return undefined for empty input so callers never emit empty elements.
 */

/** Where unknown v2 coding systems and assigning authorities go. */
export interface SystemOptions {
  /** Prefix for v2 coding-system names that have no FHIR URI; default `urn:fhirfed:v2:codesystem:`. */
  readonly unknownCodeSystemPrefix: string;
  /** Prefix for CX-4 assigning authorities that are not OIDs; default `urn:fhirfed:v2:identifier:`. */
  readonly identifierSystemPrefix: string;
  /** UTC offset for v2 times that carry none (`+02:00`); FHIR requires an offset on times. */
  readonly timezone: string;
}

/** v2 marks "explicitly null" with two double quotes; FHIR has no such value, so it reads as absent. */
export function clean(v: string): string {
  return v === '""' ? '' : v.trim();
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** encodeURIComponent that cannot throw: a lone surrogate (possible in text input) becomes U+FFFD, not a URIError. */
export function uriPart(s: string): string {
  return encodeURIComponent(s.replace(LONE_SURROGATE, '\uFFFD'));
}

export function codeSystemUri(name: string, o: SystemOptions): string | undefined {
  if (name === '') return undefined;
  const up = name.toUpperCase();
  const known = CODE_SYSTEMS[up];
  if (known) return known;
  const table = /^HL7(\d{4})$/.exec(up);
  if (table) return `http://terminology.hl7.org/CodeSystem/v2-${table[1]}`;
  if (/^\d+(\.\d+)+$/.test(name)) return `urn:oid:${name}`;
  return o.unknownCodeSystemPrefix + uriPart(name);
}

function coding(code: string, display: string, system: string, o: SystemOptions): Coding | undefined {
  if (code === '' && display === '') return undefined;
  const c: Coding = {};
  const sys = codeSystemUri(system, o);
  if (sys) c.system = sys;
  if (code) c.code = code;
  if (display) c.display = display;
  return c;
}

/** CWE/CE/CNE at field f of a segment (repetition r): primary and alternate codings, CWE-9 as text. */
export function codeableConcept(seg: Hl7Segment, f: number, o: SystemOptions, r = 1): CodeableConcept | undefined {
  const codings: Coding[] = [];
  const first = coding(clean(seg.get(f, 1, 1, r)), clean(seg.get(f, 2, 1, r)), clean(seg.get(f, 3, 1, r)), o);
  if (first) codings.push(first);
  if (seg.get(f, 4, 1, r) !== '' || seg.get(f, 5, 1, r) !== '') {
    const alt = coding(clean(seg.get(f, 4, 1, r)), clean(seg.get(f, 5, 1, r)), clean(seg.get(f, 6, 1, r)), o);
    if (alt) codings.push(alt);
  }
  const text = clean(seg.get(f, 9, 1, r));
  if (codings.length === 0 && !text) return undefined;
  const cc: CodeableConcept = {};
  if (codings.length) cc.coding = codings;
  if (text) cc.text = text;
  return cc;
}

/** All repetitions of a CWE field. */
export function codeableConcepts(seg: Hl7Segment, f: number, o: SystemOptions): CodeableConcept[] {
  const n = seg.field(f).repetitionCount;
  const out: CodeableConcept[] = [];
  for (let r = 1; r <= n; r++) {
    const cc = codeableConcept(seg, f, o, r);
    if (cc) out.push(cc);
  }
  return out;
}

const DTM_RE = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?$/;

/**
 * DTM/TS -> FHIR dateTime: keeps the precision sent (YYYY, YYYY-MM, YYYY-MM-DD or a time) and adds the UTC offset
 * (the message's own when it has none of its own). Undefined for values that are not a v2 timestamp.
 */
export function dateTime(v: string, o: SystemOptions): string | undefined {
  const m = DTM_RE.exec(clean(v).split(/[\^&]/)[0] ?? '');
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  if (!mo) return y;
  if (!d) return `${y}-${mo}`;
  if (!h) return `${y}-${mo}-${d}`;
  const offset = tz ? `${tz.slice(0, 3)}:${tz.slice(3)}` : o.timezone;
  return `${y}-${mo}-${d}T${h}:${mi ?? '00'}:${s ?? '00'}${frac ?? ''}${offset}`;
}

/** DT or the date part of a DTM -> FHIR date. */
export function date(v: string): string | undefined {
  const m = /^(\d{4})(\d{2})?(\d{2})?/.exec(clean(v));
  if (!m) return undefined;
  return [m[1], m[2], m[3]].filter((x) => x !== undefined).join('-');
}

/** CX -> Identifier (value, assigning authority as system, identifier type, validity period). */
export function identifier(field: Hl7Field, o: SystemOptions): Identifier | undefined {
  const value = clean(field.component(1));
  if (!value) return undefined;
  const id: Identifier = { value };
  const sys = authoritySystem(clean(field.component(4, 1)), clean(field.component(4, 2)), clean(field.component(4, 3)), o);
  if (sys) id.system = sys;
  const type = clean(field.component(5));
  if (type) id.type = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: type }] };
  const start = date(field.component(7));
  const end = date(field.component(8));
  if (start || end) id.period = { ...(start ? { start } : {}), ...(end ? { end } : {}) };
  return id;
}

/** HD (namespace, universal id, universal id type) -> a system URI. */
export function authoritySystem(namespace: string, universalId: string, type: string, o: SystemOptions): string | undefined {
  if (universalId && (type === 'ISO' || /^\d+(\.\d+)+$/.test(universalId))) return `urn:oid:${universalId}`;
  if (universalId && (type === 'URI' || type === 'URL')) return universalId;
  if (universalId && type === 'UUID') return `urn:uuid:${universalId}`;
  const name = namespace || universalId;
  return name ? o.identifierSystemPrefix + uriPart(name) : undefined;
}

/** XPN -> HumanName. */
export function humanName(field: Hl7Field): HumanName | undefined {
  const family = clean(field.component(1, 1));
  const given = [clean(field.component(2)), clean(field.component(3))].filter(Boolean);
  const suffix = [clean(field.component(4)), clean(field.component(6)), clean(field.component(14))].filter(Boolean);
  const prefix = clean(field.component(5));
  if (!family && given.length === 0) return undefined;
  const n: HumanName = {};
  if (family) n.family = family;
  if (given.length) n.given = given;
  if (prefix) n.prefix = [prefix];
  if (suffix.length) n.suffix = suffix;
  const use = NAME_USE[clean(field.component(7))];
  if (use) n.use = use;
  return n;
}

/** XAD -> Address. */
export function address(field: Hl7Field): Address | undefined {
  const line = [clean(field.component(1, 1)), clean(field.component(2))].filter(Boolean);
  const a: Address = {};
  if (line.length) a.line = line;
  const city = clean(field.component(3));
  const state = clean(field.component(4));
  const postalCode = clean(field.component(5));
  const country = clean(field.component(6));
  if (city) a.city = city;
  if (state) a.state = state;
  if (postalCode) a.postalCode = postalCode;
  if (country) a.country = country;
  const type = clean(field.component(7));
  if (type === 'H') a.use = 'home';
  else if (type === 'O' || type === 'B') a.use = 'work';
  else if (type === 'M') a.type = 'postal';
  return Object.keys(a).length ? a : undefined;
}

/** XTN -> ContactPoint. */
export function contactPoint(field: Hl7Field, defaultUse?: ContactPoint['use']): ContactPoint | undefined {
  const equipment = clean(field.component(3)).toUpperCase();
  const email = clean(field.component(4));
  const local = clean(field.component(7));
  const composed = local ? [clean(field.component(5)), clean(field.component(6)), local].filter(Boolean).join(' ') : '';
  const value = equipment === 'INTERNET' || equipment === 'X.400' ? email : composed || clean(field.component(1)) || email;
  if (!value) return undefined;
  const cp: ContactPoint = { value };
  if (equipment === 'INTERNET' || equipment === 'X.400' || (value === email && email !== '')) cp.system = 'email';
  else if (equipment === 'FX') cp.system = 'fax';
  else if (equipment === 'BP') cp.system = 'pager';
  else cp.system = 'phone';
  const use = clean(field.component(2));
  if (equipment === 'CP' || use === 'PRS') cp.use = 'mobile';
  else if (use === 'WPN') cp.use = 'work';
  else if (use === 'PRN' || use === 'ORN' || use === 'VHN') cp.use = 'home';
  else if (defaultUse) cp.use = defaultUse;
  return cp;
}

/**
 * A number and a CWE unit -> Quantity. The unit is coded in UCUM when the unit's coding system says UCUM or when
 * the unit string is itself valid UCUM (most lab feeds send UCUM without saying so).
 */
export function quantity(value: number, seg: Hl7Segment | undefined, unitField: number, o: SystemOptions): Quantity {
  const q: Quantity = { value };
  if (!seg) return q;
  const code = clean(seg.get(unitField, 1));
  const text = clean(seg.get(unitField, 2));
  const system = clean(seg.get(unitField, 3)).toUpperCase();
  if (!code && !text) return q;
  q.unit = text || code;
  if (code && (system === 'UCUM' || system === 'ANS+' || ((system === '' || system === 'ISO+' || system === 'ISO') && isUcum(code)))) {
    q.system = 'http://unitsofmeasure.org';
    q.code = code;
  } else if (code && system) {
    const sys = codeSystemUri(system, o);
    if (sys) q.system = sys;
    q.code = code;
  }
  return q;
}

/** A v2 NM value -> number, or undefined when it is not one. */
export function num(v: string): number | undefined {
  const t = clean(v);
  if (t === '' || !/^[+-]?(\d+\.?\d*|\.\d+)$/.test(t)) return undefined;
  return Number(t);
}
