import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/ingest/ledger/index.js';
import { MllpClient } from '../../src/ingest/mllp/index.js';
import { adtA01, readAck } from '../helpers/hl7-adt.js';

/**
 * The kill -9 drill: a gateway subprocess takes 5,000 messages from several connections and is killed with SIGKILL
 * mid-stream; after a restart the sender resends everything not acknowledged (and a share of what was). The ledger
 * must then hold every message exactly once, and every message that got an AA before the kill.
 */

const TOTAL = 5000;
const CONNECTIONS = 5;
const WINDOW = 16;
const KILL_AFTER = 1500;

const dir = mkdtempSync(join(tmpdir(), 'fhirfed-kill-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function startGateway(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/mllp-gateway.ts', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`gateway exited early with ${code}`)));
  });
}

const ids = Array.from({ length: TOTAL }, (_, i) => `K${String(i).padStart(5, '0')}`);

/** Sends `list` over one connection with up to WINDOW messages in flight; records AAs; stops at the first failure. */
async function sendAll(port: number, list: string[], acked: Set<string>, onAck: () => void): Promise<void> {
  let client: MllpClient;
  try {
    client = await MllpClient.connect({ port });
  } catch {
    return;
  }
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < list.length) {
      const id = list[next++] as string;
      try {
        const ack = readAck(await client.send(adtA01(id)));
        if (ack.code !== 'AA' || ack.controlId !== id) throw new Error(`unexpected ACK ${ack.code} for ${id}`);
        acked.add(id);
        onAck();
      } catch (e) {
        if ((e as Error).message.startsWith('unexpected')) throw e;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  client.destroy();
}

describe('kill -9 drill', () => {
  it('holds every message exactly once after a SIGKILL mid-stream and a resend', async () => {
    const first = await startGateway();
    const ackedBeforeKill = new Set<string>();
    let killed = false;
    const onAck = (): void => {
      if (!killed && ackedBeforeKill.size >= KILL_AFTER) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    };
    const slices = Array.from({ length: CONNECTIONS }, (_, c) => ids.filter((_, i) => i % CONNECTIONS === c));
    await Promise.all(slices.map((s) => sendAll(first.port, s, ackedBeforeKill, onAck)));
    await new Promise<void>((resolve) => (first.child.exitCode !== null || first.child.signalCode ? resolve() : first.child.once('exit', () => resolve())));
    expect(killed).toBe(true);
    expect(first.child.signalCode).toBe('SIGKILL');
    const notAcked = ids.filter((id) => !ackedBeforeKill.has(id));
    expect(notAcked.length).toBeGreaterThan(0);

    // Restart on the same data dir; resend every unacknowledged message and every 4th acknowledged one.
    const second = await startGateway();
    const resend = [...notAcked, ...[...ackedBeforeKill].filter((_, i) => i % 4 === 0)];
    const ackedAfter = new Set<string>();
    const resendSlices = Array.from({ length: CONNECTIONS }, (_, c) => resend.filter((_, i) => i % CONNECTIONS === c));
    await Promise.all(resendSlices.map((s) => sendAll(second.port, s, ackedAfter, () => undefined)));
    expect(ackedAfter.size).toBe(resend.length);
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));

    const ledger = Ledger.open({ dataDir: dir, readonly: true });
    try {
      const keys = (ledger.db.prepare("SELECT key FROM messages WHERE kind = 'hl7v2'").all() as { key: string }[]).map((r) => r.key);
      expect(keys).toHaveLength(TOTAL);
      expect(new Set(keys).size).toBe(TOTAL);
      const stored = new Set(keys);
      expect([...ackedBeforeKill].filter((id) => !stored.has(id))).toEqual([]);
      expect(ledger.counts().converted).toBe(TOTAL);
      expect((ledger.db.pragma('integrity_check', { simple: true }) as string)).toBe('ok');
    } finally {
      ledger.close();
    }
  });
});
