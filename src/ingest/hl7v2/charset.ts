import { FhirfedError } from '../../core/errors.js';
import type { HexDecoder } from './escape.js';

/**
 * MSH-18 character sets (HL7 table 0211) that fhirfed decodes from raw bytes. Feeds that declare nothing or
 * ASCII but send 8-bit bytes are common: those bytes are read as UTF-8 when they form valid UTF-8, else Latin-1.
 */
const CHARSETS: Readonly<Record<string, string>> = {
  ASCII: 'ascii',
  'ISO IR6': 'ascii',
  '8859/1': 'latin1',
  'ISO IR100': 'latin1',
  '8859/2': 'iso-8859-2',
  '8859/3': 'iso-8859-3',
  '8859/4': 'iso-8859-4',
  '8859/5': 'iso-8859-5',
  '8859/6': 'iso-8859-6',
  '8859/7': 'iso-8859-7',
  '8859/8': 'iso-8859-8',
  '8859/9': 'iso-8859-9',
  '8859/15': 'iso-8859-15',
  'UNICODE UTF-8': 'utf-8',
  'ISO IR192': 'utf-8',
  UNICODE: 'utf-8',
};

export const SUPPORTED_CHARSETS: readonly string[] = Object.keys(CHARSETS);

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Decodes bytes the way the message's MSH-18 says; a UTF-8 byte order mark wins over MSH-18. */
export function decodeHl7Buffer(buf: Uint8Array): string {
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
    return Buffer.from(buf.buffer, buf.byteOffset + 3, buf.length - 3).toString('utf8');
  }
  const declared = readMsh18(buf);
  const encoding = resolveCharset(declared);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (encoding === 'utf-8') {
    try {
      return utf8Strict.decode(b);
    } catch {
      throw new FhirfedError('FHIRFED_ERR_HL7_PARSE', `MSH-18 declares '${declared}' but the bytes are not valid UTF-8`, {
        where: { path: 'MSH-18', line: 1 },
        hint: 'fix the sender character set (MSH-18) or re-encode the message as UTF-8',
      });
    }
  }
  if (encoding === 'ascii') {
    if (isAscii(b)) return b.toString('latin1');
    try {
      return utf8Strict.decode(b);
    } catch {
      return b.toString('latin1');
    }
  }
  if (encoding === 'latin1') return b.toString('latin1');
  return new TextDecoder(encoding).decode(b);
}

/** Maps an MSH-18 value to a decoder label; throws a located error for sets fhirfed cannot decode. */
export function resolveCharset(declared: string): string {
  if (declared === '') return 'ascii';
  const enc = CHARSETS[declared.toUpperCase()];
  if (enc === undefined) {
    throw new FhirfedError('FHIRFED_ERR_HL7_PARSE', `MSH-18 character set '${declared}' is not supported`, {
      where: { path: 'MSH-18', line: 1 },
      hint: `use one of: ${SUPPORTED_CHARSETS.join(', ')}`,
    });
  }
  return enc;
}

/** How `\Xhh\` escapes decode for a message with this MSH-18 value. */
export function hexDecoderFor(declared: string): HexDecoder {
  const enc = CHARSETS[declared.toUpperCase()] ?? 'latin1';
  if (enc === 'utf-8') return (bytes) => Buffer.from(bytes).toString('utf8');
  if (enc === 'latin1' || enc === 'ascii') return (bytes) => Buffer.from(bytes).toString('latin1');
  const dec = new TextDecoder(enc);
  return (bytes) => dec.decode(bytes);
}

function isAscii(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if ((b[i] as number) > 0x7f) return false;
  return true;
}

/** MSH-18 of the first MSH segment, read from bytes (the header itself is ASCII in every charset we accept). */
function readMsh18(buf: Uint8Array): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const at = b.indexOf('MSH');
  if (at === -1 || at + 4 > b.length) return '';
  let end = at;
  while (end < b.length && b[end] !== 0x0d && b[end] !== 0x0a) end++;
  const header = b.toString('latin1', at, end);
  const fields = header.split(header.charAt(3));
  // fields[0] is 'MSH' and MSH-2 is fields[1], so MSH-n is fields[n-1].
  const msh18 = fields[17] ?? '';
  const rep = fields[1]?.charAt(1);
  const comp = fields[1]?.charAt(0);
  // MSH-18 may repeat (alternate sets); the first one is the default set of the message.
  let v = rep ? (msh18.split(rep)[0] ?? '') : msh18;
  if (comp) v = v.split(comp)[0] ?? '';
  return v.trim();
}
