import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FhirfedError } from '../core/errors.js';

/** The demo's child processes: real `fhirfed` processes, their logs in the work folder, stopped on exit. */

const BIN = fileURLToPath(new URL('../../bin/fhirfed.js', import.meta.url));

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly logFile: string;
  /** The JSON line the process prints once it listens (`{"listening": port, ...}`). */
  readonly ready: Promise<Record<string, number>>;
  /** The last few KB the process printed (stdout and stderr), e.g. to see why it exited. */
  tail(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export function spawnFhirfed(name: string, args: readonly string[], env: NodeJS.ProcessEnv, logDir: string): Child {
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const proc = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-8192);
  };
  proc.stderr?.pipe(log);
  proc.stderr?.on('data', keep);
  proc.stdout?.on('data', keep);
  const ready = new Promise<Record<string, number>>((resolve, reject) => {
    let buf = '';
    proc.stdout?.on('data', (d: Buffer) => {
      log.write(d);
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.startsWith('{"listening"'));
      if (line) resolve(JSON.parse(line) as Record<string, number>);
    });
    proc.once('exit', (code) =>
      reject(
        new FhirfedError('FHIRFED_ERR_DEPENDENCY_UNAVAILABLE', `${name} exited with code ${code} before it was ready`, {
          hint: `see its log: ${logFile}`,
        }),
      ),
    );
  });
  ready.catch(() => undefined);
  return {
    name,
    proc,
    logFile,
    ready,
    tail: () => tail,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts a listening process on a free port. A port found free can be taken by someone else before the child binds
 * it (another test, another child listening on port 0): when the child reports EADDRINUSE it is started again on
 * another port, up to `attempts` times. Any other failure is passed on as it is.
 */
export async function startOnFreePort(
  start: (port: number) => Child,
  attempts = 5,
  pick: () => Promise<number> = freePort,
): Promise<{ child: Child; port: number; ready: Record<string, number> }> {
  for (let i = 1; ; i++) {
    const port = await pick();
    const child = start(port);
    try {
      return { child, port, ready: await child.ready };
    } catch (e) {
      if (i >= attempts || !/EADDRINUSE/.test(child.tail())) throw e;
    }
  }
}

/** Polls `fn` until it returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new FhirfedError('FHIRFED_ERR_TIMEOUT', `timed out waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
}
