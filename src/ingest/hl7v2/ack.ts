import { isFhirfedError } from '../../core/errors.js';
import { DEFAULT_DELIMITERS, encodingCharacters, readDelimiters, type Delimiters } from './delimiters.js';
import { escapeHl7 } from './escape.js';
import type { Hl7Message } from './message.js';

/**
 * ACK messages for HL7v2 original mode (AA/AE/AR) and enhanced mode (CA/CE/CR accept ACK, then an application ACK
 * as MSH-16 asks), with an ERR segment that says why. Built for the MLLP listener: it decides the outcome, this
 * module only writes the message.
 */

export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';
export type AckMode = 'original' | 'enhanced';
export type AckStage = 'accept' | 'application';
/** success = stored; error = could not be processed (retry may help); reject = will never be accepted. */
export type AckOutcome = 'success' | 'error' | 'reject';

/** HL7 table 0357 message error condition codes. */
export const HL7_ERROR_CODES = {
  segmentSequence: '100',
  requiredFieldMissing: '101',
  dataTypeError: '102',
  tableValueNotFound: '103',
  unsupportedMessageType: '200',
  unsupportedEventCode: '201',
  unsupportedProcessingId: '202',
  unsupportedVersionId: '203',
  unknownKeyIdentifier: '204',
  duplicateKeyIdentifier: '205',
  applicationRecordLocked: '206',
  applicationInternalError: '207',
} as const;

const ERROR_TEXT: Readonly<Record<string, string>> = {
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '203': 'Unsupported version id',
  '204': 'Unknown key identifier',
  '205': 'Duplicate key identifier',
  '206': 'Application record locked',
  '207': 'Application internal error',
};

export interface AckErrorLocation {
  readonly segment: string;
  /** Occurrence of the segment in the message (1-based). */
  readonly sequence?: number;
  readonly field?: number;
  readonly component?: number;
}

export interface AckError {
  /** HL7 table 0357 code (ERR-3). */
  readonly code: string;
  /** Text for a person (ERR-8). */
  readonly message: string;
  readonly location?: AckErrorLocation;
  /** ERR-4: E error (default), W warning, I information, F fatal. */
  readonly severity?: 'E' | 'W' | 'I' | 'F';
}

export interface AckOptions {
  readonly code: AckCode;
  readonly error?: AckError;
  /** MSH-3/MSH-4 of the ACK; default: the original's receiving application/facility (MSH-5/MSH-6). */
  readonly sendingApplication?: string;
  readonly sendingFacility?: string;
  /** MSH-10 of the ACK; default: a time-based unique id. */
  readonly controlId?: string;
  /** MSH-7 of the ACK; default: now. */
  readonly timestamp?: Date;
}

/** The header fields an ACK echoes; readable even from a message that failed to parse. */
export interface AckSource {
  readonly delimiters: Delimiters;
  readonly fields: (n: number) => string;
}

/** Enhanced mode when the sender filled MSH-15 (accept ACK type) or MSH-16 (application ACK type). */
export function ackMode(msg: Hl7Message): AckMode {
  return msg.header.rawField(15) !== '' || msg.header.rawField(16) !== '' ? 'enhanced' : 'original';
}

/** The ACK code for a mode, stage and outcome. */
export function ackCode(mode: AckMode, stage: AckStage, outcome: AckOutcome): AckCode {
  const enhancedAccept = mode === 'enhanced' && stage === 'accept';
  if (outcome === 'success') return enhancedAccept ? 'CA' : 'AA';
  if (outcome === 'error') return enhancedAccept ? 'CE' : 'AE';
  return enhancedAccept ? 'CR' : 'AR';
}

/**
 * Whether the sender wants an ACK at this stage (HL7 table 0155: AL always, NE never, ER only on error, SU only on
 * success). Original mode always acknowledges, at the application stage.
 */
export function wantsAck(msg: Hl7Message, stage: AckStage, outcome: AckOutcome): boolean {
  if (ackMode(msg) === 'original') return stage === 'application';
  const v = msg.header.get(stage === 'accept' ? 15 : 16).toUpperCase() || 'AL';
  if (v === 'NE') return false;
  if (v === 'ER') return outcome !== 'success';
  if (v === 'SU') return outcome === 'success';
  return true;
}

/** Maps any error to an ERR: parse errors with their HL7 position, unsupported types to 200, the rest to 207. */
export function ackErrorFrom(e: unknown): AckError {
  if (isFhirfedError(e)) {
    const where = e.where?.path ? parseLocation(e.where.path) : undefined;
    const text = e.hint ? `${e.message} (${e.hint})` : e.message;
    if (e.code === 'FHIRFED_ERR_HL7_UNSUPPORTED') return { code: '200', message: text, ...(where ? { location: where } : {}) };
    if (e.code === 'FHIRFED_ERR_HL7_PARSE') return { code: where?.field ? '102' : '100', message: text, ...(where ? { location: where } : {}) };
    if (e.code === 'FHIRFED_ERR_CONFLICT') return { code: '205', message: text };
    return { code: '207', message: text };
  }
  return { code: '207', message: 'internal error while processing the message' };
}

