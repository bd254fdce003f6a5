import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../core/logger.js';

/**
 * Picks the TensorFlow.js backend once per process: the native `tensorflow` backend when the optional
 * `@tensorflow/tfjs-node` loads (its install downloads libtensorflow, which fails offline, so it is often absent),
 * else the offline WebAssembly backend (SIMD, ~3x cpu on small MLPs), else plain `cpu`.
 */

export type Tf = typeof tf;

export interface BackendInfo {
  readonly name: string;
  readonly tf: Tf;
}

let chosen: Promise<BackendInfo> | undefined;

/** Name in a variable so TypeScript does not require the optional package's types. */
const TFJS_NODE = '@tensorflow/tfjs-node';

async function tryBackend(name: string, load: () => Promise<unknown>): Promise<boolean> {
  try {
    await load();
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    return tf.getBackend() === name;
  } catch {
    return false;
  }
}

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

async function choose(logger?: Logger, forced?: BackendName): Promise<BackendInfo> {
  const order: [string, () => Promise<unknown>][] = [
    ['tensorflow', () => import(TFJS_NODE)],
    ['wasm', () => import('@tensorflow/tfjs-backend-wasm')],
    ['cpu', async () => undefined],
  ];
  const candidates = forced ? order.filter(([n]) => n === forced) : order;
  for (const [name, load] of candidates) {
    if (await tryBackend(name, load)) {
      logger?.info({ backend: name, tfjs: tf.version.tfjs }, 'tensorflow.js backend selected');
      return { name, tf };
    }
  }
  // Forcing an unknown or broken backend should not stop training: cpu always works.
  await tf.setBackend('cpu');
  await tf.ready();
  logger?.warn({ backend: 'cpu', requested: forced }, 'requested tensorflow.js backend unavailable, using cpu');
  return { name: 'cpu', tf };
}

/**
 * Initialises the backend on first call and returns the same choice afterwards (the first caller's `prefer` wins:
 * call this once at startup with the configured preference, e.g. to compare speeds).
 */
export function initBackend(logger?: Logger, options: { prefer?: BackendName } = {}): Promise<BackendInfo> {
  chosen ??= choose(logger, options.prefer).catch((e: unknown) => {
    chosen = undefined;
    throw e;
  });
  return chosen;
}

/** The backend in use, or undefined before `initBackend` (for /status). */
export function currentBackend(): string | undefined {
  return chosen === undefined ? undefined : tf.getBackend();
}
