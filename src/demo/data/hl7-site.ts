import { syntheticName } from './fhir-resources.js';
import { ADVERSE_EVENTS } from './model.js';
import { FEATURE_OF } from './fhir-sites.js';
import type { Analyte, PatientRecord, PatientTruth } from './record.js';
import type { Rng } from './rng.js';
import { fromCanonical } from './units.js';

/**
 * Hospital C (mappings/sites/demo-hospital-c) speaks HL7 v2.5.1 over MLLP: ADT^A01 for the visit, ORU^R01 for lab
 * results and vital signs, RDE^O11 for prescriptions, and an ORU^R01 with a coded OBX for an adverse event (the
 * interface engine has no DG1 feed). Codes are local (coding system `99LAB`, `99RX`: HL7 table 0396 "99zzz" local
 * systems), units are US (glucose and creatinine mg/dL, HbA1c %), eGFR is sent as the non-UCUM `mL/min/1.73m2` and
 * values above 90 as `>90` (SN). Times are local (UTC-5) without offset; MSH-7 carries the offset.
 */

export const HOSPITAL_C = { application: 'RIVERLAB', facility: 'DEMO-C', assigningAuthority: 'DEMOC', offsetMinutes: -300 } as const;

/** Local lab codes, as they appear in OBX-3 (`code^display^99LAB`). */
export const HOSPITAL_C_LAB_CODES: Readonly<Record<Analyte | 'sbp' | 'dbp' | 'ae', { code: string; display: string }>> = {
  glucose: { code: 'GLU', display: 'Glucose, serum' },
  hba1c: { code: 'A1C', display: 'Hemoglobin A1c' },
  creatinine: { code: 'CREA', display: 'Creatinine, serum' },
  egfr: { code: 'EGFR', display: 'eGFR CKD-EPI' },
  bmi: { code: 'BMI', display: 'Body mass index' },
  temperature: { code: 'TEMP', display: 'Body temperature' },
  sbp: { code: 'SBP', display: 'Systolic blood pressure' },
  dbp: { code: 'DBP', display: 'Diastolic blood pressure' },
  ae: { code: 'AE', display: 'Adverse event documented' },
};

/** OBX-6 per analyte: `code^text^system`; eGFR's spelling is not UCUM, so it arrives as text only. */
const UNIT_FIELD: Readonly<Record<Analyte, { ucum: string; field: string }>> = {
  glucose: { ucum: 'mg/dL', field: 'mg/dL^mg/dL^UCUM' },
  hba1c: { ucum: '%', field: '%^%^UCUM' },
  creatinine: { ucum: 'mg/dL', field: 'mg/dL^mg/dL^UCUM' },
  egfr: { ucum: 'mL/min/{1.73_m2}', field: 'mL/min/1.73m2' },
  bmi: { ucum: 'kg/m2', field: 'kg/m2^kg/m2^UCUM' },
  temperature: { ucum: '[degF]', field: '[degF]^deg F^UCUM' },
};

const REFERENCE: Readonly<Partial<Record<Analyte, string>>> = { glucose: '70-99', hba1c: '4.0-5.6', creatinine: '0.6-1.3', egfr: '>60' };

/** `YYYYMMDDHHMM` in the site's local time. */
export function hl7Time(at: Date, offsetMinutes: number = HOSPITAL_C.offsetMinutes): string {
  const local = new Date(at.getTime() + offsetMinutes * 60_000).toISOString();
  return local.slice(0, 16).replace(/[-T:]/g, '');
}

