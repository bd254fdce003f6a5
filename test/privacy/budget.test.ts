import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FhirfedError } from '../../src/core/errors.js';
import { BudgetLedger } from '../../src/privacy/budget.js';
import { computeEpsilon } from '../../src/privacy/rdp.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fhirfed-budget-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const round = { sampleRate: 0.5, noiseMultiplier: 3, steps: 1 };

describe('BudgetLedger', () => {
  it('records spend per round, persists it as JSON and reloads it', async () => {
    const path = join(dir, 'privacy-ledger.json');
    const ledger = await BudgetLedger.open(path, { epsilon: 8, delta: 1e-5 });
    expect(ledger.spent()).toBe(0);
    await ledger.record('r1', [round]);
    await ledger.record('r2', [round]);
    const expected = computeEpsilon([round, round], 1e-5).epsilon;
    expect(ledger.spent()).toBeCloseTo(expected, 10);

    const onDisk = JSON.parse(await readFile(path, 'utf8')) as { version: number; entries: { round: string }[] };
    expect(onDisk.version).toBe(1);
    expect(onDisk.entries.map((e) => e.round)).toEqual(['r1', 'r2']);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const reopened = await BudgetLedger.open(path, { epsilon: 8, delta: 1e-5 });
    expect(reopened.spent()).toBeCloseTo(expected, 10);
    expect(reopened.status()).toMatchObject({ rounds: 2, lastRound: 'r2', epsilonBudget: 8, delta: 1e-5 });
    expect(reopened.status().epsilonRemaining).toBeCloseTo(8 - expected, 10);
  });

  it('refuses a job that would exceed the budget, with the spend, the projection and the budget in the message', async () => {
    const path = join(dir, 'ledger.json');
    const ledger = await BudgetLedger.open(path, { epsilon: 3, delta: 1e-5 });
    const oneRound = computeEpsilon([round], 1e-5).epsilon;
    expect(oneRound).toBeLessThan(3);
    let rounds = 0;
    // Spend until the next round would not fit.
    while (ledger.project([round]) <= 3) {
      await ledger.record(`r${rounds}`, [round]);
      rounds++;
    }
    expect(rounds).toBeGreaterThan(0);
    const spentBefore = ledger.spent();
    let err: unknown;
    try {
      ledger.assertCanSpend(round);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FhirfedError);
    const fe = err as FhirfedError;
    expect(fe.code).toBe('FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED');
    expect(fe.message).toContain(ledger.project([round]).toPrecision(4));
    expect(fe.message).toContain(spentBefore.toPrecision(4));
    expect(fe.message).toContain('budget of 3.000');
    expect(fe.message).toContain(`over ${rounds} round(s)`);
    expect(fe.hint).toMatch(/noise multiplier/);

    // record() applies the same refusal and does not write anything.
    await expect(ledger.record('too-much', [round])).rejects.toMatchObject({ code: 'FHIRFED_ERR_PRIVACY_BUDGET_EXCEEDED' });
    expect(ledger.status().rounds).toBe(rounds);
    const reopened = await BudgetLedger.open(path, { epsilon: 3, delta: 1e-5 });
    expect(reopened.status().rounds).toBe(rounds);
  });

  it('refuses a single job that alone exceeds an empty budget', async () => {
    const ledger = await BudgetLedger.open(join(dir, 'l.json'), { epsilon: 1, delta: 1e-5 });
    expect(() => ledger.assertCanSpend({ sampleRate: 0.04, noiseMultiplier: 1.5, steps: 2250 })).toThrow(/would bring epsilon to 7\.\d+/);
  });

  it('charges a round once', async () => {
    const ledger = await BudgetLedger.open(join(dir, 'l.json'), { epsilon: 8, delta: 1e-5 });
    await ledger.record('r1', [round]);
    await expect(ledger.record('r1', [round])).rejects.toMatchObject({ code: 'FHIRFED_ERR_CONFLICT' });
  });

  it('rejects a corrupt or malformed ledger file with where + hint instead of silently resetting the spend', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{"version":1,"budget":');
    await expect(BudgetLedger.open(path, { epsilon: 8, delta: 1e-5 })).rejects.toMatchObject({
      code: 'FHIRFED_ERR_VALIDATION',
      where: { file: path },
    });
    await writeFile(path, JSON.stringify({ version: 1, budget: { epsilon: 8, delta: 1e-5 }, entries: [{ round: 'r', events: 'x' }] }));
    await expect(BudgetLedger.open(path, { epsilon: 8, delta: 1e-5 })).rejects.toMatchObject({ code: 'FHIRFED_ERR_VALIDATION' });
  });

  it('rejects an invalid budget from config', async () => {
    await expect(BudgetLedger.open(join(dir, 'x.json'), { epsilon: 0, delta: 1e-5 })).rejects.toMatchObject({
      code: 'FHIRFED_ERR_CONFIG_INVALID',
    });
  });
});
