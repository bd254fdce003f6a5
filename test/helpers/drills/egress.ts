/**
 * Parsing and searching captured client -> aggregator bytes: HTTP/1.1 requests out of a TCP stream, base64 blobs
 * out of JSON bodies, and PHI needles (strings, JSON numbers, float32 encodings) in both.
 */

export interface CapturedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Requests in one connection's bytes (fetch sends bodies with Content-Length, never chunked). */
export function parseRequests(stream: Buffer): CapturedRequest[] {
  const out: CapturedRequest[] = [];
  let at = 0;
  while (at < stream.length) {
    const end = stream.indexOf('\r\n\r\n', at, 'latin1');
    if (end < 0) break;
    const [line = '', ...rest] = stream.subarray(at, end).toString('latin1').split('\r\n');
    const [method = '', path = ''] = line.split(' ');
    const headers: Record<string, string> = {};
    for (const h of rest) {
      const i = h.indexOf(':');
      if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
    }
    if (headers['transfer-encoding']) throw new Error(`unexpected transfer-encoding ${headers['transfer-encoding']} in ${line}`);
    const len = Number(headers['content-length'] ?? 0);
    const body = stream.subarray(end + 4, end + 4 + len);
    out.push({ method, path, headers, body });
    at = end + 4 + len;
  }
  return out;
}

/** Every base64 / base64url run long enough to carry data, decoded. */
export function base64Blobs(text: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of text.matchAll(/[A-Za-z0-9+/_-]{16,}={0,2}/g)) {
    const s = m[0];
    out.push(Buffer.from(s, /[-_]/.test(s) ? 'base64url' : 'base64'));
  }
  return out;
}

/** A JSON number as its own token (not a prefix of 10.95 or a suffix of 110.9). */
export function containsNumberToken(text: string, n: number): boolean {
  const s = JSON.stringify(n);
  let i = text.indexOf(s);
  while (i >= 0) {
    const before = text[i - 1] ?? '';
    const after = text[i + s.length] ?? '';
    if (!/[\d.]/.test(before) && !/[\d.eE]/.test(after) && before !== '-') return true;
    i = text.indexOf(s, i + 1);
  }
  return false;
}

/** Whether `blob` holds the float32 (little endian) encoding of n at a 4-byte-aligned offset. */
export function containsFloat32(blob: Buffer, n: number): boolean {
  const needle = Buffer.alloc(4);
  needle.writeFloatLE(n);
  for (let i = blob.indexOf(needle); i >= 0; i = blob.indexOf(needle, i + 1)) if (i % 4 === 0) return true;
  return false;
}

/** Values distinctive enough that finding one is evidence, not coincidence: non-integers with >= 3 significant digits. */
export function distinctiveNumber(n: number): boolean {
  if (!Number.isFinite(n) || Number.isInteger(n)) return false;
  return JSON.stringify(Math.abs(n)).replace(/^[0.]+/, '').replace('.', '').length >= 3;
}
