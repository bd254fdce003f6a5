import type { Bundle, Observation } from 'fhir/r4.js';
import { FhirfedError } from '../../../core/errors.js';
import type { Hl7Message, Hl7Segment } from '../message.js';
import { ConvertContext, type ConvertOptions } from './context.js';
import { convertPv1 } from './encounter.js';
import { convertRxa } from './immunization.js';
import { convertPharmacyOrder, type PharmacyOrder } from './medication.js';
import { addNote, convertObr, convertObx, type OrderScope } from './observation.js';
import { convertAl1, convertNk1, convertPid } from './patient.js';

export type { ConvertOptions } from './context.js';

/**
 * HL7v2 -> FHIR R4 Bundle, following the V2-to-FHIR IG message maps (ADT_A01/A02/A11, ORU_R01, VXU_V04, MDM_T02) for
 * the resources fhirfed's feature pipeline uses: Patient, RelatedPerson, AllergyIntolerance, Encounter, Practitioner,
 * Observation, DiagnosticReport, Immunization and MedicationRequest. MessageHeader and Provenance are left out: the
 * Bundle's identifier (sender + MSH-10) and timestamp (MSH-7) carry what the ledger needs.
 */
export const SUPPORTED_MESSAGE_TYPES: readonly string[] = [
  'ADT^A01',
  'ADT^A02',
  'ADT^A03',
  'ADT^A04',
  'ADT^A05',
  'ADT^A06',
  'ADT^A07',
  'ADT^A08',
  'ADT^A11',
  'ADT^A13',
  'ADT^A28',
  'ADT^A31',
  'ORU^R01',
  'VXU^V04',
  'RDE^O11',
  'MDM^T02',
];

const SUPPORTED = new Set(SUPPORTED_MESSAGE_TYPES);

export function isSupportedMessageType(messageType: string): boolean {
  return SUPPORTED.has(messageType.toUpperCase());
}

/** Converts one message; unsupported message types are refused with FHIRFED_ERR_HL7_UNSUPPORTED naming MSH-9. */
export function convertToFhir(msg: Hl7Message, options: ConvertOptions = {}): Bundle {
  const type = msg.messageType.toUpperCase();
  if (!SUPPORTED.has(type)) {
    throw new FhirfedError('FHIRFED_ERR_HL7_UNSUPPORTED', `message type ${msg.messageType || '(empty)'} is not supported for conversion to FHIR`, {
      where: { path: 'MSH-9', line: msg.header.line },
      hint: `supported message types: ${SUPPORTED_MESSAGE_TYPES.join(', ')}`,
    });
  }
  const ctx = new ConvertContext(msg, options);
  walk(ctx, msg.segments, msg.triggerEvent.toUpperCase());
  return ctx.bundle();
}

/** One pass over the segments; groups (order, pharmacy order, RXA+RXR) are tracked with a little state. */
function walk(ctx: ConvertContext, segments: readonly Hl7Segment[], event: string): void {
  let orc: Hl7Segment | undefined;
  let scope: OrderScope | undefined;
  let lastObs: Observation | undefined;
  let pharmacy: PharmacyOrder | undefined;
  const flushPharmacy = (): void => {
    if (pharmacy && (pharmacy.rxe || pharmacy.rxo)) convertPharmacyOrder(ctx, pharmacy);
    pharmacy = undefined;
  };
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as Hl7Segment;
    switch (seg.name) {
      case 'PID':
        if (!ctx.patient) convertPid(ctx, seg, i);
        break;
      case 'NK1':
        convertNk1(ctx, seg, i);
        break;
      case 'AL1':
        convertAl1(ctx, seg, i);
        break;
      case 'PV1':
        if (!ctx.encounter) convertPv1(ctx, seg, i, event);
        break;
      case 'ORC':
        flushPharmacy();
        orc = seg;
        scope = undefined;
        pharmacy = { orc: seg, orcIndex: i };
        break;
      case 'OBR':
        scope = convertObr(ctx, seg, i, orc);
        lastObs = undefined;
        break;
      case 'OBX':
        lastObs = convertObx(ctx, seg, i, scope);
        break;
      case 'NTE':
        if (lastObs) addNote(lastObs, seg);
        break;
      case 'RXA': {
        const next = segments[i + 1];
        convertRxa(ctx, seg, i, orc, next?.name === 'RXR' ? next : undefined);
        lastObs = undefined;
        scope = undefined;
        break;
      }
      case 'RXO':
        if (pharmacy) pharmacy.rxo = seg;
        break;
      case 'RXE':
        if (pharmacy) pharmacy.rxe = seg;
        break;
      case 'RXR':
        // The route that follows RXE (what is given) wins over the one after RXO (what was ordered).
        if (pharmacy && (!pharmacy.rxr || pharmacy.rxe)) pharmacy.rxr = seg;
        break;
      default:
        break;
    }
  }
  flushPharmacy();
}
