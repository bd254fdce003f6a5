import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** A worker thread running a TypeScript module (same bootstrap as src/ingest/mllp/converter.ts: register tsx first). */
export function tsxWorker(modulePath: string, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  const href = pathToFileURL(modulePath).href;
  return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(href)}); });`, { ...options, eval: true });
}
