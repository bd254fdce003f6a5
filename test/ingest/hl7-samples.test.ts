import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Encounter, FhirResource, Immunization, Medication, MedicationRequest, Observation, Patient } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { isFhirfedError } from '../../src/core/errors.js';
import { convertToFhir, parseHl7Messages } from '../../src/ingest/hl7v2/index.js';

const SAMPLES = join(import.meta.dirname, '../../../shared/samples/hl7v2');
const MS = join(SAMPLES, 'ms-fhir-converter');
const IG = join(SAMPLES, 'hl7-v2-to-fhir-ig');
const absent = !existsSync(MS);
const REASON = '../shared/samples/hl7v2 is absent (shared reference data not mounted)';

function resources<T extends FhirResource>(b: Bundle, type: T['resourceType']): T[] {
  return (b.entry ?? []).map((e) => e.resource).filter((r): r is T => r?.resourceType === type);
}

function convertFile(path: string): Bundle {
  const [msg] = parseHl7Messages(readFileSync(path));
  if (!msg) throw new Error(`no message in ${path}`);
  return convertToFhir(msg);
}

const instant = (s: string | undefined): number | undefined => (s === undefined ? undefined : Date.parse(s));

describe.skipIf(absent)(`HL7v2 samples (${absent ? REASON : 'present'})`, () => {
  it('converts or clearly refuses every sample message, and never crashes', () => {
    const files = [
      ...readdirSync(join(MS, 'messages')).map((f) => join(MS, 'messages', f)),
      ...readdirSync(join(IG, 'messages')).map((f) => join(IG, 'messages', f)),
    ];
    let converted = 0;
    const refused = new Map<string, number>();
    const crashes: string[] = [];
    for (const file of files) {
      try {
        for (const msg of parseHl7Messages(readFileSync(file))) {
          try {
            const bundle = convertToFhir(msg);
            expect(bundle.entry?.length).toBeGreaterThan(0);
            converted++;
          } catch (e) {
            if (isFhirfedError(e) && e.code === 'FHIRFED_ERR_HL7_UNSUPPORTED') {
              expect(e.where?.path).toBe('MSH-9');
              expect(e.hint).toMatch(/ORU\^R01/);
              refused.set(msg.messageType, (refused.get(msg.messageType) ?? 0) + 1);
            } else crashes.push(`${file}: ${String(e)}`);
          }
        }
      } catch (e) {
        crashes.push(`${file}: ${isFhirfedError(e) ? `${e.message} at ${JSON.stringify(e.where)}` : String(e)}`);
      }
    }
    const refusedTotal = [...refused.values()].reduce((a, b) => a + b, 0);
    console.log(`hl7v2 samples: ${files.length} files, ${converted} converted, ${refusedTotal} refused as unsupported (${[...refused.keys()].sort().join(', ')})`);
    expect(crashes).toEqual([]);
    expect(files.length).toBeGreaterThanOrEqual(112);
    expect(converted + refusedTotal).toBe(files.length);
    expect(converted).toBeGreaterThanOrEqual(40);
  });

  it('gives the same deterministic ids when a message is converted twice', () => {
    const a = convertFile(join(MS, 'messages', 'LAB-ORU-1.hl7'));
    const b = convertFile(join(MS, 'messages', 'LAB-ORU-1.hl7'));
    expect(a.entry?.map((e) => e.resource?.id)).toEqual(b.entry?.map((e) => e.resource?.id));
    expect(new Set(a.entry?.map((e) => e.fullUrl)).size).toBe(a.entry?.length);
    expect(a.type).toBe('batch');
    expect(a.entry?.every((e) => e.request?.method === 'PUT' && e.request.url === `${e.resource?.resourceType}/${e.resource?.id}`)).toBe(true);
  });

  const goldens = absent ? [] : readdirSync(join(MS, 'golden')).filter((f) => f.endsWith('-expected.json'));
  it.each(goldens)('matches the fields that matter in golden %s', (golden) => {
    const expected = JSON.parse(readFileSync(join(MS, 'golden', golden), 'utf8')) as Bundle;
    const actual = convertFile(join(MS, 'messages', golden.replace('-expected.json', '.hl7')));
    let checked = 0;

    for (const gp of resources<Patient>(expected, 'Patient')) {
      const [p] = resources<Patient>(actual, 'Patient');
      expect(p, 'Patient').toBeDefined();
      expect(p?.identifier?.map((i) => i.value)).toContain(gp.identifier?.[0]?.value);
      expect(p?.name?.[0]?.family).toBe(gp.name?.[0]?.family);
      expect(p?.name?.[0]?.given?.[0]).toBe(gp.name?.[0]?.given?.[0]);
      expect(p?.birthDate).toBe(gp.birthDate);
      expect(p?.gender).toBe(gp.gender);
      checked++;
    }

    const mine = resources<Observation>(actual, 'Observation');
    for (const go of resources<Observation>(expected, 'Observation')) {
      const code = go.code.coding?.[0]?.code;
      const o = mine.find((m) => m.code.coding?.[0]?.code === code && (go.valueQuantity === undefined || m.valueQuantity?.value === go.valueQuantity.value));
      expect(o, `Observation ${code}`).toBeDefined();
      if (go.code.coding?.[0]?.system === 'http://loinc.org') expect(o?.code.coding?.[0]?.system).toBe('http://loinc.org');
      if (go.valueQuantity) {
        expect(o?.valueQuantity?.value).toBe(go.valueQuantity.value);
        expect(o?.valueQuantity?.unit).toBe(go.valueQuantity.unit);
        if (go.valueQuantity.system) expect(o?.valueQuantity?.system).toBe(go.valueQuantity.system);
        if (go.valueQuantity.code) expect(o?.valueQuantity?.code).toBe(go.valueQuantity.code);
      }
      if (go.valueString) expect(o?.valueString).toBe(go.valueString);
      if (go.valueCodeableConcept) expect(o?.valueCodeableConcept?.coding?.[0]?.code).toBe(go.valueCodeableConcept.coding?.[0]?.code);
      if (go.effectiveDateTime) expect(instant(o?.effectiveDateTime)).toBe(instant(go.effectiveDateTime));
      expect(o?.status).toBe(go.status);
      checked++;
    }

    for (const ge of resources<Encounter>(expected, 'Encounter')) {
      const [e] = resources<Encounter>(actual, 'Encounter');
      expect(e?.class.code).toBe(ge.class.code);
      expect(e?.class.system).toBe(ge.class.system);
      if (ge.period?.start) expect(instant(e?.period?.start)).toBe(instant(ge.period.start));
      checked++;
    }

    const imms = resources<Immunization>(actual, 'Immunization');
    for (const gi of resources<Immunization>(expected, 'Immunization')) {
      const i = imms.find((m) => m.vaccineCode.coding?.[0]?.code === gi.vaccineCode.coding?.[0]?.code && m.occurrenceDateTime === gi.occurrenceDateTime);
      expect(i, `Immunization ${gi.vaccineCode.coding?.[0]?.code} ${gi.occurrenceDateTime}`).toBeDefined();
      expect(i?.status).toBe(gi.status);
      if (gi.lotNumber) expect(i?.lotNumber).toBe(gi.lotNumber);
      if (gi.doseQuantity) expect(i?.doseQuantity?.value).toBe(gi.doseQuantity.value);
      checked++;
    }

    const goldenMeds = resources<Medication>(expected, 'Medication').flatMap((m) => m.code?.coding?.map((c) => c.code) ?? []);
    if (resources<MedicationRequest>(expected, 'MedicationRequest').length) {
      const mrs = resources<MedicationRequest>(actual, 'MedicationRequest');
      expect(mrs.length).toBeGreaterThan(0);
      for (const mr of mrs) {
        expect(goldenMeds).toContain(mr.medicationCodeableConcept?.coding?.[0]?.code);
        expect(mr.subject.reference).toMatch(/^Patient\//);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });
});
