import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { silentLogger } from '../../src/core/logger.js';
import { Ledger } from '../../src/ingest/ledger/index.js';
import { frame, MllpClient, MllpFrameParser, startMllpListener, type MllpListener } from '../../src/ingest/mllp/index.js';
import { adtA01, readAck } from '../helpers/hl7-adt.js';

let dir: string;
let ledger: Ledger;
let listener: MllpListener;

async function start(mllp: NonNullable<ConfigInput['mllp']>, l = ledger, convertInWorker = true): Promise<MllpListener> {
  const config = configSchema.parse({ storage: { dataDir: dir }, mllp: { host: '127.0.0.1', port: 0, ...mllp } });
  return startMllpListener({ config, ledger: l, logger: silentLogger, convertInWorker });
}

function rows(controlId: string): number {
  return (ledger.db.prepare('SELECT COUNT(*) AS n FROM messages WHERE key = ?').get(controlId) as { n: number }).n;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fhirfed-mllp-'));
  ledger = Ledger.open({ dataDir: dir });
  listener = await start({ maxMessageBytes: 4000, maxConnections: 3 });
});
afterAll(async () => {
  await listener.close();
  ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('MLLP frame parser', () => {
  it('reassembles frames from any chunking, skipping garbage between frames', () => {
    const bytes = Buffer.concat([Buffer.from('noise\r\n'), frame('MSH|A'), Buffer.from('xx'), frame('MSH|B\x1cstill-B'), frame('MSH|C')]);
    for (let size = 1; size <= bytes.length; size++) {
      const p = new MllpFrameParser(1000);
      const frames: string[] = [];
      let garbage = 0;
      for (let i = 0; i < bytes.length; i += size) {
        for (const ev of p.push(bytes.subarray(i, i + size))) {
          if (ev.kind === 'frame') frames.push(ev.data.toString());
          if (ev.kind === 'garbage') garbage += ev.bytes;
        }
      }
      expect(frames).toEqual(['MSH|A', 'MSH|B\x1cstill-B', 'MSH|C']);
      expect(garbage).toBe(9);
    }
  });

  it('drops an unfinished frame when a new one starts, and reports oversized frames with their head', () => {
    const p = new MllpFrameParser(10);
    const evs = p.push(Buffer.concat([Buffer.from('\x0bMSH|lost'), frame('MSH|0123456789ABC'), frame('MSH|ok')]));
    expect(evs.map((e) => e.kind)).toEqual(['garbage', 'oversized', 'frame']);
    const big = evs[1];
    expect(big?.kind === 'oversized' && big.size).toBe(17);
    expect(big?.kind === 'oversized' && big.head.toString()).toBe('MSH|0123456789ABC');
  });
});

describe('MLLP listener', () => {
  it('acknowledges AA after storing, with frames split across many writes and garbage before', async () => {
    const c = await MllpClient.connect({ port: listener.port });
    const bytes = Buffer.concat([Buffer.from('\r\n\r\n'), frame(adtA01('SPLIT1'))]);
    const ackP = c.nextAck();
    // FS and CR in different writes is the classic partial-chunk hazard.
    for (let i = 0; i < bytes.length; i += 7) {
      c.writeRaw(bytes.subarray(i, Math.min(i + 7, bytes.length - 1)));
      await new Promise((r) => setImmediate(r));
    }
    c.writeRaw(bytes.subarray(bytes.length - 1));
    const ack = readAck(await ackP);
    expect(ack).toMatchObject({ code: 'AA', controlId: 'SPLIT1' });
    expect(ack.msh).toContain('ACK^A01^ACK');
    expect(rows('SPLIT1')).toBe(1);
    await c.close();
  });

  it('answers pipelined frames in order', async () => {
    const c = await MllpClient.connect({ port: listener.port });
    const acks = await Promise.all(['P1', 'P2', 'P3', 'P4'].map((id) => c.send(adtA01(id))));
    expect(acks.map((a) => readAck(a).controlId)).toEqual(['P1', 'P2', 'P3', 'P4']);
    await c.close();
  });

  it('refuses an oversized message with AR and an ERR naming the limit, and the connection keeps working', async () => {
    const c = await MllpClient.connect({ port: listener.port });
    const huge = `${adtA01('BIG1')}\rNTE|1||${'x'.repeat(5000)}`;
    const ack = readAck(await c.send(huge));
    expect(ack).toMatchObject({ code: 'AR', controlId: 'BIG1' });
    expect(ack.err).toContain('mllp.maxMessageBytes');
    expect(rows('BIG1')).toBe(0);
    expect(readAck(await c.send(adtA01('AFTERBIG'))).code).toBe('AA');
    await c.close();
  });

  it('answers a malformed message with AE and an ERR naming segment and field', async () => {
    const c = await MllpClient.connect({ port: listener.port });
    const bad = adtA01('BAD1').replace('ADT^A01^ADT_A01', '');
    const ack = readAck(await c.send(bad));
    expect(ack).toMatchObject({ code: 'AE', controlId: 'BAD1' });
    expect(ack.err?.split('|')[2]).toBe('MSH^1^9');
    expect(ack.err).toContain('MSH-9 message type is empty');
    const junk = readAck(await c.send('this is not HL7'));
    expect(junk.code).toBe('AE');
    expect(junk.err).toContain("'thi' is not a segment name");
    expect(rows('BAD1')).toBe(0);
    await c.close();
  });

  it('acknowledges a duplicate control id but stores it once', async () => {
    const c = await MllpClient.connect({ port: listener.port });
    const acks = await Promise.all([c.send(adtA01('DUP1')), c.send(adtA01('DUP1'))]);
    acks.push(await c.send(adtA01('DUP1')));
    expect(acks.map((a) => readAck(a).code)).toEqual(['AA', 'AA', 'AA']);
    expect(rows('DUP1')).toBe(1);
    await c.close();
  });

  it('closes connections beyond mllp.maxConnections', async () => {
    const open = await Promise.all([1, 2, 3].map(() => MllpClient.connect({ port: listener.port })));
    await Promise.all(open.map((c, i) => c.send(adtA01(`CONN${i}`))));
    const extra = await MllpClient.connect({ port: listener.port });
    await expect(extra.send(adtA01('CONN-EXTRA'))).rejects.toThrow(/closed/);
    expect(rows('CONN-EXTRA')).toBe(0);
    await Promise.all(open.map((c) => c.close()));
  });

  it('answers AE, never AA, when the ledger cannot store (disk full, listener thread)', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'fhirfed-mllp-full-'));
    const full = Ledger.open({ dataDir: d2 });
    const l2 = await start({}, full, false);
    try {
      const c = await MllpClient.connect({ port: l2.port });
      expect(readAck(await c.send(adtA01('FULL0'))).code).toBe('AA');
      full.db.pragma(`max_page_count = ${full.db.pragma('page_count', { simple: true }) as number}`);
      const big = `${adtA01('FULL1')}\rNTE|1||${'y'.repeat(20000)}`;
      const ack = readAck(await c.send(big));
      expect(ack).toMatchObject({ code: 'AE', controlId: 'FULL1' });
      expect(ack.err).toMatch(/not stored.*full/);
      await c.close();
    } finally {
      await l2.close();
      full.close();
      rmSync(d2, { recursive: true, force: true });
    }
  });

  it('answers AE, never AA, when the ledger writer thread cannot store (quota reached)', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'fhirfed-mllp-full-'));
    const probe = Ledger.open({ dataDir: d2 });
    const pageSize = probe.db.pragma('page_size', { simple: true }) as number;
    const pages = probe.db.pragma('page_count', { simple: true }) as number;
    probe.close();
    // Room for a small message, not for a 20 kB one: the thread's own connection enforces the quota.
    const full = Ledger.open({ dataDir: d2, maxBytes: (pages + 2) * pageSize });
    const l2 = await start({}, full, true);
    try {
      const c = await MllpClient.connect({ port: l2.port });
      expect(readAck(await c.send(adtA01('FULL0'))).code).toBe('AA');
      const big = `${adtA01('FULL1')}\rNTE|1||${'y'.repeat(20000)}`;
      const ack = readAck(await c.send(big));
      expect(ack).toMatchObject({ code: 'AE', controlId: 'FULL1' });
      expect(ack.err).toMatch(/not stored.*full/);
      // The connection and the thread keep working after the refused commit.
      expect(readAck(await c.send(adtA01('FULL2'))).code).toBe('AA');
      await c.close();
      expect(l2.committer.stats.entries).toBe(2);
    } finally {
      await l2.close();
      full.close();
      rmSync(d2, { recursive: true, force: true });
    }
  });

  for (const worker of [true, false]) {
    it(`converts stored messages to FHIR after the ACK (${worker ? 'worker thread' : 'listener thread'})`, async () => {
      const d2 = mkdtempSync(join(tmpdir(), 'fhirfed-mllp-conv-'));
      const l = Ledger.open({ dataDir: d2 });
      const l2 = await start({}, l, worker);
      try {
        const c = await MllpClient.connect({ port: l2.port });
        for (const id of ['CV1', 'CV2', 'CV3']) expect(readAck(await c.send(adtA01(id))).code).toBe('AA');
        // An unsupported type is stored (AA) and becomes a dead letter for replay after a mapping fix.
        expect(readAck(await c.send(adtA01('CV4').replace('ADT^A01^ADT_A01', 'ADT^A09'))).code).toBe('AA');
        await c.close();
        await l2.close();
        // close() waits for the background conversion: nothing is left `received`.
        expect(l.counts()).toMatchObject({ received: 0, converted: 3, dead: 1 });
        expect(l.deadLetters()[0]).toMatchObject({ code: 'FHIRFED_ERR_HL7_UNSUPPORTED', key: 'CV4' });
      } finally {
        l.close();
        rmSync(d2, { recursive: true, force: true });
      }
    });
  }

  it('uses commit-accept codes in enhanced mode', async () => {
    const l2 = await start({ ackMode: 'enhanced' });
    try {
      const c = await MllpClient.connect({ port: l2.port });
      expect(readAck(await c.send(adtA01('ENH1'))).code).toBe('CA');
      expect(readAck(await c.send('garbage')).code).toBe('CE');
      await c.close();
    } finally {
      await l2.close();
    }
  });

  it('speaks MLLP over TLS when a certificate and key are configured', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const l2 = await start({ tlsCertFile: cert, tlsKeyFile: key });
    try {
      expect(l2.tls).toBe(true);
      const c = await MllpClient.connect({ port: l2.port, tls: { ca: readFileSync(cert), servername: 'localhost' } });
      expect(readAck(await c.send(adtA01('TLS1'))).code).toBe('AA');
      await c.close();
      // A plain-TCP client gets nothing that looks like an ACK.
      const plain = net.connect({ host: '127.0.0.1', port: l2.port });
      await new Promise<void>((resolve) => {
        plain.on('error', () => resolve());
        plain.on('close', () => resolve());
        plain.write(frame(adtA01('PLAIN1')));
      });
      expect(rows('PLAIN1')).toBe(0);
    } finally {
      await l2.close();
    }
  });

  it('refuses TLS config with only one of certificate/key', async () => {
    await expect(start({ tlsCertFile: '/nonexistent.pem' })).rejects.toMatchObject({ code: 'FHIRFED_ERR_CONFIG_INVALID' });
  });
});
