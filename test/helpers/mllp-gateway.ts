/**
 * A gateway with only the ledger and the MLLP listener, run as a subprocess by the kill -9 drill:
 * `node --import tsx test/helpers/mllp-gateway.ts <dataDir> [port]`. Prints `LISTENING <port>` when ready.
 */
import { configSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/core/logger.js';
import { Ledger } from '../../src/ingest/ledger/index.js';
import { startMllpListener } from '../../src/ingest/mllp/index.js';

const [dataDir, portArg] = process.argv.slice(2);
if (!dataDir) {
  process.stderr.write('usage: mllp-gateway.ts <dataDir> [port]\n');
  process.exit(64);
}
const config = configSchema.parse({
  storage: { dataDir },
  mllp: { enabled: true, host: '127.0.0.1', port: Number(portArg ?? 0) },
});
const ledger = Ledger.open({ dataDir });
const listener = await startMllpListener({ config, ledger, logger: silentLogger });
process.stdout.write(`LISTENING ${listener.port}\n`);
process.on('SIGTERM', () => {
  void listener.close().then(() => {
    ledger.close();
    process.exit(0);
  });
});
