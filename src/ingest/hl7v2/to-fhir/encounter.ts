import type { Encounter, EncounterLocation, EncounterParticipant, Reference } from 'fhir/r4.js';
import type { Hl7Segment } from '../message.js';
import type { ConvertContext } from './context.js';
import { clean, codeableConcept, identifier } from './datatypes.js';
import { practitioner } from './patient.js';
import { PATIENT_CLASS, PATIENT_CLASS_STATUS } from './vocab.js';

const PARTICIPANT_TYPES: ReadonlyArray<readonly [number, string, string]> = [
  [7, 'ATND', 'attender'],
  [8, 'REF', 'referrer'],
  [9, 'CON', 'consultant'],
  [17, 'ADM', 'admitter'],
];

/**
 * PV1 -> Encounter (IG segment map PV1[Encounter]). `event` is the trigger (MSH-9.2): A03 discharges and A11
 * cancels an admission, which the IG expresses through Encounter.status.
 */
export function convertPv1(ctx: ConvertContext, pv1: Hl7Segment, index: number, event: string): Reference | undefined {
  if (!ctx.patient) return undefined;
  const visit = identifier(pv1.field(19), ctx);
  if (visit) visit.type = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'VN' }], text: 'visit number' };
  const id = visit ? ctx.id('Encounter', ctx.patient.reference ?? '', visit.system ?? '', visit.value ?? '') : ctx.id('Encounter', ctx.segmentKey(index));
  const patientClass = clean(pv1.get(2)).toUpperCase();
  const cls = PATIENT_CLASS[patientClass] ?? {
    system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor',
    code: 'UNK',
    display: 'unknown',
  };
  const start = ctx.dateTime(pv1.get(44));
  const end = ctx.dateTime(pv1.get(45));
  let status: Encounter['status'] = PATIENT_CLASS_STATUS[patientClass] ?? 'unknown';
  if (end || event === 'A03') status = 'finished';
  if (event === 'A11') status = 'cancelled';
  const enc: Encounter = { resourceType: 'Encounter', id, status, class: cls, subject: ctx.patient };
  const identifiers = [visit, ...pv1.repetitions(50).map((f) => identifier(f, ctx))].filter((i) => i !== undefined);
  if (identifiers.length) enc.identifier = identifiers;
  if (start || end) enc.period = { ...(start ? { start } : {}), ...(end ? { end } : {}) };
  const type = codeableConcept(pv1, 4, ctx);
  if (type) enc.type = [type];
  const service = codeableConcept(pv1, 10, ctx);
  if (service) enc.serviceType = service;
  const participants: EncounterParticipant[] = [];
  for (const [f, code, display] of PARTICIPANT_TYPES) {
    for (const rep of pv1.repetitions(f)) {
      const individual = practitioner(ctx, rep);
      if (!individual) continue;
      participants.push({
        type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code, display }] }],
        individual,
      });
    }
  }
  if (participants.length) enc.participant = participants;
  const locations: EncounterLocation[] = [];
  const current = location(pv1, 3);
  if (current) locations.push({ location: { display: current }, status: status === 'finished' ? 'completed' : 'active' });
  const prior = location(pv1, 6);
  if (prior) locations.push({ location: { display: prior }, status: 'completed' });
  if (locations.length) enc.location = locations;
  const disposition = codeableConcept(pv1, 36, ctx);
  const admitSource = codeableConcept(pv1, 14, ctx);
  if (disposition || admitSource) {
    enc.hospitalization = { ...(admitSource ? { admitSource } : {}), ...(disposition ? { dischargeDisposition: disposition } : {}) };
  }
  ctx.encounter = ctx.add(enc);
  return ctx.encounter;
}

/** PL (point of care, room, bed, facility) as display text: the IG's Location resources add nothing a model uses. */
function location(pv1: Hl7Segment, f: number): string | undefined {
  const parts = [1, 2, 3, 4].map((c) => clean(pv1.get(f, c))).filter(Boolean);
  return parts.length ? parts.join(' ') : undefined;
}
