import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ingest/ledger/index.js';
import { MllpClient } from '../../src/ingest/mllp/index.js';
import { adtA01, readAck } from '../helpers/hl7-adt.js';

/**
 * Drill: the ledger's filesystem fills up while a gateway process takes HL7v2 over a real MLLP socket. The ledger lives on a small tmpfs of its own, so the disk is really full (root ignores file modes, so a
 * chmod would prove nothing). The listener must answer AE, never AA, for what it could not store, stay up, and
 * take messages again once space is back; everything acknowledged with AA is in the ledger exactly once.
 * Needs permission to mount a tmpfs (root with CAP_SYS_ADMIN); otherwise the drill is skipped with that reason and
 * test/ingest/ledger.test.ts covers the same errors in-process. A read-only ledger is covered there too: a tmpfs
 * cannot be remounted read-only while SQLite holds its files open for writing (EBUSY).
 */

const root = mkdtempSync(join(tmpdir(), 'fhirfed-full-'));
const mnt = join(root, 'mnt');
mkdirSync(mnt);
const canMount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]).status === 0;
const dataDir = join(mnt, 'data');
let child: ChildProcess | undefined;

/** A message big enough (~3 KB) that a full disk cannot absorb a run of them in already allocated pages. */
const bigMessage = (id: string): string => `${adtA01(id)}\rNTE|1||${'x'.repeat(3000)}`;

function startGateway(): Promise<{ child: ChildProcess; port: number }> {
  const c = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/mllp-gateway.ts', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  child = c;
  return new Promise((resolve, reject) => {
    let out = '';
    c.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve({ child: c, port: Number(m[1]) });
    });
    c.once('exit', (code) => reject(new Error(`gateway exited early with ${code}`)));
  });
}

/** Fills the filesystem: writes until ENOSPC. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

async function sendAll(client: MllpClient, ids: readonly string[]): Promise<Map<string, string>> {
  const codes = new Map<string, string>();
  for (const id of ids) {
    const ack = readAck(await client.send(bigMessage(id)));
    expect(ack.controlId).toBe(id);
    codes.set(id, ack.code);
  }
  return codes;
}

beforeAll(() => {
  if (canMount) mkdirSync(dataDir);
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child?.once('exit', r));
  }
  if (canMount) spawnSync('umount', ['-l', mnt]);
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!canMount)('drill: disk full under MLLP ingest (needs to mount a tmpfs)', () => {
  it('answers AE (never AA) for what it cannot store, stays up, and resumes when the condition clears', async () => {
    const gw = await startGateway();
    const client = await MllpClient.connect({ port: gw.port });
    const aa = new Set<string>();
    const record = (codes: Map<string, string>): void => {
      for (const [id, code] of codes) if (code === 'AA') aa.add(id);
    };

    const before = await sendAll(client, Array.from({ length: 10 }, (_, i) => `F0-${i}`));
    expect([...before.values()].every((c) => c === 'AA')).toBe(true);
    record(before);

    // Disk full.
    fill(join(mnt, 'filler'));
    const full = await sendAll(client, Array.from({ length: 120 }, (_, i) => `F1-${i}`));
    record(full);
    const codes = new Set(full.values());
    expect(codes.has('AE'), `ACK codes while full: ${[...codes].join(',')}`).toBe(true);
    expect([...codes].every((c) => c === 'AA' || c === 'AE')).toBe(true);
    expect(gw.child.exitCode).toBeNull();

    // Space is back: the same connection takes messages again, and the refused ones can be resent.
    rmSync(join(mnt, 'filler'));
    const refused = [...full].filter(([, c]) => c === 'AE').map(([id]) => id);
    const after = await sendAll(client, [...refused.slice(0, 20), ...Array.from({ length: 10 }, (_, i) => `F2-${i}`)]);
    expect([...after.values()].every((c) => c === 'AA'), JSON.stringify([...after])).toBe(true);
    record(after);

    await client.close();
    gw.child.kill('SIGTERM');
    await new Promise((r) => gw.child.once('exit', r));
    const ledger = Ledger.open({ dataDir, readonly: true });
    try {
      const keys = (ledger.db.prepare("SELECT key FROM messages WHERE kind = 'hl7v2'").all() as { key: string }[]).map((r) => r.key);
      // Nothing acknowledged is lost, nothing is stored twice.
      expect([...aa].filter((id) => !keys.includes(id))).toEqual([]);
      expect(new Set(keys).size).toBe(keys.length);
      expect(ledger.db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      ledger.close();
    }
  }, 120_000);
});
