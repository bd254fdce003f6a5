import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Patient } from 'fhir/r4.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FhirfedError } from '../../src/core/errors.js';
import { parseHl7 } from '../../src/ingest/hl7v2/index.js';
import { GroupCommitter, Ledger, readResources } from '../../src/ingest/ledger/index.js';
import { fhirEntry, hl7Entry, replayDeadLetters } from '../../src/ingest/pipeline.js';
import { adtA01 } from '../helpers/hl7-adt.js';

let dir: string;
let ledger: Ledger;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fhirfed-ledger-'));
  ledger = Ledger.open({ dataDir: dir });
});
afterEach(() => {
  ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ledger', () => {
  it('runs in WAL mode with synchronous FULL at storage.dataDir/ledger.sqlite', () => {
    expect(ledger.file).toBe(join(dir, 'ledger.sqlite'));
    expect(ledger.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(ledger.db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('stores a v2 message with its converted resources, and a duplicate control id only once', () => {
    const raw = adtA01('C1');
    const [first] = ledger.write([hl7Entry(parseHl7(raw), raw)]);
    const [again] = ledger.write([hl7Entry(parseHl7(raw), raw)]);
    expect(first).toMatchObject({ duplicate: false, status: 'converted' });
    expect(again).toMatchObject({ duplicate: true, id: first?.id });
    expect(ledger.counts().converted).toBe(1);
    // Same control id from another sender is a different message.
    const other = adtA01('C1', 'PX', 'RAD^HOSP');
    expect(ledger.write([hl7Entry(parseHl7(other), other)])[0]?.duplicate).toBe(false);
  });

  it('dedupes FHIR resources by type/id + version and keeps the latest version readable', async () => {
    const v1: Patient = { resourceType: 'Patient', id: 'p1', meta: { versionId: '1', lastUpdated: '2024-01-01T00:00:00Z' }, gender: 'male' };
    const v2: Patient = { ...v1, meta: { versionId: '2', lastUpdated: '2024-02-01T00:00:00Z' }, gender: 'female' };
    const res = ledger.write([fhirEntry(v2, 'test'), fhirEntry(v1, 'test'), fhirEntry(v1, 'test')]);
    expect(res.map((r) => r.duplicate)).toEqual([false, false, true]);
    const all = [];
    for await (const r of readResources(ledger, { types: ['Patient'] })) all.push(r);
    expect(all).toHaveLength(1);
    expect((all[0] as Patient).gender).toBe('female');
  });

  it('pages through many resources and filters by type', async () => {
    const entries = Array.from({ length: 1203 }, (_, i) => fhirEntry({ resourceType: i % 2 ? 'Patient' : 'Condition', id: `r${i}` }, 'test'));
    ledger.write(entries);
    let patients = 0;
    for await (const r of readResources(ledger, { types: ['Patient'], pageSize: 100 })) {
      expect(r.resourceType).toBe('Patient');
      patients++;
    }
    expect(patients).toBe(601);
    let all = 0;
    for await (const _ of readResources(ledger)) all++;
    expect(all).toBe(1203);
  });

  it('keeps dead letters with structured reasons and replays them', () => {
    const bad = fhirEntry({ resourceType: 'Patient', id: 'has space' }, 'file.ndjson', 'file.ndjson:3');
    const [r] = ledger.write([bad]);
    expect(r?.status).toBe('dead');
    const letters = ledger.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ code: 'FHIRFED_ERR_FHIR_INVALID', kind: 'fhir' });
    expect(letters[0]?.message).toContain('Patient.id');
    expect(letters[0]?.where).toContain('file.ndjson:3');
    // Replaying without a fix leaves it dead with one more attempt.
    const s1 = replayDeadLetters(ledger);
    expect(s1).toMatchObject({ attempted: 1, converted: 0 });
    expect(ledger.deadLetters()[0]?.attempts).toBe(2);
    // "Fix the mapping": here, repair the stored payload the way a new converter would read it.
    ledger.db.prepare('UPDATE messages SET payload = ? WHERE id = ?').run(JSON.stringify({ resourceType: 'Patient', id: 'fixed' }), r?.id);
    const s2 = replayDeadLetters(ledger, { code: 'FHIRFED_ERR_FHIR_INVALID' });
    expect(s2).toMatchObject({ attempted: 1, converted: 1 });
    expect(ledger.deadLetters()).toHaveLength(0);
    expect(ledger.counts()).toMatchObject({ dead: 0, converted: 1 });
  });

  it('records an unsupported v2 message type as a dead letter naming MSH-9', () => {
    const raw = adtA01('C9').replace('ADT^A01^ADT_A01', 'ZZZ^Z99');
    ledger.write([hl7Entry(parseHl7(raw), raw)]);
    const [d] = ledger.deadLetters({ kind: 'hl7v2' });
    expect(d).toMatchObject({ code: 'FHIRFED_ERR_HL7_UNSUPPORTED', key: 'C9' });
    expect(d?.where).toContain('MSH-9');
  });

  it('group commit resolves each submitter after one shared transaction', async () => {
    const gc = new GroupCommitter(ledger);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const raw = adtA01(`G${i % 40}`);
        return gc.submit(hl7Entry(parseHl7(raw), raw));
      }),
    );
    expect(results.filter((r) => r.duplicate)).toHaveLength(10);
    expect(gc.stats.batches).toBe(1);
    expect(ledger.counts().converted).toBe(40);
  });

  it('reports a full disk as FHIRFED_ERR_LEDGER and rejects every waiting submitter', async () => {
    ledger.write([fhirEntry({ resourceType: 'Patient', id: 'seed' }, 'test')]);
    const pages = ledger.db.pragma('page_count', { simple: true }) as number;
    ledger.db.pragma(`max_page_count = ${pages}`);
    const big = Array.from({ length: 200 }, (_, i) => fhirEntry({ resourceType: 'Patient', id: `b${i}`, text: { status: 'generated', div: 'x'.repeat(2000) } }, 'test'));
    const gc = new GroupCommitter(ledger);
    const settled = await Promise.allSettled(big.map((e) => gc.submit(e)));
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
    const reason = (settled[0] as PromiseRejectedResult).reason as FhirfedError;
    expect(reason).toBeInstanceOf(FhirfedError);
    expect(reason.code).toBe('FHIRFED_ERR_LEDGER');
    expect(reason.message).toMatch(/disk .* full/);
    // Nothing of the failed batch is half-stored.
    expect(ledger.counts().converted).toBe(1);
  });

  it('reports a read-only ledger as FHIRFED_ERR_LEDGER', () => {
    const ro = Ledger.open({ dataDir: dir, readonly: true });
    try {
      expect(() => ro.write([fhirEntry({ resourceType: 'Patient', id: 'x' }, 'test')])).toThrowError(
        expect.objectContaining({ code: 'FHIRFED_ERR_LEDGER', message: expect.stringContaining('read-only') }),
      );
    } finally {
      ro.close();
    }
  });

  it('lists unconverted messages after a given id (the writer thread hands them out in order)', () => {
    const raws = ['Q1', 'Q2', 'Q3'].map((id) => adtA01(id));
    const ids = ledger.write(raws.map((raw) => hl7Entry(parseHl7(raw), raw, { convert: false }))).map((r) => r.id);
    expect(ledger.pending(10).map((m) => m.messageId)).toEqual(ids);
    expect(ledger.pending(10, ids[0]).map((m) => m.messageId)).toEqual(ids.slice(1));
    expect(ledger.pending(1, ids[0])).toMatchObject([{ messageId: ids[1], kind: 'hl7v2', payload: raws[1] }]);
  });

  it('enforces a byte quota (maxBytes) as FHIRFED_ERR_LEDGER "disk full"', () => {
    const pages = ledger.db.pragma('page_count', { simple: true }) as number;
    const pageSize = ledger.db.pragma('page_size', { simple: true }) as number;
    const small = Ledger.open({ dataDir: dir, maxBytes: (pages + 1) * pageSize });
    try {
      const big = fhirEntry({ resourceType: 'Patient', id: 'q', text: { status: 'generated', div: 'x'.repeat(20000) } }, 'test');
      expect(() => small.write([big])).toThrowError(expect.objectContaining({ code: 'FHIRFED_ERR_LEDGER', message: expect.stringMatching(/full/) }));
      expect(small.options.maxBytes).toBe((pages + 1) * pageSize);
    } finally {
      small.close();
    }
  });

  it('keeps sync checkpoints', () => {
    expect(ledger.getCheckpoint('fhir:Patient')).toBeUndefined();
    ledger.setCheckpoint('fhir:Patient', '2024-01-01T00:00:00Z');
    ledger.setCheckpoint('fhir:Patient', '2024-02-01T00:00:00Z');
    expect(ledger.getCheckpoint('fhir:Patient')).toBe('2024-02-01T00:00:00Z');
  });

  it('refuses a data dir that is a file with a clear error', () => {
    expect(() => Ledger.open({ dataDir: join(dir, 'ledger.sqlite', 'nested') })).toThrowError(expect.objectContaining({ code: 'FHIRFED_ERR_LEDGER' }));
  });
});
