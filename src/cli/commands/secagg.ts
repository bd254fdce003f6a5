import type { Command } from 'commander';
import { FhirfedError } from '../../core/errors.js';
import { generatePaillierKeyFiles, PAILLIER_PRIVATE_FILE, PAILLIER_PUBLIC_FILE } from '../../secagg/index.js';
import { action } from '../run.js';

/** `fhirfed secagg paillier-keygen --out DIR [--bits 2048]`: the federation's Paillier key pair. */
export function register(program: Command): void {
  const s = program.command('secagg').description('secure aggregation tools');
  s.command('paillier-keygen')
    .description(`create the federation's Paillier key pair: ${PAILLIER_PUBLIC_FILE} (aggregator and every site) and ${PAILLIER_PRIVATE_FILE} (mode 0600, decrypting sites only); never overwrites`)
    .requiredOption('--out <dir>', 'existing folder to write the two files into')
    .option('--bits <n>', 'modulus size in bits', '2048')
    .action(
      action(async (flags: { out: string; bits: string }) => {
        const bits = /^\d{1,5}$/.test(flags.bits.trim()) ? Number(flags.bits) : NaN;
        if (!Number.isInteger(bits)) {
          throw new FhirfedError('FHIRFED_ERR_BAD_REQUEST', `--bits must be a whole number (got '${flags.bits}')`, { where: { path: '--bits' }, hint: 'for example --bits 2048' });
        }
        const r = await generatePaillierKeyFiles(flags.out, bits);
        process.stdout.write(
          `Paillier key pair (${bits} bits, fingerprint ${r.fingerprint}):\n` +
            `  public:  ${r.publicFile}  -> aggregator task.secagg.paillierPublicKeyFile and every site's secagg.paillierPublicKeyFile\n` +
            `  private: ${r.privateFile}  (mode 0600) -> secagg.paillierPrivateKeyFile of the sites allowed to decrypt; never the aggregator\n`,
        );
      }),
    );
}
