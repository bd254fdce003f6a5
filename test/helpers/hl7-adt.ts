/** Synthetic HL7v2 messages for ingest tests: valid ADT^A01 with a given control id, and broken variants. */
export function adtA01(controlId: string, patientId = `P${controlId}`, sender = 'LAB^HOSP'): string {
  const [app, fac] = sender.split('^');
  return [
    `MSH|^~\\&|${app}|${fac}|FHIRFED|SITE|20240101120000||ADT^A01^ADT_A01|${controlId}|P|2.5.1`,
    'EVN|A01|20240101120000',
    `PID|1||${patientId}^^^HOSP^MR||DOE^JOHN||19700101|M`,
    'PV1|1|I|WARD^1^1',
  ].join('\r');
}

/** Parses MSA-1 (ack code) and MSA-2 (control id) and the ERR segment out of an ACK. */
export function readAck(ack: string): { code: string; controlId: string; err?: string; msh: string } {
  const segs = ack.split(/\r|\n/);
  const msa = (segs.find((s) => s.startsWith('MSA|')) ?? '').split('|');
  const err = segs.find((s) => s.startsWith('ERR|'));
  return { code: msa[1] ?? '', controlId: msa[2] ?? '', msh: segs[0] ?? '', ...(err ? { err } : {}) };
}
