import { z } from 'zod';
import { defineTransformer, quarantine, type Cell } from './contract.js';

/** Turns a number into a boolean (`hba1c < 53` -> responded), e.g. to derive a binary label from a lab value. */

const OPS = {
  '<': (a: number, b: number) => a < b,
  '<=': (a: number, b: number) => a <= b,
  '>': (a: number, b: number) => a > b,
  '>=': (a: number, b: number) => a >= b,
  '==': (a: number, b: number) => a === b,
  '!=': (a: number, b: number) => a !== b,
} as const;

const params = z.strictObject({
  op: z.enum(['<', '<=', '>', '>=', '==', '!=']),
  value: z.number(),
});

export const thresholdTransformer = defineTransformer({
  name: 'threshold',
  version: '1.0.0',
  description: 'compare a number with a constant, giving a boolean',
  stage: 'feature',
  params,
  create(p) {
    const cmp = OPS[p.op];
    return (cell: Cell) => {
      if (cell.value === null) return cell;
      if (typeof cell.value !== 'number') return quarantine(cell, 'not-a-number', 'threshold needs a number');
      const { unit: _unit, ...rest } = cell;
      return { ...rest, value: cmp(cell.value, p.value) };
    };
  },
});
