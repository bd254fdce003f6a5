/** A deliberately broken target: the guard's own test (guard.test.ts) checks it catches a hang and a memory blow-up. */
import fc from 'fast-check';
import type { FuzzTarget } from './target.js';

const mode = process.env.FHIRFED_FUZZ_BROKEN ?? 'hang';

export const target: FuzzTarget<number> = {
  name: 'broken',
  arbitrary: () => fc.integer({ min: 0, max: 100 }),
  check: (n) => {
    if (n < 50) return;
    if (mode === 'hang') for (;;);
    const hoard: number[][] = [];
    for (;;) hoard.push(new Array<number>(1_000_000).fill(n));
  },
};
