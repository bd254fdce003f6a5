/**
 * Worker-thread entry: converts stored-but-unconverted v2 messages on its own ledger connection, so the v2 -> FHIR
 * CPU cost runs on another core and the listener's thread only parses, commits and ACKs. Messages from the parent:
 * 'kick' (new messages were stored), 'close' (convert what is left, close, exit).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Ledger } from '../ledger/index.js';
import { convertPending } from '../pipeline.js';

const { dataDir } = workerData as { dataDir: string };
const ledger = Ledger.open({ dataDir });
const port = parentPort;

function runOnce(): void {
  try {
    while (convertPending(ledger, 25) > 0) {
      // keep going until nothing is pending
    }
  } catch (e) {
    port?.postMessage({ error: e instanceof Error ? e.message : String(e) });
  }
}

runOnce();
port?.on('message', (m: unknown) => {
  runOnce();
  if (m === 'close') {
    ledger.close();
    port.close();
  } else port.postMessage('idle');
});
