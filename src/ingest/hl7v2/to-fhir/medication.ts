import type { Dosage, Identifier, MedicationRequest } from 'fhir/r4.js';
import type { Hl7Segment } from '../message.js';
import type { ConvertContext } from './context.js';
import { clean, codeableConcept, num, quantity } from './datatypes.js';
import { practitioner } from './patient.js';
import { ORDER_CONTROL_STATUS } from './vocab.js';

/** One pharmacy order group of an RDE^O11: ORC with its RXO/RXE, RXR and TQ1. */
export interface PharmacyOrder {
  readonly orc: Hl7Segment;
  readonly orcIndex: number;
  rxe?: Hl7Segment;
  rxo?: Hl7Segment;
  rxr?: Hl7Segment;
}

/**
 * A pharmacy order -> MedicationRequest (IG segment maps ORC/RXO[MedicationRequest], RXR[MedicationRequest]; the IG
 * snapshot has no RXE map, so RXE follows its RXO counterpart field by field: RXE-2 give code, RXE-3/5 dose,
 * RXE-10/11 dispense amount, RXE-12 refills). The encoded RXE wins over the original RXO when both are present.
 */
export function convertPharmacyOrder(ctx: ConvertContext, order: PharmacyOrder): MedicationRequest | undefined {
  if (!ctx.patient) return undefined;
  const { orc, rxe, rxo, rxr } = order;
  const medication = (rxe && codeableConcept(rxe, 2, ctx)) ?? (rxo && codeableConcept(rxo, 1, ctx));
  if (!medication) return undefined;
  const identifiers: Identifier[] = [];
  const placer = clean(orc.get(2));
  const filler = clean(orc.get(3));
  if (placer) identifiers.push({ value: placer, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }] } });
  if (filler) identifiers.push({ value: filler, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'FILL' }] } });
  const key = filler || placer;
  const id = key ? ctx.id('MedicationRequest', key, medication.coding?.[0]?.code ?? '') : ctx.id('MedicationRequest', ctx.segmentKey(order.orcIndex));
  const mr: MedicationRequest = {
    resourceType: 'MedicationRequest',
    id,
    status: ORDER_CONTROL_STATUS[clean(orc.get(1)).toUpperCase()] ?? 'unknown',
    intent: 'order',
    medicationCodeableConcept: medication,
    subject: ctx.patient,
  };
  if (identifiers.length) mr.identifier = identifiers;
  if (ctx.encounter) mr.encounter = ctx.encounter;
  const authored = ctx.dateTime(orc.get(9));
  if (authored) mr.authoredOn = authored;
  const requester = practitioner(ctx, orc.field(12));
  if (requester) mr.requester = requester;
  const dosage: Dosage = {};
  const doseValue = rxe ? num(rxe.get(3)) : rxo ? num(rxo.get(2)) : undefined;
  if (doseValue !== undefined) dosage.doseAndRate = [{ doseQuantity: rxe ? quantity(doseValue, rxe, 5, ctx) : quantity(doseValue, rxo, 4, ctx) }];
  if (rxr) {
    const route = codeableConcept(rxr, 1, ctx);
    if (route) dosage.route = route;
    const site = codeableConcept(rxr, 2, ctx);
    if (site) dosage.site = site;
    const method = codeableConcept(rxr, 4, ctx);
    if (method) dosage.method = method;
  }
  const instructions = (rxe ?? rxo)?.repetitions(rxe ? 7 : 6).map((f) => f.component(2) || f.component(1)).filter(Boolean) ?? [];
  if (instructions.length) dosage.text = instructions.join('; ');
  if (Object.keys(dosage).length) mr.dosageInstruction = [dosage];
  if (rxe) {
    const amount = num(rxe.get(10));
    const refills = num(rxe.get(12));
    if (amount !== undefined || refills !== undefined) {
      mr.dispenseRequest = {};
      if (amount !== undefined) mr.dispenseRequest.quantity = quantity(amount, rxe, 11, ctx);
      if (refills !== undefined && Number.isInteger(refills)) mr.dispenseRequest.numberOfRepeatsAllowed = refills;
    }
  }
  ctx.add(mr);
  return mr;
}
