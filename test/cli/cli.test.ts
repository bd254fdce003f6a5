import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(process.cwd(), 'bin', 'fhirfed.js');

function fhirfed(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const COMMANDS = [
  ['serve'],
  ['worker'],
  ['aggregator'],
  ['view'],
  ['hl7', 'to-fhir'],
  ['mappings', 'validate'],
  ['mappings', 'dry-run'],
  ['ingest'],
  ['train'],
  ['status'],
  ['privacy', 'epsilon'],
  ['demo'],
];

describe('fhirfed CLI', () => {
  it('lists every command in --help', () => {
    const top = fhirfed(['--help']);
    expect(top.code).toBe(0);
    for (const [cmd] of COMMANDS) expect(top.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
    expect(fhirfed(['hl7', '--help']).stdout).toMatch(/to-fhir/);
    const m = fhirfed(['mappings', '--help']).stdout;
    expect(m).toMatch(/validate/);
    expect(m).toMatch(/dry-run/);
    expect(fhirfed(['privacy', '--help']).stdout).toMatch(/epsilon/);
  });

  it.each(COMMANDS.map((c) => [c.join(' '), c]))('%s --help exits 0 with a usage line', (_name, cmd) => {
    const r = fhirfed([...(cmd as string[]), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: fhirfed /m);
  });

  it('serve with an invalid config names the key and reason, exits non-zero, and prints no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fhirfed-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server:\n  port: -5\nprivacy:\n  mode: maybe\n');
    const r = fhirfed(['serve', '--config', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/server\.port/);
    expect(r.stderr).toMatch(/>=0|>= 0|too small/i);
    expect(r.stderr).toMatch(/privacy\.mode/);
    expect(r.stderr).toMatch(/bad\.yaml:2/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('serve with a missing config file says so without a stack trace', () => {
    const r = fhirfed(['serve', '--config', '/nonexistent/fhirfed.yaml']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cannot read config file/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('an unknown command is refused with usage help', () => {
    const r = fhirfed(['frobnicate']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command/);
  });
});
