import type { Command } from 'commander';
import { FhirfedError } from '../../core/errors.js';
import { computeEpsilon, DEFAULT_ORDERS, type RdpConversion } from '../../privacy/rdp.js';
import { action } from '../run.js';

interface EpsilonFlags {
  noiseMultiplier: string;
  sampleRate: string;
  steps: string;
  delta: string;
  conversion: string;
}

/** Parses a command-line number strictly: `1e-5` and `0.01` yes, `1.1x`, `` or `abc` no. */
function num(flag: string, raw: string, check: (x: number) => boolean, expected: string, example: string): number {
  const x = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(x) || !check(x)) {
    throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `must be ${expected} (got '${raw}')`, {
      where: { path: flag },
      hint: `for example ${flag} ${example}`,
    });
  }
  return x;
}

/** `fhirfed privacy epsilon ...`: the RDP accountant from the command line. */
export function register(program: Command): void {
  const p = program.command('privacy').description('differential privacy tools');
  p.command('epsilon')
    .description('epsilon spent by the subsampled Gaussian mechanism (RDP accountant); epsilon alone on the last line')
    .requiredOption('--noise-multiplier <sigma>', 'noise standard deviation / clip norm')
    .requiredOption('--sample-rate <q>', 'sampling probability per step')
    .requiredOption('--steps <t>', 'number of steps (rounds)')
    .requiredOption('--delta <d>', 'target delta')
    .option('--conversion <kind>', "RDP to (epsilon, delta) conversion: 'tight' (Balle et al. 2020) or 'classic'", 'tight')
    .action(
      action((flags: EpsilonFlags) => {
        const sigma = num('--noise-multiplier', flags.noiseMultiplier, (x) => x >= 0, 'a number >= 0', '1.1');
        const q = num('--sample-rate', flags.sampleRate, (x) => x >= 0 && x <= 1, 'a number in [0, 1]', '0.01');
        const steps = num('--steps', flags.steps, (x) => Number.isInteger(x) && x >= 0, 'a whole number >= 0', '1000');
        const delta = num('--delta', flags.delta, (x) => x > 0 && x < 1, 'a number in (0, 1)', '1e-5');
        if (flags.conversion !== 'tight' && flags.conversion !== 'classic') {
          throw new FhirfedError('FHIRFED_ERR_PRIVACY_PARAMS', `--conversion must be 'tight' or 'classic' (got '${flags.conversion}')`, {
            where: { path: '--conversion' },
          });
        }
        const conversion: RdpConversion = flags.conversion;
        const { epsilon, order } = computeEpsilon([{ sampleRate: q, noiseMultiplier: sigma, steps }], delta, { conversion });
        const lo = DEFAULT_ORDERS[0];
        const hi = DEFAULT_ORDERS.at(-1);
        process.stdout.write(
          `Sampled Gaussian mechanism: noise multiplier ${sigma}, sample rate ${q}, ${steps} step(s), delta ${delta}.\n` +
            `RDP accountant (Mironov et al. 2019), ${conversion} conversion, best order ${Number.isNaN(order) ? 'none' : order} ` +
            `of ${DEFAULT_ORDERS.length} in [${lo}, ${hi}]. epsilon:\n` +
            `${Number.isFinite(epsilon) ? epsilon.toPrecision(6) : 'inf'}\n`,
        );
      }),
    );
}
