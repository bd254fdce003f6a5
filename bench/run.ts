// `npm run bench [-- name...]`: runs every bench/*.bench.ts (or the named ones) and prints a table of ratios
// against baselines measured in the same run. Results also go to reports/bench.json for the README table.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchResult } from './lib/types.js';

const dir = join(process.cwd(), 'bench');
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.includes(basename(f, '.bench.ts')))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(', ')}; available: ${readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => basename(f, '.bench.ts')).join(', ')}`);
  process.exit(64);
}

const all: (BenchResult & { suite: string })[] = [];
for (const f of files) {
  const suite = basename(f, '.bench.ts');
  console.error(`bench: ${suite} ...`);
  const mod = (await import(pathToFileURL(join(dir, f)).href)) as { run?: () => Promise<BenchResult[]> };
  if (typeof mod.run !== 'function') {
    console.error(`bench: ${f} exports no run(); skipped`);
    continue;
  }
  try {
    for (const r of await mod.run()) all.push({ suite, ...r });
  } catch (e) {
    console.error(`bench: ${suite} failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}

const fmt = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3));
console.log('| suite | benchmark | result | baseline | ratio | notes |');
console.log('|---|---|---|---|---|---|');
for (const r of all) console.log(`| ${r.suite} | ${r.name} | ${fmt(r.value)} ${r.metric} | ${r.baseline} | ${fmt(r.ratio)}x | ${r.notes ?? ''} |`);
mkdirSync('reports', { recursive: true });
writeFileSync(join('reports', 'bench.json'), JSON.stringify({ at: new Date().toISOString(), node: process.version, results: all }, null, 2));
