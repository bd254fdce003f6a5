import { FhirfedError } from '../../core/errors.js';
import type { Delimiters } from './delimiters.js';
import { unescapeHl7, type HexDecoder } from './escape.js';

/** What every segment of one message shares: its delimiters and how `\X..\` escapes decode. */
export interface Hl7Context {
  readonly delimiters: Delimiters;
  readonly hex: HexDecoder;
}

/**
 * The n-th (1-based) part of `raw` split on `sep`, without splitting the rest: values are cut out lazily, only when
 * asked for, so a converter that reads 20 of 300 components pays for 20.
 */
function nth(raw: string, sep: string, n: number): string {
  if (sep === '') return n === 1 ? raw : '';
  let start = 0;
  for (let k = 1; k < n; k++) {
    const e = raw.indexOf(sep, start);
    if (e === -1) return '';
    start = e + 1;
  }
  const e = raw.indexOf(sep, start);
  return e === -1 ? (start === 0 ? raw : raw.slice(start)) : raw.slice(start, e);
}

function count(raw: string, sep: string): number {
  if (raw === '') return 0;
  if (sep === '') return 1;
  let c = 1;
  for (let i = raw.indexOf(sep); i !== -1; i = raw.indexOf(sep, i + 1)) c++;
  return c;
}

/** One field (all its repetitions) of a segment. Positions are 1-based as in the HL7 standard. */
export class Hl7Field {
  constructor(
    /** The field as written, escapes and delimiters included. */
    readonly raw: string,
    private readonly ctx: Hl7Context,
  ) {}

  get isEmpty(): boolean {
    return this.raw === '';
  }

  get repetitionCount(): number {
    return count(this.raw, this.ctx.delimiters.repetition);
  }

  /** The i-th repetition (1-based) as a field of its own. */
  repetition(i: number): Hl7Field {
    return new Hl7Field(nth(this.raw, this.ctx.delimiters.repetition, i), this.ctx);
  }

  repetitions(): Hl7Field[] {
    if (this.raw === '') return [];
    const sep = this.ctx.delimiters.repetition;
    return (sep === '' ? [this.raw] : this.raw.split(sep)).map((r) => new Hl7Field(r, this.ctx));
  }

  /** Component c, sub-component s of the first repetition, escapes decoded. Empty string when absent. */
  component(c: number, s = 1): string {
    const d = this.ctx.delimiters;
    const rep = nth(this.raw, d.repetition, 1);
    return unescapeHl7(nth(nth(rep, d.component, c), d.subComponent, s), d, this.ctx.hex);
  }

  /** All components of the first repetition (first sub-component each), escapes decoded. */
  components(): string[] {
    const d = this.ctx.delimiters;
    const rep = nth(this.raw, d.repetition, 1);
    if (rep === '') return [];
    return rep.split(d.component).map((c) => unescapeHl7(nth(c, d.subComponent, 1), d, this.ctx.hex));
  }

  get componentCount(): number {
    return count(nth(this.raw, this.ctx.delimiters.repetition, 1), this.ctx.delimiters.component);
  }

  /** The first primitive value (component 1, sub-component 1, repetition 1). */
  get value(): string {
    return this.component(1, 1);
  }

  /** Text of the first repetition with escapes decoded and delimiters kept (for display and FT/TX values). */
  get text(): string {
    return unescapeHl7(nth(this.raw, this.ctx.delimiters.repetition, 1), this.ctx.delimiters, this.ctx.hex);
  }

  toString(): string {
    return this.raw;
  }
}

/** One segment. Fields are split once (cheap); components and escapes only when read. */
export class Hl7Segment {
  readonly name: string;
  private readonly parts: string[];
  /** MSH, FHS and BHS count their field separator as field 1, so their fields sit one index earlier. */
  private readonly shift: number;

  constructor(
    /** The segment as written. */
    readonly raw: string,
    private readonly ctx: Hl7Context,
    /** 1-based segment number in the input (the line number when each segment is on its own line). */
    readonly line: number,
  ) {
    this.parts = raw.split(ctx.delimiters.field);
    this.name = this.parts[0] ?? '';
    this.shift = this.name === 'MSH' || this.name === 'FHS' || this.name === 'BHS' ? 1 : 0;
  }

  get delimiters(): Delimiters {
    return this.ctx.delimiters;
  }

  /** Highest field position present. */
  get fieldCount(): number {
    return this.parts.length - 1 + this.shift;
  }

  /** Field n as written (escapes kept). */
  rawField(n: number): string {
    if (this.shift === 1 && n === 1) return this.ctx.delimiters.field;
    return this.parts[n - this.shift] ?? '';
  }

  field(n: number): Hl7Field {
    return new Hl7Field(this.rawField(n), this.ctx);
  }

