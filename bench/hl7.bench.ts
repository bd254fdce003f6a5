import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hl7Message as MedplumHl7Message } from '@medplum/core';
import * as fromSource from '../src/ingest/hl7v2/index.js';
import type { BenchResult } from './lib/types.js';

/**
 * medplum is precompiled JS while ours runs through tsx by default; for a like-for-like run compile first and point
 * HL7_BENCH_DIST at the output: `npx tsc -p tsconfig.build.json --outDir /tmp/fhirfed-dist` then
 * `HL7_BENCH_DIST=/tmp/fhirfed-dist npx tsx bench/hl7.bench.ts`.
 */
const DIST = process.env.HL7_BENCH_DIST;
const { convertToFhir, parseHl7 } = (DIST ? await import(join(DIST, 'ingest/hl7v2/index.js')) : fromSource) as typeof fromSource;

/**
 * HL7v2 parse+convert throughput against @medplum/core's Hl7Message.parse (parse only), measured in the same run
 * on the same text. ratio = ours / medplum; goal >= 1.0 even though ours also builds the FHIR Bundle.
 */

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const MESSAGES = join(ROOT, '../shared/samples/hl7v2/ms-fhir-converter/messages');

/** A lab result with 10 OBX (the size DEPENDENCY-NOTES measured medplum at), and an admission. */
const SYNTHETIC_ORU = [
  'MSH|^~\\&|LAB|HOSP|GW|SITE|20240101120000+0100||ORU^R01^ORU_R01|C1|P|2.5.1',
  'PID|1||12345^^^HOSP^MR||DOE^JANE^Q||19700101|F|||1 MAIN ST^^CITY^ST^12345',
  'PV1|1|O|CLINIC^1^A||||123^SMITH^JOHN|||||||||||V42',
  'OBR|1|P1|F1|57021-8^CBC^LN|||20240101100000+0100||||||||||||||||F',
  ...Array.from({ length: 10 }, (_, i) => `OBX|${i + 1}|NM|${718 + i}-7^Analyte ${i}^LN||${(12.5 + i).toFixed(1)}|g/dL^g/dL^UCUM|10-20|N|||F|||20240101103000+0100`),
].join('\r');

interface Sample {
  readonly name: string;
  readonly text: string;
}

function samples(): Sample[] {
  const out: Sample[] = [{ name: 'synthetic ORU^R01 (10 OBX)', text: SYNTHETIC_ORU }];
  for (const [name, file] of [
    ['ORU^R01 LRI CBC (28 OBX)', 'LRI_2.0-NG_CBC_Typ_Message.hl7'],
    ['ORU^R01 LAB-ORU-1', 'LAB-ORU-1.hl7'],
    ['ADT^A01 ADT01-28', 'ADT01-28.hl7'],
    ['ADT^A01 ADT-A01-01 (v2.8, many segments)', 'ADT-A01-01.hl7'],
  ] as const) {
    const path = join(MESSAGES, file);
    if (existsSync(path)) out.push({ name, text: readFileSync(path, 'utf8').replace(/^\ufeff/, '') });
  }
  return out;
}

/** Messages per second of fn over about `ms` milliseconds, after a warm-up. */
function rate(fn: () => void, ms: number): number {
  for (let i = 0; i < 300; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    elapsed = process.hrtime.bigint() - start;
  }
  return n / (Number(elapsed) / 1e9);
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const s of samples()) {
    let sink = 0;
    // Interleave and take the best of three rounds each: the machine is shared and noisy.
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let round = 0; round < 3; round++) {
      theirs.push(rate(() => (sink += MedplumHl7Message.parse(s.text).segments.length), 400));
      ours.push(rate(() => (sink += convertToFhir(parseHl7(s.text)).entry?.length ?? 0), 400));
    }
    const value = Math.max(...ours);
    const base = Math.max(...theirs);
    results.push({
      name: `hl7 parse+convert: ${s.name}`,
      metric: 'msgs/s',
      value: Math.round(value),
      baseline: `@medplum/core Hl7Message.parse (parse only): ${Math.round(base)} msgs/s`,
      ratio: Number((value / base).toFixed(2)),
      notes: `${sink > 0 ? 'best of 3 interleaved rounds of 0.4 s' : 'no output'}; ours ${DIST ? `compiled (${DIST})` : 'via tsx'}`,
    });
  }
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await run()) console.log(JSON.stringify(r));
}
