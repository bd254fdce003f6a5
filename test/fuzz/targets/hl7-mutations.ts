/**
 * Structured HL7v2 mutations: the ways real feeds go wrong (cut-off messages, doubled delimiters, odd escape
 * sequences, unusual MSH-1/MSH-2, stray bytes, other segment separators, batch envelopes, MLLP bytes left in a file),
 * each a small JSON value so fast-check can shrink a failing case to the mutation that matters.
 */
import fc from 'fast-check';

export type Hl7Mutation =
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'insert'; readonly at: number; readonly s: string }
  | { readonly op: 'bytes'; readonly at: number; readonly bytes: readonly number[] }
  | { readonly op: 'delimiters'; readonly field: string; readonly enc: string; readonly translate?: boolean }
  | { readonly op: 'separator'; readonly sep: string }
  | { readonly op: 'dropSegment' | 'duplicateSegment'; readonly k: number }
  | { readonly op: 'setField'; readonly k: number; readonly field: number; readonly value: string }
  | { readonly op: 'envelope'; readonly at: number; readonly line: string }
  | { readonly op: 'repeat'; readonly times: number }
  | { readonly op: 'bom' };

const ESCAPES = [
  '\\F\\', '\\S\\', '\\T\\', '\\R\\', '\\E\\', '\\.br\\', '\\H\\', '\\N\\', '\\X0D0A\\', '\\X\\', '\\Xzz\\', '\\XC3\\',
  '\\X41424\\', '\\XFFFE\\', '\\XD83D\\', '\\C2842\\', '\\M2442\\', '\\.sp2\\', '\\.in-4\\', '\\', '\\\\', '\\Z99\\', '\\x41\\',
];
const DELIMS = ['|', '^', '~', '\\', '&', '#', '\r', '\n', '\r\n', '||||', '^^^', '~~', '&&'];
const CHARSETS = ['', 'UNICODE UTF-8', '8859/1', '8859/2', '8859/7', '8859/15', 'ASCII', 'ISO IR192', 'UNICODE', 'unicode utf-8', 'BOGUS', 'UTF-16', '8859/1~UNICODE UTF-8', '^UNICODE'];
const DELIM_CHARS = ['|', '^', '~', '\\', '&', '#', '!', '@', '$', '*', '+', '.', '/', ':', ';', '?', '[', ']', '(', ')', '{', '}', 'A', 'z', '0', ' ', '\t', '\u00e9', '\u{1F600}', '\u0000', '\x0b', '\x1c'];
const SEPARATORS = ['\r', '\n', '\r\n', '\n\r', '\r\r', '', ' '];

const at = fc.double({ min: 0, max: 1, noNaN: true });

const SPECIALS = ['|', '^', '~', '\\', '&', '#', '!', '@', '$', '*', '+', '.', '/', ':', ';', '?', '[', ']', '(', ')', '{', '}', '%', '=', '\u00e9', '\u{1F600}'];

/** Distinct, legal delimiters (a sender that really uses other characters) or any characters at all. */
const delimiters = fc.oneof(
  fc.shuffledSubarray(SPECIALS, { minLength: 3, maxLength: 5 }).map(([field, ...enc]) => ({ op: 'delimiters' as const, field: field as string, enc: enc.join(''), translate: true })),
  fc.record({
    op: fc.constant('delimiters' as const),
    field: fc.constantFrom(...DELIM_CHARS),
    enc: fc.array(fc.constantFrom(...DELIM_CHARS), { maxLength: 7 }).map((a) => a.join('')),
  }),
);

export function hl7Mutation(): fc.Arbitrary<Hl7Mutation> {
  // Weighted towards mutations a parser should survive with a result, so both outcomes get exercised.
  return fc.oneof(
    { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('insert' as const), at, s: fc.constantFrom(...DELIMS) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('insert' as const), at, s: fc.constantFrom(...ESCAPES) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at, s: fc.constantFrom('\x0b', '\x1c', '\x1c\r', '\ufeff', '\u0000', '\ud800', 'MSH|^~\\&|', '\rMSH|', '\rZZ1|') }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at, s: fc.string({ unit: 'binary', maxLength: 20 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('bytes' as const), at, bytes: fc.array(fc.nat(255), { minLength: 1, maxLength: 8 }) }) },
    { weight: 3, arbitrary: delimiters },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('separator' as const), sep: fc.constantFrom(...SEPARATORS) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('dropSegment' as const, 'duplicateSegment' as const), k: fc.nat(40) }) },
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant('setField' as const),
        k: fc.nat(20),
        field: fc.integer({ min: 1, max: 30 }),
        value: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom(...CHARSETS), fc.constantFrom('ADT^A01', 'ORU^R01^ORU_R01', 'VXU^V04', 'ADT^A08', 'RDE^O11', '^', '', 'AL', 'NE', 'ER', '2.5.1', '99999999999999999999', '-1', 'NaN', '20240230', '1e400', '19000101000000.0000-2400')),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('envelope' as const),
        at: fc.nat(40),
        line: fc.oneof(
          fc.constantFrom('FHS|^~\\&|', 'BHS|^~\\&|', 'BTS|1', 'BTS|abc', 'BTS|', 'FTS|1', 'FHS|', 'BHS', 'BTS|1e309', 'BTS|-5'),
          fc.tuple(fc.constantFrom('FHS', 'BHS', 'BTS', 'FTS'), fc.string({ maxLength: 12 })).map(([s, r]) => s + r),
        ),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('repeat' as const), times: fc.integer({ min: 2, max: 30 }) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'bom' as const }) },
  );
}

