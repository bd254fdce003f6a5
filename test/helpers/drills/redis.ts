/**
 * A private redis-server for drills (never the shared one on 6379): its own port and folder, killable and
 * restartable on the same port. `persistent` turns on the append-only file (fsync every write), which is what a
 * production Redis behind BullMQ should run with; without it a restart loses every job.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from '../../../src/demo/processes.js';

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const redisServerAvailable = spawnSync('redis-server', ['--version']).status === 0;

/** Starts it on a free port; a port taken between the check and redis-server's bind is replaced by another. */
export async function startPrivateRedis(o: { dir: string; persistent: boolean }): Promise<PrivateRedis> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn({ ...o, port: await freePort() });
    } catch (e) {
      if (attempt >= 5 || !/Address already in use/i.test((e as Error).message)) throw e;
    }
  }
}

async function startOn(o: { port: number; dir: string; persistent: boolean }): Promise<PrivateRedis> {
  let proc: ChildProcess | undefined;
  const args = ['--port', String(o.port), '--bind', '127.0.0.1', '--dir', o.dir, '--save', '', '--daemonize', 'no', '--protected-mode', 'yes'];
  if (o.persistent) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  else args.push('--appendonly', 'no');
  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const p = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      proc = p;
      let out = '';
      p.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      p.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`)));
    });
  const kill = async (): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port: o.port,
    url: `redis://127.0.0.1:${o.port}`,
    kill,
    start,
    stop: kill,
  };
}
