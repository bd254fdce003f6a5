import type { Identifier, Immunization } from 'fhir/r4.js';
import type { Hl7Segment } from '../message.js';
import type { ConvertContext } from './context.js';
import { clean, codeableConcept, date, num, quantity } from './datatypes.js';
import { practitioner } from './patient.js';
import { COMPLETION_STATUS } from './vocab.js';

/**
 * RXA (+ its ORC and RXR) -> Immunization (IG segment maps RXA[Immunization], ORC[Immunization], RXR[Immunization]).
 */
export function convertRxa(ctx: ConvertContext, rxa: Hl7Segment, index: number, orc: Hl7Segment | undefined, rxr: Hl7Segment | undefined): Immunization | undefined {
  if (!ctx.patient) return undefined;
  const vaccineCode = codeableConcept(rxa, 5, ctx) ?? { text: 'unknown' };
  const occurrence = ctx.dateTime(rxa.get(3)) ?? date(rxa.get(3));
  const identifiers: Identifier[] = [];
  if (orc) {
    const placer = clean(orc.get(2));
    const filler = clean(orc.get(3));
    if (placer) identifiers.push({ value: placer, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }] } });
    if (filler) identifiers.push({ value: filler, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'FILL' }] } });
  }
  const key = identifiers.find((i) => i.type?.coding?.[0]?.code === 'FILL')?.value;
  const id = key
    ? ctx.id('Immunization', key)
    : ctx.id('Immunization', ctx.patient.reference ?? '', vaccineCode.coding?.[0]?.code ?? '', occurrence ?? ctx.segmentKey(index));
  let status: Immunization['status'] = COMPLETION_STATUS[clean(rxa.get(20)).toUpperCase()] ?? 'completed';
  if (clean(rxa.get(21)).toUpperCase() === 'D') status = 'entered-in-error';
  const imm: Immunization = {
    resourceType: 'Immunization',
    id,
    status,
    vaccineCode,
    patient: ctx.patient,
    occurrenceDateTime: occurrence ?? '',
  };
  if (!occurrence) {
    // occurrence[x] is required: say it is unknown rather than invent a date.
    delete (imm as { occurrenceDateTime?: string }).occurrenceDateTime;
    imm.occurrenceString = 'unknown';
  }
  if (identifiers.length) imm.identifier = identifiers;
  if (ctx.encounter) imm.encounter = ctx.encounter;
  const dose = num(rxa.get(6));
  if (dose !== undefined) imm.doseQuantity = quantity(dose, rxa, 7, ctx);
  const lot = clean(rxa.get(15));
  if (lot) imm.lotNumber = lot;
  const expiry = date(rxa.get(16));
  if (expiry) imm.expirationDate = expiry;
  const manufacturer = clean(rxa.get(17, 2)) || clean(rxa.get(17, 1));
  if (manufacturer) imm.manufacturer = { display: manufacturer };
  if (clean(rxa.get(20)).toUpperCase() === 'PA') imm.isSubpotent = true;
  const reason = codeableConcept(rxa, 18, ctx);
  if (reason && status === 'not-done') imm.statusReason = reason;
  const origin = clean(rxa.get(9, 1));
  if (origin === '00') imm.primarySource = true;
  else if (origin) {
    imm.primarySource = false;
    const src = codeableConcept(rxa, 9, ctx);
    if (src) imm.reportOrigin = src;
  }
  const performer = practitioner(ctx, rxa.field(10));
  if (performer) imm.performer = [{ actor: performer, function: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0443', code: 'AP', display: 'Administering Provider' }] } }];
  if (rxr) {
    const route = codeableConcept(rxr, 1, ctx);
    if (route) imm.route = route;
    const site = codeableConcept(rxr, 2, ctx);
    if (site) imm.site = site;
  }
  ctx.add(imm);
  return imm;
}
