/** HL7v2 ingest: parser, field access, ACK builder and v2 -> FHIR R4 conversion. */
export { DEFAULT_DELIMITERS, encodingCharacters, type Delimiters } from './delimiters.js';
export { escapeHl7, unescapeHl7 } from './escape.js';
export { SUPPORTED_CHARSETS, decodeHl7Buffer } from './charset.js';
export { Hl7Field, Hl7Message, Hl7Segment, parseHl7Path, type Hl7Path } from './message.js';
export { hl7Text, parseHl7, parseHl7Batch, parseHl7Messages, type Hl7Batch } from './parser.js';
export { SUPPORTED_MESSAGE_TYPES, convertToFhir, isSupportedMessageType, type ConvertOptions } from './to-fhir/index.js';
export {
  HL7_ERROR_CODES,
  ackCode,
  ackErrorFrom,
  ackMode,
  ackSourceOf,
  ackSourceOfRaw,
  buildAck,
  wantsAck,
  type AckCode,
  type AckError,
  type AckMode,
  type AckOptions,
  type AckOutcome,
  type AckStage,
} from './ack.js';
