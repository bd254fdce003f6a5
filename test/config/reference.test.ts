import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configLeaves } from '../../src/config/index.js';
import { replaceConfigReference } from '../../src/config/reference.js';

describe('configuration reference in README.md', () => {
  const readme = readFileSync('README.md', 'utf8');
  it('is up to date with the schema (run `npm run docs:config` when this fails)', () => {
    expect(replaceConfigReference(readme)).toBe(readme);
  });
  it('documents every setting with its environment variable', () => {
    for (const leaf of configLeaves()) {
      expect(readme).toContain(`| \`${leaf.path.join('.')}\` | \`${leaf.env}\` |`);
      expect(leaf.description, `${leaf.path.join('.')} needs a .describe()`).toBeTruthy();
    }
  });
});