/** `-0500`: the UTC offset as HL7 writes it after a time. */
export function offsetText(offsetMinutes: number): string {
  const abs = Math.abs(offsetMinutes);
  return `${offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
}

interface Ctx {
  readonly truth: PatientTruth;
  readonly pid: string;
  seq: number;
}

function msh(c: Ctx, type: string, at: Date): string {
  c.seq++;
  const ts = `${hl7Time(at)}${offsetText(HOSPITAL_C.offsetMinutes)}`;
  return `MSH|^~\\&|${HOSPITAL_C.application}|${HOSPITAL_C.facility}|FHIRFED|GATEWAY|${ts}||${type}|${c.truth.id}-${c.seq}|P|2.5.1|||AL|NE||UNICODE UTF-8`;
}

function pidSegment(truth: PatientTruth, n: number): string {
  const name = syntheticName(n, truth.features.sex);
  const sex = truth.features.sex === 'female' ? 'F' : 'M';
  return `PID|1||${truth.id}^^^${HOSPITAL_C.assigningAuthority}^MR||${name.family}^${name.given}||${truth.birthDate.replace(/-/g, '')}|${sex}`;
}

function numericObx(setId: number, code: { code: string; display: string }, value: number, unitField: string, at: Date, range = '', asSn = false): string {
  const type = asSn ? 'SN' : 'NM';
  const v = asSn ? `>^${value}` : String(value);
  return `OBX|${setId}|${type}|${code.code}^${code.display}^99LAB||${v}|${unitField}|${range}||||F|||${hl7Time(at)}`;
}

/** Every message of one patient, in the order the hospital sends them. */
export function renderHl7Patient(record: PatientRecord, n: number, rng: Rng, missingRate = 0.04): { messages: string[]; truth: PatientTruth } {
  const t = record.truth;
  const c: Ctx = { truth: t, pid: pidSegment(t, n), seq: 0 };
  const withheld: string[] = [];
  const messages: string[] = [];
  const first = record.events.reduce((a, e) => (e.at < a ? e.at : a), record.events[0]?.at ?? new Date());
  messages.push([msh(c, 'ADT^A01^ADT_A01', first), `EVN|A01|${hl7Time(first)}`, c.pid, `PV1|1|O|DIAB^^^DEMO-C||||1234^Welby^Marcus`].join('\r'));

  // Results are grouped per specimen/visit time: one ORU per group, one OBX per result.
  const groups = new Map<number, string[]>();
  const add = (at: Date, obx: (setId: number) => string) => {
    const list = groups.get(at.getTime()) ?? [];
    list.push(obx(list.length + 1));
    groups.set(at.getTime(), list);
  };
  const timed: { at: number; text: string }[] = [];
  let responseReported = true;
  for (const e of record.events) {
    if (e.kind === 'lab') {
      if (e.phase === 'followup' && rng.chance(0.02)) {
        responseReported = false;
        continue;
      }
      if (e.phase === 'baseline' && rng.chance(missingRate)) {
        withheld.push(FEATURE_OF[e.analyte]);
        continue;
      }
      const u = UNIT_FIELD[e.analyte];
      const value = fromCanonical(e.analyte, e.value, u.ucum);
      const code = HOSPITAL_C_LAB_CODES[e.analyte];
      const sn = e.analyte === 'egfr' && value > 90;
      add(e.at, (i) => numericObx(i, code, sn ? 90 : value, u.field, e.at, REFERENCE[e.analyte] ?? '', sn));
    } else if (e.kind === 'bp') {
      if (rng.chance(missingRate)) {
        withheld.push('systolic_bp');
        continue;
      }
      add(e.at, (i) => numericObx(i, HOSPITAL_C_LAB_CODES.sbp, e.systolic, 'mm[Hg]^mmHg^UCUM', e.at));
      add(e.at, (i) => numericObx(i, HOSPITAL_C_LAB_CODES.dbp, e.diastolic, 'mm[Hg]^mmHg^UCUM', e.at));
    } else if (e.kind === 'adverse') {
      const ae = ADVERSE_EVENTS[e.event];
      const ae99 = HOSPITAL_C_LAB_CODES.ae;
      add(e.at, (i) => `OBX|${i}|CWE|${ae99.code}^${ae99.display}^99LAB||${ae.code}^${ae.display}^SCT||||||F|||${hl7Time(e.at)}`);
    } else {
      const [code, display, dose] = e.drug === 'metformin' ? ['MET500', 'Metformin 500 mg tablet', '500^mg^UCUM'] : ['INSGLAR', 'Insulin glargine 100 U/mL pen', '10^[iU]^UCUM'];
      const [amount, unit] = dose.split('^', 2);
      const order = `${t.id}-RX${e.drug === 'metformin' ? 1 : 2}`;
      timed.push({
        at: e.at.getTime(),
        text: [
          msh(c, 'RDE^O11^RDE_O11', e.at),
          c.pid,
          `ORC|NW|${order}|${order}F||||||${hl7Time(e.at)}`,
          `RXE||${code}^${display}^99RX|${amount}||${unit}^${unit}^UCUM|TAB||${e.drug === 'metformin' ? 'BID^twice daily with meals' : 'QHS^at bedtime'}`,
        ].join('\r'),
      });
    }
  }
  // Chronological: ORU groups and prescriptions interleaved by time, as an interface engine would forward them.
  let k = 0;
  for (const [at, obx] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
    const when = new Date(at);
    const order = `${t.id}-L${++k}`;
    timed.push({
      at,
      text: [msh(c, 'ORU^R01^ORU_R01', when), c.pid, `ORC|RE|${order}|${order}F`, `OBR|1|${order}|${order}F|PANEL^Clinic results^99LAB|||${hl7Time(when)}`, ...obx].join('\r'),
    });
  }
  timed.sort((a, b) => a.at - b.at);
  messages.push(...timed.map((m) => m.text));
  return { messages, truth: { ...t, responseReported, withheld, corrupted: [] } };
}
