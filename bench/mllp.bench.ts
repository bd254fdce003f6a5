// MLLP sustained throughput with commit-before-ACK: 8 concurrent senders on loopback against the real listener and
// ledger (WAL, synchronous=FULL, group commit on the ledger writer thread). Senders share the listener's thread by
// default (as in earlier runs); MLLP_BENCH_SENDERS=thread puts them on their own thread, like an interface engine in
// its own process (on a loaded 2-core machine that extra thread mostly adds contention). Baseline in the same run: a raw TCP server echoing the same frames (framing only, no parse, no storage).
// ratio = mllp msgs/s / echo msgs/s. Standalone: `npx tsx bench/mllp.bench.ts`.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { configSchema } from '../src/config/schema.js';
import { silentLogger } from '../src/core/logger.js';
import { Ledger } from '../src/ingest/ledger/index.js';
import { MllpClient, MllpFrameParser, frame, startMllpListener } from '../src/ingest/mllp/index.js';
import type { BenchResult } from './lib/types.js';

const SENDERS = 8;
const MESSAGES = Number(process.env.MLLP_BENCH_MESSAGES ?? 6000);
/** FULL is what the gateway runs; NORMAL only to see what the fsync costs on this disk. */
const SYNC = process.env.MLLP_BENCH_SYNC === 'NORMAL' ? 'NORMAL' : 'FULL';
/** Messages in flight per sender: 1 is classic MLLP (wait for each ACK); more is a pipelining interface engine. */
const WINDOWS = [1, 4, 16];
const SENDER_THREAD = process.env.MLLP_BENCH_SENDERS === 'thread';

function oru(controlId: string): string {
  const obx = Array.from({ length: 5 }, (_, i) => `OBX|${i + 1}|NM|2345-7^Glucose^LN||${90 + i}|mg/dL|70-100|N|||F`);
  return [
    `MSH|^~\\&|LAB|HOSP|FHIRFED|SITE|20240101120000||ORU^R01^ORU_R01|${controlId}|P|2.5.1`,
    `PID|1||PAT${controlId.slice(-3)}^^^HOSP^MR||DOE^JANE||19800101|F`,
    `OBR|1|ORD${controlId}|FIL${controlId}|24323-8^Comprehensive metabolic panel^LN|||20240101110000`,
    ...obx,
  ].join('\r');
}

interface Run {
  readonly msgsPerSec: number;
  readonly p50: number;
  readonly p99: number;
}

/** 8 senders, each with `window` messages in flight (1 = classic MLLP: wait for the ACK before the next). */
async function drive(port: number, prefix: string, window: number): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      const client = await MllpClient.connect({ port });
      await Promise.all(
        Array.from({ length: window }, async () => {
          while (next < MESSAGES) {
            const msg = oru(`${prefix}${next++}`);
            const s = performance.now();
            await client.send(msg);
            latencies.push(performance.now() - s);
          }
        }),
      );
      client.destroy();
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return { msgsPerSec: MESSAGES / secs, p50: q(0.5), p99: q(0.99) };
}

/** Runs `drive` here, or on a sender thread (which loads this file through tsx) with MLLP_BENCH_SENDERS=thread. */
function driveSenders(port: number, prefix: string, window: number): Promise<Run> {
  if (!SENDER_THREAD) return drive(port, prefix, window);
  const self = JSON.stringify(import.meta.url);
  return new Promise((resolve, reject) => {
    const w = new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${self}); });`, {
      eval: true,
      workerData: { port, prefix, window },
    });
    w.once('message', (r: Run) => resolve(r));
    w.once('error', reject);
  });
}

/** The baseline: same framing, each frame echoed back at once. */
async function echoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const parser = new MllpFrameParser(1024 * 1024);
    socket.on('data', (chunk: Buffer) => {
      for (const ev of parser.push(chunk)) if (ev.kind === 'frame') socket.write(frame(ev.data));
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as net.AddressInfo;
  return { port: addr.port, close: () => new Promise((r) => server.close(() => r())) };
}

async function mllpRun(window: number, prefix: string): Promise<Run & { batch: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'fhirfed-bench-mllp-'));
  const ledger = Ledger.open({ dataDir: dir, synchronous: SYNC });
  const listener = await startMllpListener({ config: configSchema.parse({ mllp: { host: '127.0.0.1', port: 0 } }), ledger, logger: silentLogger });
  try {
    const r = await driveSenders(listener.port, prefix, window);
    const { batches, entries } = listener.committer.stats;
    return { ...r, batch: entries / Math.max(1, batches) };
  } finally {
    await listener.close();
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult[]> {
  const echo = await echoServer();
  const results: BenchResult[] = [];
  try {
    for (const window of WINDOWS) {
      const base = await driveSenders(echo.port, 'E', window);
      const m = await mllpRun(window, `W${window}-`);
      results.push({
        name: `MLLP ORU^R01 ingest, ${SENDERS} senders x ${window} in flight, ACK after fsync`,
        metric: 'msgs/s',
        value: Math.round(m.msgsPerSec),
        baseline: `raw TCP echo of the same frames: ${Math.round(base.msgsPerSec)} msgs/s`,
        ratio: m.msgsPerSec / base.msgsPerSec,
        notes: `p50 ${m.p50.toFixed(1)} ms, p99 ACK latency ${m.p99.toFixed(1)} ms; ${m.batch.toFixed(1)} msgs per commit; ${MESSAGES} messages, WAL synchronous=${SYNC}; senders on ${SENDER_THREAD ? 'their own' : 'the listener'} thread`,
      });
    }
  } finally {
    await echo.close();
  }
  return results;
}

if (!isMainThread && workerData && typeof (workerData as { port?: unknown }).port === 'number') {
  const { port, prefix, window } = workerData as { port: number; prefix: string; window: number };
  parentPort?.postMessage(await drive(port, prefix, window));
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await run()) console.log(JSON.stringify(r));
}
