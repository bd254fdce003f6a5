import type { AllergyIntolerance, HumanName, Identifier, Patient, Practitioner, Reference, RelatedPerson } from 'fhir/r4.js';
import type { Hl7Field, Hl7Segment } from '../message.js';
import type { ConvertContext } from './context.js';
import { address, authoritySystem, clean, codeableConcept, codeableConcepts, contactPoint, date, humanName, identifier } from './datatypes.js';
import { ADMINISTRATIVE_SEX } from './vocab.js';

/** PID -> Patient (IG segment map PID[Patient]); sets ctx.patient. */
export function convertPid(ctx: ConvertContext, pid: Hl7Segment, index: number): Reference {
  const identifiers: Identifier[] = [];
  for (const f of [2, 3, 4]) {
    for (const rep of pid.repetitions(f)) {
      const id = identifier(rep, ctx);
      if (id) identifiers.push(id);
    }
  }
  const ssn = clean(pid.get(19));
  if (ssn) {
    identifiers.push({
      system: 'http://hl7.org/fhir/sid/us-ssn',
      value: ssn,
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'SB' }] },
    });
  }
  const dl = clean(pid.get(20));
  if (dl) {
    const sys = authoritySystem(clean(pid.get(20, 2)), '', '', ctx);
    identifiers.push({
      value: dl,
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'DL' }] },
      ...(sys ? { system: sys } : {}),
    });
  }
  // The first business identifier keys the id, so every message about this patient from this sender hits one resource.
  const key = identifiers[0];
  const id = key ? ctx.id('Patient', key.system ?? '', key.value ?? '') : ctx.id('Patient', ctx.segmentKey(index));
  const p: Patient = { resourceType: 'Patient', id };
  if (identifiers.length) p.identifier = identifiers;
  const names = pid.repetitions(5).map(humanName).filter((n): n is HumanName => n !== undefined);
  if (names.length) p.name = names;
  const birthDate = date(pid.get(7));
  if (birthDate) p.birthDate = birthDate;
  const gender = ADMINISTRATIVE_SEX[clean(pid.get(8)).toUpperCase()];
  if (gender) p.gender = gender;
  const addresses = pid.repetitions(11).map(address).filter((a) => a !== undefined);
  if (addresses.length) p.address = addresses;
  const telecom = [
    ...pid.repetitions(13).map((f) => contactPoint(f, 'home')),
    ...pid.repetitions(14).map((f) => contactPoint(f, 'work')),
  ].filter((t) => t !== undefined);
  if (telecom.length) p.telecom = telecom;
  const language = codeableConcept(pid, 15, ctx);
  if (language) p.communication = [{ language }];
  const marital = codeableConcept(pid, 16, ctx);
  if (marital) p.maritalStatus = marital;
  const deceased = ctx.dateTime(pid.get(29));
  if (deceased) p.deceasedDateTime = deceased;
  else if (clean(pid.get(30)) === 'Y') p.deceasedBoolean = true;
  else if (clean(pid.get(30)) === 'N') p.deceasedBoolean = false;
  const birthOrder = Number(clean(pid.get(25)));
  if (clean(pid.get(24)) === 'Y' && Number.isInteger(birthOrder) && birthOrder > 0) p.multipleBirthInteger = birthOrder;
  else if (clean(pid.get(24)) === 'Y') p.multipleBirthBoolean = true;
  else if (clean(pid.get(24)) === 'N') p.multipleBirthBoolean = false;
  ctx.patient = ctx.add(p);
  return ctx.patient;
}

/** NK1 -> RelatedPerson (IG segment map NK1[RelatedPerson]). */
export function convertNk1(ctx: ConvertContext, nk1: Hl7Segment, index: number): void {
  if (!ctx.patient) return;
  const rp: RelatedPerson = { resourceType: 'RelatedPerson', id: ctx.id('RelatedPerson', ctx.segmentKey(index)), patient: ctx.patient };
  const names = nk1.repetitions(2).map(humanName).filter((n): n is HumanName => n !== undefined);
  if (names.length) rp.name = names;
  const relationship = codeableConcepts(nk1, 3, ctx);
  if (relationship.length) rp.relationship = relationship;
  const addresses = nk1.repetitions(4).map(address).filter((a) => a !== undefined);
  if (addresses.length) rp.address = addresses;
  const telecom = [...nk1.repetitions(5), ...nk1.repetitions(6)].map((f) => contactPoint(f)).filter((t) => t !== undefined);
  if (telecom.length) rp.telecom = telecom;
  ctx.add(rp);
}

const ALLERGY_CATEGORY: Readonly<Record<string, 'food' | 'medication' | 'environment'>> = {
  DA: 'medication',
  MA: 'medication',
  FA: 'food',
  EA: 'environment',
  AA: 'environment',
  PA: 'environment',
  LA: 'environment',
};

/** AL1 -> AllergyIntolerance (IG segment map AL1[AllergyIntolerance]). */
export function convertAl1(ctx: ConvertContext, al1: Hl7Segment, index: number): void {
  if (!ctx.patient) return;
  const code = codeableConcept(al1, 3, ctx);
  const ai: AllergyIntolerance = {
    resourceType: 'AllergyIntolerance',
    id: ctx.id('AllergyIntolerance', ctx.patient.reference ?? '', code?.coding?.[0]?.code ?? code?.text ?? ctx.segmentKey(index)),
    patient: ctx.patient,
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
  };
  if (code) ai.code = code;
  const category = ALLERGY_CATEGORY[clean(al1.get(2)).toUpperCase()];
  if (category) ai.category = [category];
  const severity = clean(al1.get(4)).toUpperCase();
  if (severity === 'SV') ai.criticality = 'high';
  else if (severity === 'MI' || severity === 'MO') ai.criticality = 'low';
  const manifestation = al1.repetitions(5).map((f) => ({ text: f.component(1) })).filter((m) => m.text !== '');
  if (manifestation.length) ai.reaction = [{ manifestation }];
  const onset = ctx.dateTime(al1.get(6));
  if (onset) ai.onsetDateTime = onset;
  ctx.add(ai);
}

/** XCN -> Practitioner, keyed by its id number and assigning authority (else its name). */
export function practitioner(ctx: ConvertContext, xcn: Hl7Field): Reference | undefined {
  const idValue = clean(xcn.component(1));
  const family = clean(xcn.component(2, 1));
  const given = [clean(xcn.component(3)), clean(xcn.component(4))].filter(Boolean);
  if (!idValue && !family && given.length === 0) return undefined;
  const system = authoritySystem(clean(xcn.component(9, 1)), clean(xcn.component(9, 2)), clean(xcn.component(9, 3)), ctx);
  const pr: Practitioner = {
    resourceType: 'Practitioner',
    id: ctx.id('Practitioner', system ?? '', idValue || `${family}^${given.join('^')}`),
  };
  if (idValue) pr.identifier = [{ value: idValue, ...(system ? { system } : {}) }];
  if (family || given.length) {
    const name: HumanName = {};
    if (family) name.family = family;
    if (given.length) name.given = given;
    const prefix = clean(xcn.component(6));
    if (prefix) name.prefix = [prefix];
    const suffix = [clean(xcn.component(5)), clean(xcn.component(7))].filter(Boolean);
    if (suffix.length) name.suffix = suffix;
    pr.name = [name];
  }
  const ref = ctx.add(pr);
  const display = [given.join(' '), family].filter(Boolean).join(' ');
  return display ? { ...ref, display } : ref;
}
