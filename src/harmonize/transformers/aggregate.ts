import { z } from 'zod';
import { defineTransformer, quarantine, type Cell, type RowContext } from './contract.js';

/**
 * Reduces a patient's values to one, within a window relative to the index date. `direction: before` (default) takes
 * values up to and including the index date, `days` back at most: a predictor never sees the future. `after` takes
 * values strictly after it, `days` ahead at most: for labels (outcomes). `any` ignores the index date. Without an
 * index date every value counts; values without a date only count when no window applies. Provenance lists every
 * resource that contributed.
 */

const DAY_MS = 86_400_000;

const params = z.strictObject({
  fn: z.enum(['latest', 'earliest', 'mean', 'min', 'max', 'count', 'exists']),
  days: z.number().int().positive().optional(),
  direction: z.enum(['before', 'after', 'any']).default('before'),
});

type Params = z.infer<typeof params>;
type Fn = Params['fn'];

function time(cell: Cell): number | undefined {
  if (!cell.date) return undefined;
  const t = Date.parse(cell.date);
  return Number.isNaN(t) ? undefined : t;
}

function inWindow(cell: Cell, row: RowContext, p: Params): boolean {
  if (!row.indexDate || p.direction === 'any') return true;
  const t = time(cell);
  if (t === undefined) return false;
  const index = row.indexDate.getTime();
  const span = p.days === undefined ? Infinity : p.days * DAY_MS;
  return p.direction === 'before' ? t <= index && t >= index - span : t > index && t <= index + span;
}

function merge(cells: readonly Cell[], value: Cell['value'], unit: string | undefined): Cell {
  const first = cells[0] as Cell;
  const { unit: _u, expand: _e, ...rest } = first;
  return {
    ...rest,
    value,
    ...(unit !== undefined ? { unit } : {}),
    resourceKey: [...new Set(cells.map((c) => c.resourceKey))].join(','),
  };
}

function byTime(a: Cell, b: Cell): number {
  return (time(a) ?? -Infinity) - (time(b) ?? -Infinity);
}

export function aggregateCells(fn: Fn, cells: readonly Cell[]): Cell | null {
  if (cells.length === 0) return null;
  if (fn === 'count' || fn === 'exists') return merge(cells, fn === 'count' ? cells.length : true, undefined);
  if (fn === 'latest' || fn === 'earliest') {
    const sorted = [...cells].sort(byTime);
    const pick = (fn === 'latest' ? sorted[sorted.length - 1] : sorted[0]) as Cell;
    return pick;
  }
  const nums = cells.map((c) => c.value).filter((v): v is number => typeof v === 'number');
  if (nums.length === 0) return null;
  const value = fn === 'mean' ? nums.reduce((a, b) => a + b, 0) / nums.length : fn === 'min' ? Math.min(...nums) : Math.max(...nums);
  return merge(cells, value, cells[0]?.unit);
}

export const aggregateTransformer = defineTransformer({
  name: 'aggregate',
  version: '1.0.0',
  description: 'latest/earliest/mean/min/max/count/exists within N days of the index date',
  stage: 'aggregate',
  params,
  create(p) {
    return (cells: readonly Cell[], row: RowContext) => {
      const inside = cells.filter((c) => inWindow(c, row, p));
      if (inside.length === 0 && (p.fn === 'count' || p.fn === 'exists')) {
        // Records exist but none in the window: a definite 0/false, not missing. No resource supports it.
        return { ...merge(cells, p.fn === 'count' ? 0 : false, undefined), resourceKey: '' };
      }
      if ((p.fn === 'mean' || p.fn === 'min' || p.fn === 'max') && inside.some((c) => typeof c.value !== 'number')) {
        const bad = inside.find((c) => typeof c.value !== 'number') as Cell;
        return quarantine(bad, 'not-a-number', `${p.fn} needs numbers`);
      }
      return aggregateCells(p.fn, inside);
    };
  },
});
