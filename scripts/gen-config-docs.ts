// Regenerates the configuration reference table in README.md from the zod schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { replaceConfigReference } from '../src/config/reference.js';

const readme = readFileSync('README.md', 'utf8');
const next = replaceConfigReference(readme);
if (next !== readme) {
  writeFileSync('README.md', next);
  console.log('README.md: configuration reference updated');
} else {
  console.log('README.md: configuration reference already up to date');
}