function parseLocation(path: string): AckErrorLocation | undefined {
  const m = /^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+)(?:\.(\d+))?)?/.exec(path);
  if (!m) return undefined;
  return {
    segment: m[1] as string,
    sequence: Number(m[2] ?? 1),
    ...(m[3] ? { field: Number(m[3]) } : {}),
    ...(m[4] ? { component: Number(m[4]) } : {}),
  };
}

let counter = 0;
function newControlId(): string {
  counter = (counter + 1) % 1_000_000;
  return `${Date.now().toString(36)}${counter.toString(36)}`.toUpperCase();
}

function hl7Timestamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}+0000`;
}

/**
 * MSH-7 of the ACK. The '+' of the UTC offset may be this message's delimiter (`MSH+$~\&+...`): it is escaped, or
 * the offset is left out when the message has no escape character.
 */
function ackTimestamp(date: Date, d: Delimiters, esc: (v: string) => string): string {
  const stamp = hl7Timestamp(date);
  if (d.escape !== '') return esc(stamp);
  return [d.field, d.component, d.repetition, d.subComponent].includes('+') ? stamp.slice(0, 14) : stamp;
}

/** Header fields of a parsed message. */
export function ackSourceOf(msg: Hl7Message): AckSource {
  return { delimiters: msg.delimiters, fields: (n) => msg.header.rawField(n) };
}

/**
 * Header fields of raw text that may not parse (so a malformed message still gets an AR echoing its MSH-10).
 * Falls back to default delimiters and empty fields.
 */
export function ackSourceOfRaw(raw: string): AckSource {
  const at = raw.indexOf('MSH');
  if (at === -1) return { delimiters: DEFAULT_DELIMITERS, fields: () => '' };
  const line = raw.slice(at).split(/\r\n|\r|\n/)[0] ?? '';
  const d = readDelimiters(line);
  if (typeof d === 'string') return { delimiters: DEFAULT_DELIMITERS, fields: () => '' };
  const parts = line.split(d.field);
  return { delimiters: d, fields: (n) => (n === 1 ? d.field : (parts[n - 1] ?? '')) };
}

/** Builds the ACK as HL7 text (segments joined by CR), in the original message's delimiters. */
export function buildAck(original: Hl7Message | AckSource, options: AckOptions): string {
  const src = 'header' in original ? ackSourceOf(original) : original;
  const d = src.delimiters;
  const f = d.field;
  const c = d.component;
  const esc = (v: string): string => escapeHl7(v, d);
  const trigger = (src.fields(9).split(c)[1] ?? '').trim();
  const msh = [
    'MSH',
    encodingCharacters(d),
    options.sendingApplication !== undefined ? esc(options.sendingApplication) : src.fields(5),
    options.sendingFacility !== undefined ? esc(options.sendingFacility) : src.fields(6),
    src.fields(3),
    src.fields(4),
    ackTimestamp(options.timestamp ?? new Date(), d, esc),
    '',
    `ACK${trigger ? `${c}${trigger}` : ''}${c}ACK`,
    esc(options.controlId ?? newControlId()),
    src.fields(11) || 'P',
    src.fields(12) || '2.5.1',
  ];
  // An ACK never asks for an ACK back (that would loop), so enhanced-mode ACKs say NE explicitly.
  if (options.code.startsWith('C') || src.fields(15) !== '' || src.fields(16) !== '') msh.push('', '', 'NE', 'NE');
  const segments = [msh.join(f)];
  const msa = ['MSA', options.code, src.fields(10)];
  if (options.error) msa.push(esc(options.error.message.slice(0, 80)));
  segments.push(msa.join(f));
  if (options.error) segments.push(errSegment(options.error, d));
  return segments.join('\r');
}

function errSegment(e: AckError, d: Delimiters): string {
  const c = d.component;
  const esc = (v: string): string => escapeHl7(v, d);
  const loc = e.location;
  const parts = loc ? [loc.segment, String(loc.sequence ?? 1), loc.field !== undefined ? String(loc.field) : '', '', loc.component !== undefined ? String(loc.component) : ''] : [];
  // Trailing empty components are dropped; no RegExp built from the delimiter, which may be any character (`MSH|BOGUS|`).
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  const erl = parts.join(c);
  const cwe = [e.code, esc(ERROR_TEXT[e.code] ?? 'Error'), 'HL70357'].join(c);
  return ['ERR', '', erl, cwe, e.severity ?? 'E', '', '', '', esc(e.message)].join(d.field);
}
