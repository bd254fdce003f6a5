import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../core/logger.js';
import type { Ledger } from '../ledger/index.js';
import { PendingConverter } from '../pipeline.js';

/** Converts what the listener stored after the ACK: in a worker thread when possible, else on this thread. */
export interface BackgroundConverter {
  kick(): void;
  /** Converts what is left and stops. */
  close(): Promise<void>;
}

function inThread(ledger: Ledger, logger: Logger): BackgroundConverter {
  const c = new PendingConverter(ledger, (e) => logger.error({ err: (e as Error).message }, 'mllp: background conversion failed'));
  c.kick();
  return { kick: () => c.kick(), close: () => c.drain() };
}

function inWorker(ledger: Ledger, logger: Logger): BackgroundConverter {
  const entry = new URL(`./convert-worker.${fileURLToPath(import.meta.url).endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
  // From TypeScript sources (tsx, vitest) the worker registers the tsx loader before importing its entry.
  const worker = entry.pathname.endsWith('.ts')
    ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`, {
        eval: true,
        workerData: { dataDir: dirname(ledger.file) },
      })
    : new Worker(entry, { workerData: { dataDir: dirname(ledger.file) } });
  let busy = false;
  let pending = false;
  let fallback: BackgroundConverter | undefined;
  const exit = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (m: unknown) => {
    if (m && typeof m === 'object' && 'error' in m) logger.error({ err: (m as { error: string }).error }, 'mllp: background conversion failed');
    if (m === 'idle') {
      busy = false;
      if (pending) send();
    }
  });
  worker.on('error', (e) => {
    logger.error({ err: e.message }, 'mllp: conversion worker failed; converting on the listener thread');
    fallback ??= inThread(ledger, logger);
  });
  // Coalesce kicks: at most one outstanding, the worker converts everything pending per kick.
  const send = (): void => {
    pending = false;
    busy = true;
    worker.postMessage('kick');
  };
  return {
    kick: () => {
      if (fallback) fallback.kick();
      else if (busy) pending = true;
      else send();
    },
    close: async () => {
      if (!fallback) worker.postMessage('close');
      await exit;
      await fallback?.close();
    },
  };
}

export function startConverter(ledger: Ledger, logger: Logger, useWorker: boolean): BackgroundConverter {
  if (!useWorker || ledger.file === ':memory:') return inThread(ledger, logger);
  try {
    return inWorker(ledger, logger);
  } catch (e) {
    logger.warn({ err: (e as Error).message }, 'mllp: no conversion worker, converting on the listener thread');
    return inThread(ledger, logger);
  }
}
