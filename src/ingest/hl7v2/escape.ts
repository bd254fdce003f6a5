import type { Delimiters } from './delimiters.js';

/**
 * HL7v2 escape sequences (v2.5.1 chapter 2.7). Only values that contain the escape character pay for decoding,
 * which keeps the common path to one indexOf.
 */

/** How `\Xhh..\` bytes become text: the message's MSH-18 character set. */
export type HexDecoder = (bytes: Uint8Array) => string;

const latin1: HexDecoder = (bytes) => Buffer.from(bytes).toString('latin1');

export function unescapeHl7(value: string, d: Delimiters, hex: HexDecoder = latin1): string {
  const esc = d.escape;
  if (esc === '' || value.indexOf(esc) === -1) return value;
  let out = '';
  let i = 0;
  while (i < value.length) {
    const start = value.indexOf(esc, i);
    if (start === -1) {
      out += value.slice(i);
      break;
    }
    const end = value.indexOf(esc, start + 1);
    if (end === -1) {
      // A lone escape character is data, not a sequence: keep it rather than lose text.
      out += value.slice(i);
      break;
    }
    out += value.slice(i, start);
    const body = value.slice(start + 1, end);
    const decoded = decodeSequence(body, d, hex);
    out += decoded ?? esc + body + esc;
    i = end + 1;
  }
  return out;
}

function decodeSequence(body: string, d: Delimiters, hex: HexDecoder): string | undefined {
  switch (body) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subComponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case '.br':
      return '\n';
    case 'H':
    case 'N':
      // Highlighting on/off has no meaning in FHIR strings.
      return '';
    case '':
      return undefined;
  }
  const kind = body.charAt(0);
  if (kind === 'X' || kind === 'x') {
    const hexText = body.slice(1);
    if (hexText.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(hexText)) return undefined;
    return hex(Uint8Array.from(Buffer.from(hexText, 'hex')));
  }
  // Character-set switches (\Cxxyy\, \Mxxyyzz\) and formatting commands (.sp, .in, .ti, .ce, .fi, .nf, .sk)
  // carry layout only; dropping them keeps the text readable.
  if (kind === 'C' || kind === 'M' || kind === '.') return '';
  return undefined;
}

/** Escapes delimiter characters so a value can be written into a message (ACK ERR-8, MSA-3). */
export function escapeHl7(value: string, d: Delimiters): string {
  if (d.escape === '') return value.replace(/[\r\n]+/g, ' ');
  let out = '';
  for (const ch of value) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.subComponent && ch !== '') out += `${d.escape}T${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (ch === '\r' || ch === '\n') out += `${d.escape}.br${d.escape}`;
    else out += ch;
  }
  return out;
}
