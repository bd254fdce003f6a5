import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = 'bin/fhirfed.js';

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', [BIN, ...args], { cwd: process.cwd() });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

function lastLine(s: string): string {
  return s.trimEnd().split('\n').at(-1) ?? '';
}

describe('fhirfed privacy epsilon', () => {
  it('prints an explanation, then epsilon alone on the last line (Opacus test_rdp_accountant setting: 7.329)', async () => {
    const r = await cli(['privacy', 'epsilon', '--noise-multiplier', '1.5', '--sample-rate', '0.04', '--steps', '2250', '--delta', '1e-5']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    const eps = Number(lastLine(r.stdout));
    expect(lastLine(r.stdout)).toMatch(/^\d+(\.\d+)?$/);
    // The default order list is a superset of Opacus' DEFAULT_ALPHAS, so it may only be (slightly) tighter.
    expect(eps).toBeLessThanOrEqual(7.32911117143 + 1e-4);
    expect(eps).toBeGreaterThan(7.32911117143 * 0.99);
  });

  it('--conversion classic gives the larger, older bound', async () => {
    const base = ['privacy', 'epsilon', '--noise-multiplier', '1.0', '--sample-rate', '0.01', '--steps', '300', '--delta', '1e-5'];
    const tight = Number(lastLine((await cli(base)).stdout));
    const classic = Number(lastLine((await cli([...base, '--conversion', 'classic'])).stdout));
    expect(classic).toBeGreaterThan(tight);
  });

  it.each([
    [['--noise-multiplier', 'abc', '--sample-rate', '0.01', '--steps', '10', '--delta', '1e-5'], /--noise-multiplier.*got 'abc'/],
    [['--noise-multiplier', '1', '--sample-rate', '1.5', '--steps', '10', '--delta', '1e-5'], /--sample-rate.*\[0, 1\]/],
    [['--noise-multiplier', '1', '--sample-rate', '0.01', '--steps', '2.5', '--delta', '1e-5'], /--steps.*whole number/],
    [['--noise-multiplier', '1', '--sample-rate', '0.01', '--steps', '10', '--delta', '0'], /--delta.*\(0, 1\)/],
  ])('rejects invalid numbers clearly and exits non-zero: %j', async (args, pattern) => {
    const r = await cli(['privacy', 'epsilon', ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/FHIRFED_ERR_PRIVACY_PARAMS/);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).toMatch(/hint:/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
