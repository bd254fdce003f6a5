import { describe, expect, it } from 'vitest';
import { FhirfedError } from '../../src/core/errors.js';
import { ackCode, ackErrorFrom, ackMode, ackSourceOfRaw, buildAck, convertToFhir, parseHl7, wantsAck } from '../../src/ingest/hl7v2/index.js';

const ORIGINAL = 'MSH|^~\\&|LAB|HOSP|GW|SITE|20240101120000+0100||ORU^R01^ORU_R01|MSG42|P|2.5.1\rPID|1||1^^^H^MR';
const ENHANCED = 'MSH|^~\\&|LAB|HOSP|GW|SITE|20240101120000+0100||ORU^R01^ORU_R01|MSG43|P|2.5.1|||AL|ER\rPID|1||1';

describe('HL7v2 ACK builder', () => {
  it('original mode: AA echoing MSH-10 in MSA-2, header fields swapped', () => {
    const msg = parseHl7(ORIGINAL);
    expect(ackMode(msg)).toBe('original');
    const ack = parseHl7(buildAck(msg, { code: ackCode('original', 'application', 'success'), controlId: 'A1' }));
    expect(ack.messageType).toBe('ACK^R01');
    expect(ack.get('MSA-1')).toBe('AA');
    expect(ack.get('MSA-2')).toBe('MSG42');
    expect(ack.get('MSH-3')).toBe('GW');
    expect(ack.get('MSH-5')).toBe('LAB');
    expect(ack.controlId).toBe('A1');
    expect(ack.segment('ERR')).toBeUndefined();
  });

  it('original mode AE/AR with ERR-2 location, ERR-3 table 0357 code and ERR-8 text', () => {
    const msg = parseHl7(ORIGINAL.replace('ORU^R01^ORU_R01', 'SIU^S12'));
    let error: unknown;
    try {
      convertToFhir(msg);
    } catch (e) {
      error = e;
    }
    const err = ackErrorFrom(error);
    expect(err.code).toBe('200');
    const ack = parseHl7(buildAck(msg, { code: ackCode('original', 'application', 'reject'), error: err }));
    expect(ack.get('MSA-1')).toBe('AR');
    expect(ack.get('MSA-2')).toBe('MSG42');
    expect(ack.get('ERR-2.1')).toBe('MSH');
    expect(ack.get('ERR-2.2')).toBe('1');
    expect(ack.get('ERR-2.3')).toBe('9');
    expect(ack.get('ERR-3.1')).toBe('200');
    expect(ack.get('ERR-3.3')).toBe('HL70357');
    expect(ack.get('ERR-4')).toBe('E');
    expect(ack.get('ERR-8')).toMatch(/SIU\^S12 is not supported/);
    expect(ackCode('original', 'application', 'error')).toBe('AE');
  });

  it('enhanced mode: CA/CE/CR accept ACKs, MSH-15/16 decide which ACKs are sent, ACKs ask for none', () => {
    const msg = parseHl7(ENHANCED);
    expect(ackMode(msg)).toBe('enhanced');
    expect(ackCode('enhanced', 'accept', 'success')).toBe('CA');
    expect(ackCode('enhanced', 'accept', 'error')).toBe('CE');
    expect(ackCode('enhanced', 'accept', 'reject')).toBe('CR');
    expect(ackCode('enhanced', 'application', 'success')).toBe('AA');
    expect(wantsAck(msg, 'accept', 'success')).toBe(true);
    expect(wantsAck(msg, 'application', 'success')).toBe(false);
    expect(wantsAck(msg, 'application', 'error')).toBe(true);
    const ack = parseHl7(buildAck(msg, { code: 'CA' }));
    expect(ack.get('MSA-1')).toBe('CA');
    expect(ack.get('MSA-2')).toBe('MSG43');
    expect(ack.get('MSH-15')).toBe('NE');
    expect(ack.get('MSH-16')).toBe('NE');
  });

  it('acknowledges a message that does not parse, escaping delimiters in the error text', () => {
    const raw = 'MSH|^~\\&|LAB|HOSP|GW|SITE|20240101||ORU^R01|BAD1|P|2.5\rPID|1\rOBX|1|TX\rbroken|value';
    let error: unknown;
    try {
      parseHl7(raw);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FhirfedError);
    const err = ackErrorFrom(error);
    expect(err.code).toBe('100');
    const text = buildAck(ackSourceOfRaw(raw), { code: 'AR', error: { ...err, message: 'bad | value ^ here' } });
    const ack = parseHl7(text);
    expect(ack.get('MSA-2')).toBe('BAD1');
    expect(ack.get('ERR-8')).toBe('bad | value ^ here');
    expect(ack.get('ERR-3.1')).toBe(err.code);
  });

  it('maps a parse error located at a field to code 102 with that field', () => {
    const err = ackErrorFrom(new FhirfedError('FHIRFED_ERR_HL7_PARSE', 'bad date', { where: { path: 'PID-7', line: 2 } }));
    expect(err).toMatchObject({ code: '102', location: { segment: 'PID', sequence: 1, field: 7 } });
    expect(ackErrorFrom(new Error('boom')).code).toBe('207');
  });
});
