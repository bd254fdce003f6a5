/**
 * Seed messages for HL7v2 and MLLP fuzzing: the real-world-shaped samples in ../shared/samples/hl7v2 when they are
 * mounted, the repo's own parser fixtures, and two built-in messages so the targets work without shared data.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../../..');
export const SHARED_HL7 = join(ROOT, '../shared/samples/hl7v2');

const BUILT_IN = [
  'MSH|^~\\&|LAB|HOSP|GW|HOSP|20240101120000||ORU^R01^ORU_R01|MSG0001|P|2.5.1\rPID|1||12345^^^HOSP^MR~999^^^SSA^SS||DOE^JANE^Q||19700101|F|||1 MAIN ST^^TOWN^ST^12345\rOBR|1|P1|F1|4548-4^HbA1c^LN|||20240101\rOBX|1|NM|4548-4^Hemoglobin A1c^LN||7.1|%^percent^UCUM|4-6|H|||F|||20240101\rOBX|2|ST|2345-7^Glucose^LN||ab\\F\\c\\X0D\\|mg/dL|||||F\r',
  'MSH|^~\\&|ADT|HOSP|GW|HOSP|20240101120000||ADT^A01^ADT_A01|MSG0002|P|2.5.1|||AL|NE||UNICODE UTF-8\rEVN|A01|20240101\rPID|1||777^^^HOSP^MR||M\\XC3BC\\LLER^HANS||19501231|M\rPV1|1|I|W^101^1||||1234^DOC^A\r',
];

function filesIn(dir: string, ext: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return filesIn(p, ext);
    return d.name.endsWith(ext) ? [p] : [];
  });
}

/** Every seed message as text (latin1, so each byte stays one character and mutations stay byte-level). */
export function hl7Seeds(): string[] {
  const files = [...filesIn(SHARED_HL7, '.hl7'), ...filesIn(join(ROOT, 'test/fixtures/hl7v2'), '.hl7')];
  // A UTF-8 byte order mark is dropped here; the 'bom' mutation puts one back in the form the parser sees.
  return [...BUILT_IN, ...files.map((f) => readFileSync(f).toString('latin1').replace(/^\xef\xbb\xbf/, ''))];
}
