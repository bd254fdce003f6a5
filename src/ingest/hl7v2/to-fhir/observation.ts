import type { DiagnosticReport, Identifier, Observation, Reference } from 'fhir/r4.js';
import type { Hl7Segment } from '../message.js';
import type { ConvertContext } from './context.js';
import { clean, codeableConcept, codeableConcepts, date, num, quantity, uriPart } from './datatypes.js';
import { practitioner } from './patient.js';
import { INTERPRETATION_DISPLAY, OBSERVATION_STATUS, REPORT_STATUS } from './vocab.js';

/** The order an OBX belongs to: its report (if any) and the keys that make its ids stable across re-sends. */
export interface OrderScope {
  readonly report?: DiagnosticReport;
  /** Filler (else placer) order number; '' when the order has none. */
  readonly orderKey: string;
  /** OBR-7, the effective time of results that carry no OBX-14. */
  readonly effective?: string;
}

const SN_COMPARATORS = new Set(['<', '<=', '>=', '>']);

/** OBX-5 by OBX-2 value type -> Observation.value[x] (IG segment map OBX[Observation], rows OBX-5/OBX-6). */
function setValue(ctx: ConvertContext, obs: Observation, obx: Hl7Segment): void {
  const type = clean(obx.get(2)).toUpperCase();
  const raw = obx.get(5);
  if (obx.rawField(5) === '') return;
  switch (type) {
    case 'NM': {
      const n = num(raw);
      if (n !== undefined) obs.valueQuantity = quantity(n, obx, 6, ctx);
      else if (clean(raw)) obs.valueString = clean(raw);
      return;
    }
    case 'SN': {
      const comparator = clean(obx.get(5, 1));
      const n1 = num(obx.get(5, 2));
      const sep = clean(obx.get(5, 3));
      const n2 = num(obx.get(5, 4));
      if (n1 !== undefined && n2 !== undefined && (sep === ':' || sep === '/')) {
        obs.valueRatio = { numerator: { value: n1 }, denominator: { value: n2 } };
      } else if (n1 !== undefined && n2 !== undefined && (sep === '-' || sep === '+')) {
        obs.valueRange = { low: quantity(n1, obx, 6, ctx), high: quantity(n2, obx, 6, ctx) };
      } else if (n1 !== undefined) {
        const q = quantity(n1, obx, 6, ctx);
        if (SN_COMPARATORS.has(comparator)) q.comparator = comparator as '<' | '<=' | '>=' | '>';
        obs.valueQuantity = q;
      } else {
        const text = obx.field(5).text.replace(/\^/g, ' ').trim();
        if (text) obs.valueString = text;
      }
      return;
    }
    case 'CE':
    case 'CWE':
    case 'CNE':
    case 'CF': {
      const cc = codeableConcept(obx, 5, ctx);
      if (cc) obs.valueCodeableConcept = cc;
      return;
    }
    case 'DT': {
      const d = date(raw);
      if (d) obs.valueDateTime = d;
      return;
    }
    case 'TS':
    case 'DTM': {
      const dt = ctx.dateTime(raw);
      if (dt) obs.valueDateTime = dt;
      return;
    }
    case 'TM': {
      const m = /^(\d{2})(\d{2})?(\d{2})?/.exec(clean(raw));
      if (m) obs.valueTime = `${m[1]}:${m[2] ?? '00'}:${m[3] ?? '00'}`;
      return;
    }
    case 'ED':
    case 'RP':
      // Embedded documents belong in DocumentReference/Binary, not in a feature value.
      return;
    default: {
      // ST, TX, FT and anything else readable: all repetitions, escapes decoded, as text.
      const text = obx
        .repetitions(5)
        .map((f) => f.text)
        .join('\n')
        .trim();
      if (text && text !== '""') obs.valueString = text;
    }
  }
}

