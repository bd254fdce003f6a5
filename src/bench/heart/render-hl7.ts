import { hl7Time, offsetText } from '../../demo/data/hl7-site.js';
import { angiographyDate, CHEST_PAIN, cholesterolMmolPerL, examDate, heartBirthDate, HL7_LOCAL, measured, OBS, RESTING_ECG, type ObsKey } from './codes.js';
import type { HeartRow, HeartSite } from './load.js';

/**
 * Switzerland and VA as HL7 v2.5.1: per patient an ADT^A01 (demographics), an ORU^R01 with the admission exam and
 * exercise test, and an ORU^R01 with the angiography result. LOINC-coded results carry `LN`, the rest local `99HRT`
 * codes; flags are CWE with HL7 table 0136 (Y/N). Quirks: VA reports cholesterol in mmol/L (LOINC 14647-2) and heart
 * rate as `bpm`; Switzerland writes blood pressure as `mmHg` text.
 */

interface SiteStyle {
  readonly application: string;
  readonly facility: string;
  readonly offsetMinutes: number;
  readonly cholesterolMolar: boolean;
  readonly bpUnit: string;
  readonly hrUnit: string;
}

const STYLES: Readonly<Record<string, SiteStyle>> = {
  'heart-switzerland': { application: 'KARDIO', facility: 'USZ', offsetMinutes: 60, cholesterolMolar: false, bpUnit: 'mmHg', hrUnit: '/min^beats per minute^UCUM' },
  'heart-va': { application: 'VISTA', facility: 'VALB', offsetMinutes: -480, cholesterolMolar: true, bpUnit: 'mm[Hg]^mmHg^UCUM', hrUnit: 'bpm' },
};

function code(key: ObsKey): string {
  const o = OBS[key];
  return `${o.code}^${o.display.replace(/[\^|~\\&]/g, ' ')}^${o.loinc ? 'LN' : HL7_LOCAL}`;
}

function yn(v: 0 | 1): string {
  return v === 1 ? 'Y^Yes^HL70136' : 'N^No^HL70136';
}

/** The HL7 MRN of a patient (PID-3); the gateway's converter derives the Patient id from it. */
export function heartMrn(row: HeartRow): string {
  return row.key.toUpperCase();
}

export function renderHeartHl7(site: HeartSite): string[] {
  const s = STYLES[site.site];
  if (!s) throw new RangeError(`${site.site} is not an HL7 site`);
  const out: string[] = [];
  for (const row of site.rows) {
    let n = 0;
    const mrn = heartMrn(row);
    const msh = (type: string, at: Date) =>
      `MSH|^~\\&|${s.application}|${s.facility}|FHIRFED|GATEWAY|${hl7Time(at, s.offsetMinutes)}${offsetText(s.offsetMinutes)}||${type}|${mrn}-${++n}|P|2.5.1|||AL|NE`;
    const pid = `PID|1||${mrn}^^^${s.facility}^MR||Anonymous^Patient||${heartBirthDate(row).replace(/-/g, '')}|${row.sex === 1 ? 'M' : 'F'}`;
    const exam = examDate(row);
    const t = hl7Time(exam, s.offsetMinutes);
    out.push([msh('ADT^A01^ADT_A01', exam), `EVN|A01|${t}`, pid, 'PV1|1|I|CARD'].join('\r'));

    const obx: string[] = [];
    const add = (type: string, key: ObsKey, value: string, unit = '') => obx.push(`OBX|${obx.length + 1}|${type}|${code(key)}||${value}|${unit}|||||F|||${t}`);
    if (measured(row, 'trestbps')) add('NM', 'trestbps', String(row.trestbps), s.bpUnit);
    if (measured(row, 'chol')) {
      if (s.cholesterolMolar) add('NM', 'cholMolar', cholesterolMmolPerL(row.chol).toFixed(2), 'mmol/L^mmol/L^UCUM');
      else add('NM', 'chol', String(row.chol), 'mg/dL^mg/dL^UCUM');
    }
    add('NM', 'thalach', String(row.thalach), s.hrUnit);
    add('NM', 'oldpeak', String(row.oldpeak), 'mm^mm^UCUM');
    add('CWE', 'fbs', yn(row.fbs));
    add('CWE', 'exang', yn(row.exang));
    const cp = CHEST_PAIN[row.cp];
    if (cp) add('CWE', 'cp', `${cp.code}^${cp.display}^${HL7_LOCAL}`);
    const ecg = RESTING_ECG[row.restecg];
    if (ecg) add('CWE', 'restecg', `${ecg.code}^${ecg.display}^${HL7_LOCAL}`);
    out.push([msh('ORU^R01^ORU_R01', exam), pid, `OBR|1|${mrn}-EX|${mrn}-EXF|EXAM^Admission exam and exercise test^${HL7_LOCAL}|||${t}`, ...obx].join('\r'));

    const angio = angiographyDate(row);
    const ta = hl7Time(angio, s.offsetMinutes);
    out.push(
      [msh('ORU^R01^ORU_R01', angio), pid, `OBR|1|${mrn}-AN|${mrn}-ANF|ANGIO^Coronary angiography^${HL7_LOCAL}|||${ta}`, `OBX|1|NM|${code('num')}||${row.num}||||||F|||${ta}`].join('\r'),
    );
  }
  return out;
}
