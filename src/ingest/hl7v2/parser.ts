import { FhirfedError } from '../../core/errors.js';
import { decodeHl7Buffer, hexDecoderFor, resolveCharset } from './charset.js';
import { readDelimiters, type Delimiters } from './delimiters.js';
import { Hl7Message, Hl7Segment, type Hl7Context } from './message.js';

/**
 * HL7v2 parser for what real feeds send: CR, LF or CRLF between segments, a UTF-8 byte order mark, MLLP framing
 * bytes left in a file, custom delimiters from MSH-1/MSH-2, MSH-18 character sets (when given bytes), and batch
 * files (FHS/BHS ... BTS/FTS) holding many messages.
 */

/** A batch or file of messages, with its envelope when there was one. */
export interface Hl7Batch {
  readonly messages: Hl7Message[];
  /** FHS segment, when the input is an HL7 batch file. */
  readonly fileHeader?: Hl7Segment;
  /** BHS segments, one per batch. */
  readonly batchHeaders: Hl7Segment[];
  /** Sum of BTS-1 message counts when the trailers declare them; compare with messages.length to detect loss. */
  readonly declaredCount?: number;
}

const SEGMENT_SPLIT = /\r\n|\r|\n/;
const SEGMENT_NAME = /^[A-Z][A-Z0-9]{2}$/;

function parseError(message: string, path: string, line: number, hint: string): FhirfedError {
  return new FhirfedError('FHIRFED_ERR_HL7_PARSE', message, { where: { path, line }, hint });
}

/** Text of the input: bytes are decoded per MSH-18 (or BOM); strings lose a leading BOM and MLLP framing bytes. */
export function hl7Text(input: string | Uint8Array): string {
  let text = typeof input === 'string' ? input : decodeHl7Buffer(input);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.charCodeAt(0) === 0x0b) text = text.slice(1);
  const fs = text.indexOf('\x1c');
  if (fs !== -1) text = text.slice(0, fs);
  return text;
}

/** Parses every message in the input, unwrapping FHS/BHS/BTS/FTS envelopes. */
export function parseHl7Batch(input: string | Uint8Array): Hl7Batch {
  const text = hl7Text(input);
  const lines = text.split(SEGMENT_SPLIT);
  const messages: Hl7Message[] = [];
  const batchHeaders: Hl7Segment[] = [];
  let fileHeader: Hl7Segment | undefined;
  let declared: number | undefined;
  let current: Hl7Segment[] | undefined;
  let ctx: Hl7Context | undefined;

  const flush = (): void => {
    if (current && ctx) messages.push(finishMessage(current, ctx.delimiters));
    current = undefined;
  };

  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    if (raw.length === 0 || raw.trim() === '') continue;
    const lineNo = i + 1;
    const name = raw.slice(0, 3);
    if (name === 'MSH' || name === 'FHS' || name === 'BHS') {
      flush();
      const d = readDelimiters(raw);
      if (typeof d === 'string') {
        throw parseError(d, `${name}-2`, lineNo, `start the segment like '${name}|^~\\&|' (field separator, then component, repetition, escape, sub-component characters)`);
      }
      const headerCtx = contextFor(raw, d, name, lineNo);
      const seg = new Hl7Segment(raw, headerCtx, lineNo);
      if (name === 'MSH') {
        ctx = headerCtx;
        current = [seg];
      } else if (name === 'FHS') {
        fileHeader = seg;
        ctx = headerCtx;
      } else {
        batchHeaders.push(seg);
        ctx = headerCtx;
      }
      continue;
    }
    if (!SEGMENT_NAME.test(name)) {
      throw parseError(`'${name}' is not a segment name`, name || 'segment', lineNo, 'each segment starts with a 3-character name of capital letters and digits (MSH, PID, OBX ...); check for a line break inside a field value');
    }
    const d = ctx?.delimiters;
    if (raw.length > 3 && d && raw.charAt(3) !== d.field) {
      throw parseError(`segment ${name} does not continue with the field separator '${d.field}'`, `${name}-1`, lineNo, `write '${name}${d.field}' followed by the fields`);
    }
    if (name === 'BTS' || name === 'FTS') {
      flush();
      if (name === 'BTS' && ctx) {
        const n = Number(new Hl7Segment(raw, ctx, lineNo).get(1));
        if (Number.isFinite(n) && raw.split(ctx.delimiters.field)[1] !== '') declared = (declared ?? 0) + n;
      }
      continue;
    }
    if (!current || !ctx) {
      throw parseError(`segment ${name} comes before any MSH segment`, name, lineNo, 'every message must start with an MSH segment');
    }
    current.push(new Hl7Segment(raw, ctx, lineNo));
  }
  flush();
  if (messages.length === 0 && !fileHeader && batchHeaders.length === 0) {
    throw parseError('no HL7v2 message found (no MSH segment)', 'MSH', 1, 'the input must start with MSH|^~\\&|... (optionally inside FHS/BHS batch segments)');
  }
  const batch: Hl7Batch = { messages, batchHeaders };
  if (fileHeader) Object.assign(batch, { fileHeader });
  if (declared !== undefined) Object.assign(batch, { declaredCount: declared });
  return batch;
}

/** Parses all messages of a file or stream chunk (batch envelopes removed). */
export function parseHl7Messages(input: string | Uint8Array): Hl7Message[] {
  return parseHl7Batch(input).messages;
}

/** Parses exactly one message; more than one is an error that says to use parseHl7Messages. */
export function parseHl7(input: string | Uint8Array): Hl7Message {
  const { messages } = parseHl7Batch(input);
  const first = messages[0];
  if (!first) throw parseError('no HL7v2 message found (no MSH segment)', 'MSH', 1, 'the input must start with MSH|^~\\&|...');
  if (messages.length > 1) {
    const second = messages[1] as Hl7Message;
    throw parseError(`expected one message but found ${messages.length}`, 'MSH', second.header.line, 'split the input, or read it with parseHl7Messages / parseHl7Batch');
  }
  return first;
}

function contextFor(header: string, d: Delimiters, name: string, line: number): Hl7Context {
  if (name !== 'MSH') return { delimiters: d, hex: hexDecoderFor('') };
  const msh18Raw = header.split(d.field)[17] ?? '';
  const msh18 = (msh18Raw.split(d.repetition)[0] ?? '').split(d.component)[0]?.trim() ?? '';
  try {
    resolveCharset(msh18);
  } catch (e) {
    if (e instanceof FhirfedError) throw new FhirfedError(e.code, e.message, { where: { path: 'MSH-18', line }, ...(e.hint ? { hint: e.hint } : {}) });
    throw e;
  }
  return { delimiters: d, hex: hexDecoderFor(msh18) };
}

function finishMessage(segments: Hl7Segment[], d: Delimiters): Hl7Message {
  const msh = segments[0] as Hl7Segment;
  if (msh.get(9, 1) === '') {
    throw parseError('MSH-9 message type is empty', 'MSH-9', msh.line, "set MSH-9 to the message type, e.g. 'ADT^A01^ADT_A01' or 'ORU^R01'");
  }
  return new Hl7Message(segments, d);
}