const SEGMENTS = /\r\n|\r|\n/;

function segments(text: string): string[] {
  return text.split(SEGMENTS).filter((s) => s !== '');
}

function setField(line: string, field: number, value: string): string {
  const sep = line.charAt(3) || '|';
  const parts = line.split(sep);
  // MSH-1 is the separator itself, so MSH-n is parts[n-1]; other segments' field n is parts[n].
  const idx = line.startsWith('MSH') ? field - 1 : field;
  while (parts.length <= idx) parts.push('');
  parts[idx] = value;
  return parts.join(sep);
}

/** Rewrites every delimiter of the message into new ones, as a sender configured with other characters would. */
function translateDelimiters(text: string, msh: number, next: string): string {
  const oldSep = text.charAt(msh + 3);
  const encEnd = text.indexOf(oldSep, msh + 4);
  if (encEnd === -1) return text;
  const old = oldSep + text.slice(msh + 4, encEnd);
  const map = new Map<string, string>();
  for (let k = 0; k < old.length && k < next.length; k++) map.set(old.charAt(k), [...next][k] ?? '');
  let out = '';
  for (const ch of text) out += map.get(ch) ?? ch;
  return out;
}

/** Applies mutations in order; `binary` says raw bytes were inserted (the input must go in as bytes). */
export function mutateHl7(seed: string, mutations: readonly Hl7Mutation[]): { text: string; binary: boolean } {
  let text = seed;
  let binary = false;
  const pos = (f: number): number => Math.floor(f * text.length);
  for (const m of mutations) {
    switch (m.op) {
      case 'truncate':
        text = text.slice(0, pos(m.at));
        break;
      case 'insert':
        text = text.slice(0, pos(m.at)) + m.s + text.slice(pos(m.at));
        break;
      case 'bytes':
        binary = true;
        text = text.slice(0, pos(m.at)) + String.fromCharCode(...m.bytes) + text.slice(pos(m.at));
        break;
      case 'delimiters': {
        const i = text.indexOf('MSH');
        if (i === -1) break;
        if (m.translate) {
          text = translateDelimiters(text, i, m.field + m.enc);
          break;
        }
        const oldSep = text.charAt(i + 3);
        const encEnd = text.indexOf(oldSep, i + 4);
        text = `${text.slice(0, i)}MSH${m.field}${m.enc}${encEnd === -1 ? '' : m.field + text.slice(encEnd + 1)}`;
        break;
      }
      case 'separator':
        text = segments(text).join(m.sep);
        break;
      case 'dropSegment':
      case 'duplicateSegment': {
        const segs = segments(text);
        if (segs.length === 0) break;
        const k = m.k % segs.length;
        if (m.op === 'dropSegment') segs.splice(k, 1);
        else segs.splice(k, 0, segs[k] as string);
        text = segs.join('\r');
        break;
      }
      case 'setField': {
        const segs = segments(text);
        if (segs.length === 0) break;
        const k = m.k % segs.length;
        segs[k] = setField(segs[k] as string, m.field, m.value);
        text = segs.join('\r');
        break;
      }
      case 'envelope': {
        const segs = segments(text);
        segs.splice(Math.min(m.at, segs.length), 0, m.line);
        text = segs.join('\r');
        break;
      }
      case 'repeat':
        // Bounded so a chain of repeats stays a big batch rather than hundreds of megabytes.
        if (text.length * m.times > 200_000) break;
        text = Array.from({ length: m.times }, () => text).join('\r');
        break;
      case 'bom':
        text = `\ufeff${text}`;
        break;
    }
  }
  // Characters above 0xFF cannot be one byte each; such inputs go in as text.
  if (binary && [...text].some((c) => c.charCodeAt(0) > 0xff)) binary = false;
  return { text, binary };
}
