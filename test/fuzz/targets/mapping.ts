/**
 * Fuzz target: mapping loading. A copy of the shipped mappings lives in a temp folder; each case writes a mutated
 * site.yaml of one shipped site and loads it with loadSiteMapping. Contract: a LoadResult whose problems each name a
 * file, a known error code and a message (or a loaded mapping when there are none); a FhirfedError at most; never
 * any other exception.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ERROR_CODES } from '../../../src/core/errors.js';
import { listSites, loadSiteMapping } from '../../../src/harmonize/mapping.js';
import { Tally, type FuzzTarget } from '../harness/target.js';
import { expectThat, typedOrResultAsync } from '../harness/typed.js';
import { mutateYaml, yamlMutation } from './yaml-mutations.js';

export interface MappingInput {
  /** `.` for mappings/, `heart` for mappings/heart. */
  readonly root: '.' | 'heart';
  readonly site: string;
  readonly text: string;
}

const SHIPPED = join(import.meta.dirname, '../../../mappings');
const shipped = (['.', 'heart'] as const).flatMap((root) =>
  listSites(join(SHIPPED, root)).map((site) => ({ root, site, text: readFileSync(join(SHIPPED, root, 'sites', site, 'site.yaml'), 'utf8') })),
);
const tally = new Tally();
let work: string | undefined;

async function check(input: MappingInput): Promise<void> {
  if (!work) throw new Error('setup did not run');
  const root = join(work, input.root);
  const file = join(root, 'sites', input.site, 'site.yaml');
  writeFileSync(file, input.text);
  const r = await typedOrResultAsync('loadSiteMapping', () => loadSiteMapping(root, input.site));
  if (!r.ok) {
    tally.add(`threw ${r.error.code}`);
    return;
  }
  for (const p of r.value.problems) {
    expectThat(p.code in ERROR_CODES, `problem with unknown code ${String(p.code)}`);
    expectThat(typeof p.file === 'string' && p.file.length > 0, `problem without a file: ${JSON.stringify(p)}`);
    expectThat(typeof p.message === 'string' && p.message.length > 0, `problem without a message: ${JSON.stringify(p)}`);
    expectThat(p.line === undefined || (Number.isInteger(p.line) && p.line >= 1), `problem with line ${String(p.line)}`);
  }
  expectThat((r.value.problems.length === 0) === (r.value.mapping !== undefined), 'a mapping must load exactly when there are no problems');
  tally.add(r.value.mapping ? 'loaded' : 'problems');
}

export const target: FuzzTarget<MappingInput> = {
  name: 'mapping',
  async: true,
  arbitrary: () =>
    fc
      .record({ k: fc.nat(shipped.length - 1), mutations: fc.array(yamlMutation(), { maxLength: 3 }) })
      .map(({ k, mutations }) => {
        const s = shipped[k] as (typeof shipped)[number];
        return { root: s.root, site: s.site, text: mutateYaml(s.text, mutations) };
      }),
  check,
  setup: () => {
    work = mkdtempSync(join(tmpdir(), 'fhirfed-fuzz-mapping-'));
    cpSync(SHIPPED, work, { recursive: true });
  },
  teardown: () => {
    if (work) rmSync(work, { recursive: true, force: true });
  },
  stats: () => tally.toJSON(),
};
