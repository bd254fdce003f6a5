/**
 * MLLP framing: <VT 0x0B> message <FS 0x1C><CR 0x0D>. A streaming parser that accepts any chunking (a frame split
 * across many TCP reads, many frames in one read, FS at the end of one read and CR at the start of the next), skips
 * bytes between frames, and stops buffering a frame once it passes the size limit (keeping only its head, so the
 * reject ACK can still echo MSH-10) instead of letting one sender exhaust memory.
 */

export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;

/** Bytes of an oversized frame kept for its MSH segment. */
const HEAD_BYTES = 4096;

export type FrameEvent =
  | { readonly kind: 'frame'; readonly data: Buffer }
  | { readonly kind: 'oversized'; readonly head: Buffer; readonly size: number }
  /** Bytes outside any frame, or a frame abandoned by a new start byte before its end. */
  | { readonly kind: 'garbage'; readonly bytes: number };

export function frame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  return Buffer.concat([Buffer.from([VT]), body, Buffer.from([FS, CR])]);
}

export class MllpFrameParser {
  private inFrame = false;
  private parts: Buffer[] = [];
  private size = 0;
  private oversized = false;
  /** FS was the last byte of the previous chunk: the frame ends if the next chunk starts with CR. */
  private pendingFs = false;
  private garbage = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes of the frame being read (0 between frames). */
  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): FrameEvent[] {
    const out: FrameEvent[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (!this.inFrame) {
        const start = chunk.indexOf(VT, i);
        if (start === -1) {
          this.garbage += chunk.length - i;
          break;
        }
        this.garbage += start - i;
        this.flushGarbage(out);
        this.begin();
        i = start + 1;
        continue;
      }
      if (this.pendingFs) {
        this.pendingFs = false;
        if (chunk[i] === CR) {
          out.push(this.end());
          i++;
          continue;
        }
        this.append(Buffer.from([FS]));
      }
      const end = chunk.indexOf(FS, i);
      const restart = chunk.indexOf(VT, i);
      if (restart !== -1 && (end === -1 || restart < end)) {
        // A new start byte before the end: the sender gave up on that frame. Drop it, start over.
        this.garbage += this.size + (restart - i) + 1;
        this.inFrame = false;
        this.reset();
        i = restart;
        continue;
      }
      if (end === -1) {
        this.append(chunk.subarray(i));
        break;
      }
      this.append(chunk.subarray(i, end));
      if (end + 1 >= chunk.length) {
        this.pendingFs = true;
        break;
      }
      if (chunk[end + 1] === CR) {
        out.push(this.end());
        i = end + 2;
      } else {
        this.append(Buffer.from([FS]));
        i = end + 1;
      }
    }
    this.flushGarbage(out);
    return out;
  }

  private flushGarbage(out: FrameEvent[]): void {
    if (this.garbage > 0) out.push({ kind: 'garbage', bytes: this.garbage });
    this.garbage = 0;
  }

  private begin(): void {
    this.inFrame = true;
    this.reset();
  }

  private reset(): void {
    this.parts = [];
    this.size = 0;
    this.oversized = false;
    this.pendingFs = false;
  }

  private append(b: Buffer): void {
    if (b.length === 0) return;
    const before = this.size;
    this.size += b.length;
    if (!this.oversized && this.size > this.maxBytes) {
      // Past the limit: keep only the head (for MSH-10) and count the rest.
      this.oversized = true;
      this.parts = [Buffer.concat([...this.parts, b]).subarray(0, HEAD_BYTES)];
      return;
    }
    if (!this.oversized) this.parts.push(b);
    else if (before < HEAD_BYTES) this.parts.push(b.subarray(0, HEAD_BYTES - before));
  }

  private end(): FrameEvent {
    const data = this.parts.length === 1 ? Buffer.from(this.parts[0] as Buffer) : Buffer.concat(this.parts);
    const ev: FrameEvent = this.oversized ? { kind: 'oversized', head: data, size: this.size } : { kind: 'frame', data };
    this.inFrame = false;
    this.reset();
    return ev;
  }
}
