import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FhirfedError } from '../../src/core/errors.js';
import { convertToFhir, parseHl7, parseHl7Batch, parseHl7Messages } from '../../src/ingest/hl7v2/index.js';

const FIX = join(import.meta.dirname, '../fixtures/hl7v2');
const fixture = (name: string): Buffer => readFileSync(join(FIX, name));

const SEGMENTS = [
  'MSH|^~\\&|APP|FAC|GW|HOSP|20240101120000+0100||ADT^A01^ADT_A01|CTRL1|P|2.5.1',
  'PID|1||123^^^HOSP^MR~456^^^SSA^SS||DOE^JOHN^Q~JD^J||19700101|M',
  'PV1|1|I|W1^R2^B3||||||||||||||||V1',
];

function parseError(fn: () => unknown): FhirfedError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FhirfedError) return e;
    throw e;
  }
  throw new Error('expected a FhirfedError');
}

describe('HL7v2 parser hazards', () => {
  it.each([
    ['CR', '\r'],
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('splits segments on %s', (_name, sep) => {
    const msg = parseHl7(SEGMENTS.join(sep) + sep);
    expect(msg.segments.map((s) => s.name)).toEqual(['MSH', 'PID', 'PV1']);
    expect(msg.get('PV1-19')).toBe('V1');
  });

  it('accepts mixed separators and blank lines', () => {
    const msg = parseHl7(`${SEGMENTS[0]}\r\n\r\n${SEGMENTS[1]}\n${SEGMENTS[2]}\r`);
    expect(msg.segments).toHaveLength(3);
  });

  it('strips a UTF-8 byte order mark from bytes and from strings', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(SEGMENTS.join('\r'))]);
    expect(parseHl7(bytes).header.name).toBe('MSH');
    expect(parseHl7(`\ufeff${SEGMENTS.join('\r')}`).messageType).toBe('ADT^A01');
  });

  it('strips MLLP framing bytes left in the input', () => {
    const msg = parseHl7(`\x0b${SEGMENTS.join('\r')}\r\x1c\r`);
    expect(msg.controlId).toBe('CTRL1');
  });

  it('reads custom delimiters from MSH-1 and MSH-2', () => {
    const msg = parseHl7(fixture('custom-delimiters.hl7'));
    expect(msg.delimiters).toEqual({ field: '#', component: '!', repetition: '@', escape: '%', subComponent: '*' });
    expect(msg.get('MSH-1')).toBe('#');
    expect(msg.get('MSH-2')).toBe('!@%*');
    expect(msg.messageType).toBe('ORU^R01');
    expect(msg.get('PID-3[2].1')).toBe('444');
    expect(msg.get('PID-5.1.1')).toBe('SMITH');
    expect(msg.get('PID-5.1.2')).toBe('JR');
    expect(msg.get('OBX[1]-5')).toBe('a#b!c*d@e%f');
  });

  it('decodes escape sequences \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\.br\\ \\H\\ \\N\\ and \\X..\\ (UTF-8 per MSH-18)', () => {
    const msg = parseHl7(fixture('escapes.hl7'));
    expect(msg.get('PID-5.1')).toBe('MüLLER');
    expect(msg.get('PID-5.2')).toBe('J|K');
    expect(msg.get('OBX-5')).toBe('line one\nline two ^ & ~ \\ bold');
  });

  it('keeps an unknown or unterminated escape as data', () => {
    const msg = parseHl7(`${SEGMENTS[0]}\rNTE|1||50\\Q\\ done\rNTE|2||C:\\temp`);
    expect(msg.get('NTE[1]-3')).toBe('50\\Q\\ done');
    expect(msg.get('NTE[2]-3')).toBe('C:\\temp');
  });

  it('gives repetitions, components and sub-components with 1-based positions', () => {
    const msg = parseHl7(SEGMENTS.join('\r'));
    const pid = msg.segment('PID');
    expect(pid?.field(3).repetitionCount).toBe(2);
    expect(pid?.field(3).repetition(2).component(4)).toBe('SSA');
    expect(pid?.field(5).component(2)).toBe('JOHN');
    expect(pid?.repetitions(5).map((r) => r.component(1))).toEqual(['DOE', 'JD']);
    expect(msg.get('PID-5')).toBe('DOE');
    expect(msg.get('PID-5[2].2')).toBe('J');
    expect(msg.get('PV1-3.3')).toBe('B3');
    expect(msg.get('PID-99')).toBe('');
    expect(msg.get('OBX-5')).toBe('');
    const sub = parseHl7(`${SEGMENTS[0]}\rPID|1||1^^^A&1.2.3&ISO^MR`);
    expect(sub.get('PID-3.4.2')).toBe('1.2.3');
    expect(sub.get('PID-3.4.3')).toBe('ISO');
  });

  it('refuses a malformed position with a hint', () => {
    const msg = parseHl7(SEGMENTS.join('\r'));
    expect(parseError(() => msg.get('PID.5')).hint).toMatch(/PID-5\.1/);
  });

  it('unwraps FHS/BHS/BTS/FTS batches into messages', () => {
    const batch = parseHl7Batch(fixture('batch.hl7'));
    expect(batch.messages.map((m) => m.controlId)).toEqual(['B1', 'B2']);
    expect(batch.fileHeader?.name).toBe('FHS');
    expect(batch.batchHeaders).toHaveLength(1);
    expect(batch.declaredCount).toBe(2);
    expect(batch.messages[1]?.segments.map((s) => s.name)).toEqual(['MSH', 'PID', 'OBR', 'OBX']);
    expect(() => parseHl7(fixture('batch.hl7'))).toThrow(/expected one message but found 2/);
  });

  it('splits concatenated messages without a batch envelope', () => {
    const text = `${SEGMENTS.join('\r')}\r${SEGMENTS.join('\r').replace('CTRL1', 'CTRL2')}`;
    expect(parseHl7Messages(text).map((m) => m.controlId)).toEqual(['CTRL1', 'CTRL2']);
  });

  it('decodes bytes as ISO 8859/1 when MSH-18 says so', () => {
    const msg = parseHl7(fixture('latin1.hl7'));
    expect(msg.charset).toBe('8859/1');
    expect(msg.get('PID-5.1')).toBe('Gräf');
    expect(msg.get('PID-5.2')).toBe('Renée');
  });

  it('decodes bytes as UTF-8 when MSH-18 says UNICODE UTF-8, and refuses invalid UTF-8 at MSH-18', () => {
    const head = `${SEGMENTS[0]}||||||UNICODE UTF-8\r`;
    const ok = parseHl7(Buffer.concat([Buffer.from(head), Buffer.from('PID|1||1||Ærø^Zoë', 'utf8')]));
    expect(ok.get('PID-5.2')).toBe('Zoë');
    const bad = parseError(() => parseHl7(Buffer.concat([Buffer.from(head), Buffer.from('PID|1||1||Gr\xe4f', 'latin1')])));
    expect(bad.code).toBe('FHIRFED_ERR_HL7_PARSE');
    expect(bad.where?.path).toBe('MSH-18');
  });

  it('reads undeclared (ASCII) 8-bit bytes as UTF-8 when valid, else Latin-1', () => {
    const asUtf8 = parseHl7(Buffer.from(`${SEGMENTS[0]}\rPID|1||1||Zoë`, 'utf8'));
    expect(asUtf8.get('PID-5')).toBe('Zoë');
    const asLatin1 = parseHl7(Buffer.from(`${SEGMENTS[0]}\rPID|1||1||Zoë`, 'latin1'));
    expect(asLatin1.get('PID-5')).toBe('Zoë');
  });

  it('refuses an unknown MSH-18 character set and lists the supported ones', () => {
    const e = parseError(() => parseHl7(`${SEGMENTS[0]}||||||KLINGON\rPID|1`));
    expect(e.where).toMatchObject({ path: 'MSH-18', line: 1 });
    expect(e.hint).toMatch(/UNICODE UTF-8/);
  });

  it('names segment and line for a value broken over two lines', () => {
    const e = parseError(() => parseHl7(fixture('broken-line.hl7')));
    expect(e.code).toBe('FHIRFED_ERR_HL7_PARSE');
    expect(e.where).toMatchObject({ line: 4 });
    expect(e.message).toMatch(/'sec' is not a segment name/);
  });

  it('names MSH-9 when the message type is missing', () => {
    const e = parseError(() => parseHl7(fixture('no-msh9.hl7')));
    expect(e.where).toMatchObject({ path: 'MSH-9', line: 1 });
  });

  it('names MSH-2 for broken encoding characters and rejects input with no MSH', () => {
    expect(parseError(() => parseHl7('MSH|^|A')).where?.path).toBe('MSH-2');
    expect(parseError(() => parseHl7('MSHA^~\\&|A')).where?.path).toBe('MSH-2');
    expect(parseError(() => parseHl7('PID|1||123')).where).toMatchObject({ path: 'PID', line: 1 });
    expect(parseError(() => parseHl7('')).where?.path).toBe('MSH');
    expect(parseError(() => parseHl7(`${SEGMENTS[0]}\rPID1||x`)).where).toMatchObject({ path: 'PID-1', line: 2 });
  });

  it('treats MSH-1/MSH-2 as literal fields and re-serialises with CR', () => {
    const msg = parseHl7(SEGMENTS.join('\n'));
    expect(msg.header.field(2).raw).toBe('^~\\&');
    expect(msg.toString()).toBe(SEGMENTS.join('\r'));
  });

  it('converts the custom-delimiter fixture with the escaped text intact', () => {
    const bundle = convertToFhir(parseHl7(fixture('custom-delimiters.hl7')));
    const obs = bundle.entry?.map((e) => e.resource).filter((r) => r?.resourceType === 'Observation') ?? [];
    expect(obs.map((o) => (o as { valueString?: string }).valueString)).toContain('a#b!c*d@e%f');
    const hb = obs.find((o) => (o as { valueQuantity?: unknown }).valueQuantity) as { valueQuantity: unknown } | undefined;
    expect(hb?.valueQuantity).toEqual({ value: 13.5, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' });
  });
});
