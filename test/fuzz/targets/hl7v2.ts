/**
 * Fuzz target: the HL7v2 parser, field access, v2 -> FHIR conversion and ACK building, on mutated real messages
 * and on random text and bytes. Contract: a result or a FhirfedError; the ACK built for any message (parsed or
 * not) is itself parseable HL7 that echoes MSH-10.
 */
import fc from 'fast-check';
import { ackErrorFrom, ackSourceOfRaw, buildAck, convertToFhir, hl7Text, parseHl7, parseHl7Batch, type Hl7Message } from '../../../src/ingest/hl7v2/index.js';
import { Tally, type FuzzTarget } from '../harness/target.js';
import { expectThat, typedOrResult } from '../harness/typed.js';
import { hl7Seeds } from './hl7-corpus.js';
import { hl7Mutation, mutateHl7, type Hl7Mutation } from './hl7-mutations.js';

/** Text is sent as a string; `base64` as bytes (charset detection, BOM, MSH-18 decoding). */
export type Hl7Input = { readonly text: string } | { readonly base64: string };

const seeds = hl7Seeds();
const tally = new Tally();

function mutated(): fc.Arbitrary<Hl7Input> {
  return fc
    .record({ seed: fc.nat(seeds.length - 1), mutations: fc.array(hl7Mutation(), { minLength: 1, maxLength: 4 }), bytes: fc.boolean() })
    .map(({ seed, mutations, bytes }) => {
      const r = mutateHl7(seeds[seed] as string, mutations as Hl7Mutation[]);
      if (!bytes && !r.binary) return { text: r.text };
      // Inserted raw bytes stay bytes (latin1); text with wider characters goes in as its UTF-8 encoding.
      return { base64: Buffer.from(r.text, r.binary ? 'latin1' : 'utf8').toString('base64') };
    });
}

function random(): fc.Arbitrary<Hl7Input> {
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength: 400 }).map((text) => ({ text })),
    fc.uint8Array({ maxLength: 400 }).map((b) => ({ base64: Buffer.from(b).toString('base64') })),
    fc.tuple(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 300 })).map(([enc, rest]) => ({ text: `MSH${enc}${rest}` })),
  );
}

function exercise(msg: Hl7Message): void {
  void [msg.messageType, msg.messageStructure, msg.controlId, msg.processingId, msg.version, msg.charset, msg.toString()];
  for (const p of ['PID-3', 'PID-5.1', 'PID-3[2].1', 'OBX[2]-5', 'MSH-9.2', 'PV1-3.1.1']) void msg.get(p);
  for (const seg of msg.segments.slice(0, 40)) {
    const n = Math.min(seg.fieldCount, 30);
    for (let f = 1; f <= n; f++) {
      const field = seg.field(f);
      void [field.value, field.text, field.components(), field.componentCount, field.repetitionCount, seg.get(f, 2, 2, 2)];
      for (const rep of field.repetitions().slice(0, 5)) void rep.components();
    }
  }
}

/** The ACK must parse and echo MSA-1 and MSA-2 whatever the original's delimiters were. */
function checkAck(ack: string, code: string, controlId: string | undefined): void {
  const parsed = typedOrResult('parsing our own ACK', () => parseHl7(ack));
  expectThat(parsed.ok, `the ACK we built does not parse: ${parsed.ok ? '' : parsed.error.message}\nACK: ${JSON.stringify(ack)}`);
  if (!parsed.ok) return;
  const msa = parsed.value.segment('MSA');
  expectThat(msa?.get(1) === code, `ACK MSA-1 is ${JSON.stringify(msa?.get(1))}, expected ${code}`);
  if (controlId !== undefined) expectThat(msa?.get(2) === controlId, `ACK MSA-2 ${JSON.stringify(msa?.get(2))} does not echo MSH-10 ${JSON.stringify(controlId)}`);
}

function check(input: Hl7Input): void {
  const data = 'text' in input ? input.text : Buffer.from(input.base64, 'base64');
  const batch = typedOrResult('parseHl7Batch', () => parseHl7Batch(data));
  if (!batch.ok) {
    tally.add(`refused ${batch.error.code}`);
    // The listener answers unparseable input with AR built from whatever header it can read.
    const text = typedOrResult('hl7Text', () => hl7Text(data));
    const raw = text.ok ? text.value : Buffer.from(data).toString('latin1');
    typedOrResult('buildAck(AR)', () => buildAck(ackSourceOfRaw(raw), { code: 'AR', error: ackErrorFrom(batch.error) }));
    return;
  }
  tally.add(batch.value.messages.length > 0 ? 'parsed' : 'parsed (envelope only)');
  for (const msg of batch.value.messages.slice(0, 20)) {
    const ex = typedOrResult('field access', () => exercise(msg));
    if (!ex.ok) tally.add(`field access refused ${ex.error.code}`);
    const bundle = typedOrResult('convertToFhir', () => convertToFhir(msg));
    if (bundle.ok) {
      tally.add('converted');
      JSON.stringify(bundle.value);
    } else tally.add(`conversion refused ${bundle.error.code}`);
    const ack = typedOrResult('buildAck', () => buildAck(msg, bundle.ok ? { code: 'AA' } : { code: 'AE', error: ackErrorFrom(bundle.error) }));
    if (ack.ok) checkAck(ack.value, bundle.ok ? 'AA' : 'AE', msg.controlId);
  }
}

export const target: FuzzTarget<Hl7Input> = {
  name: 'hl7v2',
  arbitrary: () => fc.oneof({ arbitrary: mutated(), weight: 4 }, { arbitrary: random(), weight: 1 }),
  check,
  stats: () => tally.toJSON(),
};
