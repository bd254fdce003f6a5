/**
 * Fuzz target: the MLLP frame parser. Valid frames with garbage between them, cut into random chunks (a frame split
 * over many reads, FS and CR in different reads), must come out as exactly those frames; arbitrary bytes in any
 * chunking must give the same events as in one piece, never throw, and never keep more than the head of an
 * oversized frame.
 */
import fc from 'fast-check';
import { CR, FS, frame, MllpFrameParser, VT, type FrameEvent } from '../../../src/ingest/mllp/framing.js';
import { Tally, type FuzzTarget } from '../harness/target.js';
import { expectThat, Violation } from '../harness/typed.js';
import { hl7Seeds } from './hl7-corpus.js';

const HEAD_BYTES = 4096;

export type MllpInput =
  | { readonly kind: 'frames'; readonly bodies: readonly string[]; readonly garbage: readonly string[]; readonly cuts: readonly number[]; readonly maxBytes: number }
  | { readonly kind: 'bytes'; readonly base64: string; readonly cuts: readonly number[]; readonly maxBytes: number };

const seeds = hl7Seeds().map((s) => Buffer.from(Buffer.from(s, 'latin1').filter((b) => b !== VT && b !== FS)).toString('base64'));
const tally = new Tally();

/** A frame body: a real message or random bytes, never containing the start or end byte. */
const body = fc.oneof(
  fc.constantFrom(...seeds),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b.filter((x) => x !== VT && x !== FS)).toString('base64')),
  fc.constantFrom('', Buffer.from([CR]).toString('base64'), Buffer.from([CR, CR, 0x0a]).toString('base64')),
);
/** Bytes between frames: anything but the start byte (FS and CR included, the parser must skip them). */
const garbage = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b.filter((x) => x !== VT)).toString('base64')) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from([FS, CR]).toString('base64'), Buffer.from([FS]).toString('base64'), Buffer.from([CR, 0x0a]).toString('base64')) },
);
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 });
const maxBytes = fc.oneof({ weight: 4, arbitrary: fc.constant(1 << 20) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 6000 }) });

function chunk(stream: Buffer, at: readonly number[]): Buffer[] {
  const points = [...new Set(at.map((f) => Math.floor(f * stream.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, stream.length]) {
    out.push(stream.subarray(prev, p));
    prev = p;
  }
  return out;
}

function run(chunks: readonly Buffer[], limit: number): { events: FrameEvent[]; garbage: number } {
  const parser = new MllpFrameParser(limit);
  const events: FrameEvent[] = [];
  let junk = 0;
  for (const c of chunks) {
    for (const e of parser.push(c)) {
      if (e.kind === 'garbage') {
        expectThat(e.bytes > 0, 'a garbage event must count at least one byte');
        junk += e.bytes;
      } else {
        if (e.kind === 'oversized') expectThat(e.head.length <= HEAD_BYTES && e.size > limit, `oversized frame keeps ${e.head.length} bytes of ${e.size} (limit ${limit})`);
        events.push(e);
      }
    }
  }
  return { events, garbage: junk };
}

const describeEvent = (e: FrameEvent): string =>
  e.kind === 'frame' ? `frame(${e.data.toString('base64')})` : e.kind === 'oversized' ? `oversized(${e.size},${e.head.toString('base64')})` : `garbage(${e.bytes})`;

function checkFrames(input: Extract<MllpInput, { kind: 'frames' }>): void {
  const bodies = input.bodies.map((b) => Buffer.from(b, 'base64'));
  const parts: Buffer[] = [];
  let junk = 0;
  bodies.forEach((b, i) => {
    const g = Buffer.from(input.garbage[i] ?? '', 'base64');
    junk += g.length;
    parts.push(g, frame(b));
  });
  const { events, garbage: seen } = run(chunk(Buffer.concat(parts), input.cuts), input.maxBytes);
  const expected = bodies.map((b) =>
    b.length > input.maxBytes ? `oversized(${b.length},${b.subarray(0, HEAD_BYTES).toString('base64')})` : `frame(${b.toString('base64')})`,
  );
  const got = events.map(describeEvent);
  if (got.join('\n') !== expected.join('\n')) throw new Violation(`frames differ\nexpected: ${expected.join(' ')}\ngot:      ${got.join(' ')}`);
  expectThat(seen === junk, `garbage counted ${seen} bytes, ${junk} were sent`);
  tally.add(bodies.some((b) => b.length > input.maxBytes) ? 'frames with oversized' : 'frames');
}

function checkBytes(input: Extract<MllpInput, { kind: 'bytes' }>): void {
  const stream = Buffer.from(input.base64, 'base64');
  const whole = run([stream], input.maxBytes);
  const pieces = run(chunk(stream, input.cuts), input.maxBytes);
  const a = whole.events.map(describeEvent).join(' ');
  const b = pieces.events.map(describeEvent).join(' ');
  if (a !== b) throw new Violation(`chunking changed the events\nwhole:   ${a}\nchunked: ${b}`);
  expectThat(whole.garbage === pieces.garbage, `chunking changed the garbage count (${whole.garbage} vs ${pieces.garbage})`);
  tally.add(whole.events.length > 0 ? 'bytes with frames' : 'bytes without frames');
}

/** Random bytes rich in the three framing bytes, so frames, restarts and split endings all occur. */
const framingBytes = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.array(fc.nat(255), { maxLength: 12 }) },
      { weight: 2, arbitrary: fc.constantFrom([VT], [FS], [CR], [FS, CR], [FS, FS, CR], [VT, FS, CR]) },
    ),
    { maxLength: 80 },
  )
  .map((a) => Buffer.from(a.flat()).toString('base64'));

export const target: FuzzTarget<MllpInput> = {
  name: 'mllp',
  arbitrary: () =>
    fc.oneof(
      fc.record({ kind: fc.constant('frames' as const), bodies: fc.array(body, { maxLength: 8 }), garbage: fc.array(garbage, { maxLength: 9 }), cuts, maxBytes }),
      fc.record({ kind: fc.constant('bytes' as const), base64: framingBytes, cuts, maxBytes }),
    ),
  check: (input) => (input.kind === 'frames' ? checkFrames(input) : checkBytes(input)),
  stats: () => tally.toJSON(),
};