/** OBX -> Observation; adds it to the scope's report when there is one. */
export function convertObx(ctx: ConvertContext, obx: Hl7Segment, index: number, scope: OrderScope | undefined): Observation {
  const code = codeableConcept(obx, 3, ctx) ?? { text: 'unknown' };
  const codeKey = code.coding?.[0]?.code ?? code.text ?? '';
  const id = scope?.orderKey
    ? ctx.id('Observation', scope.orderKey, clean(obx.get(1)), codeKey, clean(obx.get(4)))
    : ctx.id('Observation', ctx.segmentKey(index));
  const obs: Observation = {
    resourceType: 'Observation',
    id,
    status: OBSERVATION_STATUS[clean(obx.get(11)).toUpperCase()] ?? 'unknown',
    code,
  };
  if (ctx.patient) obs.subject = ctx.patient;
  if (ctx.encounter) obs.encounter = ctx.encounter;
  setValue(ctx, obs, obx);
  const range = clean(obx.field(7).text);
  if (range) obs.referenceRange = [{ text: range }];
  const interpretation = codeableConcepts(obx, 8, ctx).map((cc) => {
    const c = cc.coding?.[0]?.code ?? '';
    const display = INTERPRETATION_DISPLAY[c];
    return display ? { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: c, display }] } : cc;
  });
  if (interpretation.length) obs.interpretation = interpretation;
  const effective = ctx.dateTime(obx.get(14)) ?? scope?.effective;
  if (effective) obs.effectiveDateTime = effective;
  const method = codeableConcept(obx, 17, ctx);
  if (method) obs.method = method;
  const site = codeableConcept(obx, 20, ctx);
  if (site) obs.bodySite = site;
  const performers = obx
    .repetitions(16)
    .map((f) => practitioner(ctx, f))
    .filter((r): r is Reference => r !== undefined);
  if (performers.length) obs.performer = performers;
  const ref = ctx.add(obs);
  if (scope?.report) (scope.report.result ??= []).push(ref);
  return obs;
}

/** NTE after an OBX -> Observation.note. */
export function addNote(obs: Observation, nte: Hl7Segment): void {
  const text = nte
    .repetitions(3)
    .map((f) => f.text)
    .join('\n')
    .trim();
  if (text) (obs.note ??= []).push({ text });
}

function orderIdentifier(seg: Hl7Segment, f: number, type: 'PLAC' | 'FILL', ctx: ConvertContext): Identifier | undefined {
  const value = clean(seg.get(f, 1));
  if (!value) return undefined;
  const ns = clean(seg.get(f, 2));
  const id: Identifier = {
    value,
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: type }] },
  };
  if (ns) id.system = ctx.identifierSystemPrefix + uriPart(ns);
  return id;
}

/** OBR (+ the ORC before it) -> DiagnosticReport (IG segment map OBR[DiagnosticReport]). */
export function convertObr(ctx: ConvertContext, obr: Hl7Segment, index: number, orc: Hl7Segment | undefined): OrderScope {
  const placer = orderIdentifier(obr, 2, 'PLAC', ctx) ?? (orc ? orderIdentifier(orc, 2, 'PLAC', ctx) : undefined);
  const filler = orderIdentifier(obr, 3, 'FILL', ctx) ?? (orc ? orderIdentifier(orc, 3, 'FILL', ctx) : undefined);
  const code = codeableConcept(obr, 4, ctx) ?? { text: 'unknown' };
  const orderKey = filler?.value ?? placer?.value ?? '';
  const id = orderKey
    ? ctx.id('DiagnosticReport', orderKey, code.coding?.[0]?.code ?? '', clean(obr.get(1)))
    : ctx.id('DiagnosticReport', ctx.segmentKey(index));
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id,
    status: REPORT_STATUS[clean(obr.get(25)).toUpperCase()] ?? 'unknown',
    code,
  };
  const identifiers = [placer, filler].filter((i): i is Identifier => i !== undefined);
  if (identifiers.length) report.identifier = identifiers;
  if (ctx.patient) report.subject = ctx.patient;
  if (ctx.encounter) report.encounter = ctx.encounter;
  const start = ctx.dateTime(obr.get(7));
  const end = ctx.dateTime(obr.get(8));
  if (start && end) report.effectivePeriod = { start, end };
  else if (start) report.effectiveDateTime = start;
  const issued = ctx.dateTime(obr.get(22));
  if (issued && issued.length > 10) report.issued = issued;
  const category = codeableConcept(obr, 24, ctx);
  if (category) report.category = [category];
  ctx.add(report);
  return { report, orderKey: orderKey ? `${orderKey}|${code.coding?.[0]?.code ?? ''}` : '', ...(start ? { effective: start } : {}) };
}
