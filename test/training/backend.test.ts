import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { currentBackend, initBackend } from '../../src/training/backend.js';

function resolvable(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

describe('initBackend', () => {
  it('falls back to wasm when @tensorflow/tfjs-node is absent, logs the choice once and caches it', async () => {
    const logged: unknown[] = [];
    const logger = { info: (o: unknown) => void logged.push(o), warn: (o: unknown) => void logged.push(o) } as never;
    const a = await initBackend(logger);
    const b = await initBackend(logger);
    expect(b).toBe(a);
    expect(a.tf.getBackend()).toBe(a.name);
    expect(currentBackend()).toBe(a.name);
    expect(a.name).toBe(resolvable('@tensorflow/tfjs-node') ? 'tensorflow' : 'wasm');
    expect(logged).toEqual([expect.objectContaining({ backend: a.name })]);
  });
});