  /**
   * The primitive value at field f, component c, sub-component s, repetition r (all 1-based), escapes decoded;
   * '' when absent. MSH-1 and MSH-2 are returned whole: they are the delimiters themselves.
   */
  get(f: number, c = 1, s = 1, r = 1): string {
    const raw = this.rawField(f);
    if (raw === '') return '';
    if (this.shift === 1 && f <= 2) return raw;
    const d = this.ctx.delimiters;
    const rep = r === 1 && raw.indexOf(d.repetition) === -1 ? raw : nth(raw, d.repetition, r);
    const comp = c === 1 && rep.indexOf(d.component) === -1 ? rep : nth(rep, d.component, c);
    const sub = s === 1 && (d.subComponent === '' || comp.indexOf(d.subComponent) === -1) ? comp : nth(comp, d.subComponent, s);
    return unescapeHl7(sub, d, this.ctx.hex);
  }

  /** All repetitions of field n. */
  repetitions(n: number): Hl7Field[] {
    return this.field(n).repetitions();
  }

  toString(): string {
    return this.raw;
  }
}

/** A parsed HL7v2 position: `PID-5`, `PID-5.1`, `PID-3[2].1.2`, `OBX[3]-5` (segment occurrence, 1-based). */
export interface Hl7Path {
  readonly segment: string;
  readonly occurrence: number;
  readonly field: number;
  readonly repetition: number;
  readonly component: number;
  readonly subComponent: number;
}

const PATH_RE = /^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-(\d+)(?:\[(\d+)\])?(?:\.(\d+)(?:\.(\d+))?)?$/;
const pathCache = new Map<string, Hl7Path>();

export function parseHl7Path(path: string): Hl7Path {
  const cached = pathCache.get(path);
  if (cached) return cached;
  const m = PATH_RE.exec(path);
  if (!m) {
    throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `'${path}' is not an HL7v2 position`, {
      where: { path },
      hint: "write SEG-field[.component[.subcomponent]], e.g. 'PID-5.1', 'PID-3[2].1' (repetition 2), 'OBX[2]-5'",
    });
  }
  const p: Hl7Path = {
    segment: m[1] as string,
    occurrence: Number(m[2] ?? 1),
    field: Number(m[3]),
    repetition: Number(m[4] ?? 1),
    component: Number(m[5] ?? 1),
    subComponent: Number(m[6] ?? 1),
  };
  if (pathCache.size < 1000) pathCache.set(path, p);
  return p;
}

/** One HL7v2 message: its segments in order, MSH first. */
export class Hl7Message {
  readonly header: Hl7Segment;

  constructor(
    readonly segments: readonly Hl7Segment[],
    readonly delimiters: Delimiters,
  ) {
    const h = segments[0];
    if (!h || h.name !== 'MSH') throw new Error('Hl7Message needs MSH as its first segment');
    this.header = h;
  }

  /** MSH-9.1, e.g. `ORU`. */
  get messageCode(): string {
    return this.header.get(9, 1);
  }

  /** MSH-9.2, e.g. `R01`. */
  get triggerEvent(): string {
    return this.header.get(9, 2);
  }

  /** MSH-9.3, e.g. `ORU_R01` (often absent before v2.4). */
  get messageStructure(): string {
    return this.header.get(9, 3);
  }

  /** `ORU^R01`: code and trigger joined by `^` whatever the message's own component separator. */
  get messageType(): string {
    const t = this.triggerEvent;
    return t ? `${this.messageCode}^${t}` : this.messageCode;
  }

  /** MSH-10, the message control id that ACKs echo in MSA-2. */
  get controlId(): string {
    return this.header.get(10);
  }

  /** MSH-11.1 processing id (P, T, D). */
  get processingId(): string {
    return this.header.get(11);
  }

  /** MSH-12.1 version, e.g. `2.5.1`. */
  get version(): string {
    return this.header.get(12);
  }

  /** MSH-18, the character set ('' means ASCII). */
  get charset(): string {
    return this.header.get(18);
  }

  /** The n-th (1-based) segment with this name. */
  segment(name: string, occurrence = 1): Hl7Segment | undefined {
    let seen = 0;
    for (const s of this.segments) {
      if (s.name === name && ++seen === occurrence) return s;
    }
    return undefined;
  }

  segmentsNamed(name: string): Hl7Segment[] {
    return this.segments.filter((s) => s.name === name);
  }

  /** The primitive value at an HL7 position such as `PID-5.1` or `OBX[2]-5`; '' when absent. */
  get(path: string): string {
    const p = parseHl7Path(path);
    const seg = this.segment(p.segment, p.occurrence);
    return seg ? seg.get(p.field, p.component, p.subComponent, p.repetition) : '';
  }

  /** The message as written, segments joined by CR (the HL7 segment terminator). */
  toString(): string {
    return this.segments.map((s) => s.raw).join('\r');
  }
}
