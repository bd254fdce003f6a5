import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(process.cwd(), 'bin', 'fhirfed.js');

interface Report {
  sites: { id: string; rows: number; fillRate: number; quarantined: number }[];
  rounds: { round: number; sites: string[]; metrics: Record<string, { f1: number; auroc: number }>; epsilon: Record<string, number> }[];
  budget: { epsilon: number; delta: number };
}

describe('fhirfed demo (a short federation as a subprocess)', () => {
  it('runs 2 rounds with 4 gateway processes and writes a report whose JSON holds what the page shows', () => {
    const out = mkdtempSync(join(tmpdir(), 'fhirfed-demo-'));
    // Epsilon 10 over 2 rounds + 1 spare plans about the noise 2 rounds within epsilon 8 did before the spare round.
    const r = spawnSync(process.execPath, [BIN, 'demo', '--rounds', '2', '--patients', '150', '--epsilon', '10', '--out', out], {
      encoding: 'utf8',
      env: { ...process.env },
      timeout: 600_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    // It says where the report is.
    const printed = /open (\S+index\.html) in a browser/.exec(r.stdout)?.[1];
    expect(printed).toBeTruthy();
    expect(existsSync(printed as string)).toBe(true);
    const dir = join(out, readdirSync(out).find((d) => d.startsWith('demo-')) as string);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;

    expect(report.sites.map((s) => s.id).sort()).toEqual(['demo-hospital-c', 'demo-hospital-d', 'hospital-a', 'hospital-b']);
    for (const s of report.sites) expect(s.rows).toBeGreaterThan(50);
    // The low-quality site is visibly worse and has quarantined values.
    const d = report.sites.find((s) => s.id === 'demo-hospital-d');
    expect(d?.quarantined).toBeGreaterThan(0);
    expect(d?.fillRate).toBeLessThan(Math.min(...report.sites.filter((s) => s.id !== 'demo-hospital-d').map((s) => s.fillRate)));

    expect(report.rounds.map((x) => x.round)).toEqual([1, 2]);
    for (const round of report.rounds) {
      expect(round.sites.length).toBeGreaterThanOrEqual(3);
      for (const head of ['drug_response', 'adverse_event']) {
        const m = round.metrics[head];
        expect(m?.auroc).toBeGreaterThan(0);
        expect(m?.auroc).toBeLessThanOrEqual(1);
        expect(m?.f1).toBeGreaterThan(0);
      }
      for (const eps of Object.values(round.epsilon)) {
        expect(eps).toBeGreaterThan(0);
        expect(eps).toBeLessThanOrEqual(report.budget.epsilon);
      }
    }
    // Small sites and DP noise after 2 rounds: the model is still better than chance on average over the heads.
    const last = report.rounds[report.rounds.length - 1];
    const meanAuroc = ((last?.metrics.drug_response?.auroc ?? 0) + (last?.metrics.adverse_event?.auroc ?? 0)) / 2;
    expect(meanAuroc).toBeGreaterThan(0.6);
    // Privacy spend grows with rounds.
    const [e1, e2] = report.rounds.map((x) => Math.max(...Object.values(x.epsilon)));
    expect(e2).toBeGreaterThan(e1 as number);

    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    expect(html).toMatch(/<svg[^>]+role="img"/);
    expect(html).toContain('AUROC');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  }, 600_000);
});
