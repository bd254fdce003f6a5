import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { FhirfedError, isFhirfedError } from '../core/errors.js';
import { parseHl7, parseHl7Batch, type Hl7Message } from './hl7v2/index.js';
import { isBulkLog, jsonFileEntries, ndjsonEntries } from './fhir/files.js';
import type { Ledger, LedgerEntry } from './ledger/index.js';
import { hl7Entry, unparsedHl7Entry } from './pipeline.js';

/**
 * The ingest entry points: file ingest below, and re-exports of the ledger (what harmonization reads), the MLLP
 * listener and the FHIR pull.
 *
 * `fhirfed ingest FILE|DIR...`: HL7v2 files (one message, many, FHS/BHS batches) and FHIR files (NDJSON, Bundle,
 * resource, a Bulk export folder) into the ledger, written in transactions of up to 500 entries.
 */

export interface IngestSummary {
  files: number;
  accepted: number;
  duplicates: number;
  dead: number;
  /** Accepted FHIR resources by type (v2 messages count their converted resources). */
  readonly resourceTypes: Record<string, number>;
  readonly deadLetters: { code: string; message: string; where?: string }[];
}

/** Drops an MLLP start byte (0x0B), sometimes left in HL7 files saved from a socket. */
const stripVt = (s: string): string => (s.charCodeAt(0) === 0x0b ? s.slice(1) : s);
const HL7_EXT = new Set(['.hl7', '.er7', '.txt', '.msg', '.hl7v2']);
const FHIR_EXT = new Set(['.ndjson', '.jsonl', '.json']);

/** Files to read, directories expanded (sorted, recursive) to the extensions fhirfed knows. */
export async function expandPaths(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const st = await stat(p).catch(() => undefined);
    if (!st) {
      throw new FhirfedError('FHIRFED_ERR_NOT_FOUND', `input ${p} not found`, {
        where: { file: p },
        hint: 'pass HL7v2 files (.hl7), FHIR NDJSON/JSON files, or folders of them',
      });
    }
    if (st.isDirectory()) {
      const names = (await readdir(p)).sort();
      const children = [];
      for (const n of names) {
        const child = join(p, n);
        const cst = await stat(child);
        if (cst.isDirectory() || HL7_EXT.has(extname(n).toLowerCase()) || FHIR_EXT.has(extname(n).toLowerCase())) children.push(child);
      }
      out.push(...(await expandPaths(children)));
    } else out.push(p);
  }
  return out;
}

async function sniff(file: string): Promise<'hl7' | 'ndjson' | 'json' | 'bulk-log'> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').trimStart();
    if (/^(MSH|FHS|BHS)/.test(stripVt(head))) return 'hl7';
    const ext = extname(file).toLowerCase();
    if (ext === '.ndjson' || ext === '.jsonl') return isBulkLog(head.split('\n')[0] ?? '') ? 'bulk-log' : 'ndjson';
    if (head.startsWith('{') && head.indexOf('\n') !== -1 && head.split('\n')[0]?.trim().endsWith('}') && ext !== '.json') return 'ndjson';
    if (head.startsWith('{') || head.startsWith('[')) return 'json';
    return HL7_EXT.has(ext) ? 'hl7' : 'json';
  } finally {
    await fh.close();
  }
}

function messageText(msg: Hl7Message): string {
  return msg.segments.map((s) => s.raw).join('\r');
}

/**
 * Entries of an HL7v2 file. The whole file is parsed first (keeps MSH-18 charsets and batch envelopes); if that
 * fails, each MSH-started message is parsed on its own so one bad message is one dead letter, not a lost file.
 */
export async function* hl7FileEntries(file: string): AsyncGenerator<LedgerEntry> {
  const bytes = await readFile(file);
  let messages: Hl7Message[] | undefined;
  try {
    messages = parseHl7Batch(bytes).messages;
  } catch {
    messages = undefined;
  }
  if (messages) {
    for (const m of messages) {
      const e = hl7Entry(m, messageText(m));
      // Conversion errors locate a segment by line; say which file too.
      yield e.dead ? { ...e, dead: { ...e.dead, where: `${file}:${e.dead.where ?? ''}`.replace(/:line /, ':') } } : e;
    }
    return;
  }
  const lines = bytes.toString('utf8').replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  const chunks: { text: string[]; startLine: number }[] = [];
  lines.forEach((line, i) => {
    if (/^(FHS|BHS|BTS|FTS)/.test(stripVt(line))) return;
    const last = chunks[chunks.length - 1];
    if (!last || stripVt(line).startsWith('MSH')) chunks.push({ text: [line], startLine: i + 1 });
    else last.text.push(line);
  });
  for (const { text: segs, startLine } of chunks) {
    const text = segs.join('\r');
    if (text.trim() === '') continue;
    try {
      yield hl7Entry(parseHl7(text), text);
    } catch (e) {
      // Line numbers from the parser count within the message; report them within the file.
      const where = isFhirfedError(e) && e.where?.line !== undefined ? { ...e.where, file, line: startLine + e.where.line - 1 } : { file };
      const err = isFhirfedError(e) ? new FhirfedError(e.code, e.message, { where, ...(e.hint ? { hint: e.hint } : {}) }) : e;
      yield unparsedHl7Entry(text, err, `file:${basename(file)}`);
    }
  }
}

function entriesOf(file: string, kind: 'hl7' | 'ndjson' | 'json'): AsyncGenerator<LedgerEntry> {
  if (kind === 'hl7') return hl7FileEntries(file);
  if (kind === 'ndjson') return ndjsonEntries(file);
  return jsonFileEntries(file);
}

/** Reads every input into the ledger and returns what happened. */
export async function ingestPaths(ledger: Ledger, paths: readonly string[], options: { batchSize?: number } = {}): Promise<IngestSummary> {
  const batchSize = options.batchSize ?? 500;
  const summary: IngestSummary = { files: 0, accepted: 0, duplicates: 0, dead: 0, resourceTypes: {}, deadLetters: [] };
  let batch: LedgerEntry[] = [];
  const commit = (): void => {
    const results = ledger.write(batch);
    results.forEach((r, i) => {
      const e = batch[i] as LedgerEntry;
      // A resent input that is still a dead letter counts as dead (so --strict keeps failing until it is fixed).
      if (r.duplicate && r.status !== 'dead') summary.duplicates++;
      else if (r.status === 'dead') {
        summary.dead++;
        summary.deadLetters.push(
          e.dead && !r.duplicate ? { ...e.dead } : { code: 'FHIRFED_ERR_CONFLICT', message: `already stored as dead letter ${r.id}; run \`fhirfed ingest replay\` after fixing the mapping` },
        );
      } else {
        summary.accepted++;
        for (const res of e.resources ?? []) summary.resourceTypes[res.resourceType] = (summary.resourceTypes[res.resourceType] ?? 0) + 1;
      }
    });
    batch = [];
  };
  for (const file of await expandPaths(paths)) {
    const kind = await sniff(file);
    if (kind === 'bulk-log') continue;
    summary.files++;
    for await (const entry of entriesOf(file, kind)) {
      batch.push(entry);
      if (batch.length >= batchSize) commit();
    }
  }
  commit();
  return summary;
}


export { countResources, readResources, Ledger, type ReadResourcesOptions } from './ledger/index.js';
export { startMllpListener, type MllpListener } from './mllp/index.js';
export { bulkExport, pullRest, tokenFromConfig } from './fhir/index.js';
export { replayDeadLetters, type ReplaySummary } from './pipeline.js';
