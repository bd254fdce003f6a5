#!/usr/bin/env node
// Runs the TypeScript sources through tsx in a checkout (so the CLI never runs stale code), and the compiled
// dist/ in an installed package or image, where src/ is absent.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');
const built = join(root, 'dist', 'cli', 'main.js');
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  console.error('fhirfed: neither src/ nor dist/ found next to bin/; reinstall the package');
  process.exit(70);
}
