#!/usr/bin/env node
// Runs a command with a reachable Redis. Uses REDIS_URL (default redis://127.0.0.1:6379) when it answers PING;
// otherwise starts a private redis-server on a free port in a temp dir, exports REDIS_URL to the command, and stops
// the server afterwards. Without redis-server on PATH it fails with one line naming the install command.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const INSTALL_HINT = 'sudo apt-get install -y redis-server (Debian/Ubuntu) or brew install redis (macOS), or set REDIS_URL';

function ping(url, timeoutMs = 1500) {
  return new Promise((resolve) => {
    let u;
    try {
      u = new URL(url);
    } catch {
      resolve(false);
      return;
    }
    if (u.protocol !== 'redis:') {
      // TLS or unusual schemes: trust the operator and let the app report problems.
      resolve(true);
      return;
    }
    const socket = net.connect({ host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      if (u.password) {
        const user = decodeURIComponent(u.username || 'default');
        const pass = decodeURIComponent(u.password);
        socket.write(`*3\r\n$4\r\nAUTH\r\n$${Buffer.byteLength(user)}\r\n${user}\r\n$${Buffer.byteLength(pass)}\r\n${pass}\r\n`);
      }
      socket.write('*1\r\n$4\r\nPING\r\n');
    });
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('+PONG')) done(true);
      else if (buf.includes('-NOAUTH') || buf.includes('-WRONGPASS')) done(false);
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function onPath(cmd) {
  return (process.env.PATH || '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function startPrivateRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fhirfed-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', join(dir, 'redis.log')],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await ping(url, 300)) return { url, child, dir };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`redis-server did not start on port ${port} (see its log in ${dir})`);
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  if (!cmd) {
    console.error('usage: with-redis.mjs <command> [args...]');
    process.exit(64);
  }
  const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  let privateRedis;
  const env = { ...process.env };
  if (!(await ping(url))) {
    if (!onPath('redis-server')) {
      console.error(`fhirfed: Redis is not reachable at ${url} and redis-server is not installed; install it: ${INSTALL_HINT}`);
      process.exit(69);
    }
    privateRedis = await startPrivateRedis();
    env.REDIS_URL = privateRedis.url;
    console.error(`fhirfed: Redis not reachable at ${url}; started a private redis-server at ${privateRedis.url} (stopped on exit)`);
  } else {
    env.REDIS_URL = url;
  }
  const stop = async () => {
    if (!privateRedis) return;
    const { child: server, dir } = privateRedis;
    privateRedis = undefined;
    if (server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const child = spawn(cmd, args, { stdio: 'inherit', env, shell: process.platform === 'win32' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('error', (e) => {
    console.error(`fhirfed: cannot run ${cmd}: ${e.message}`);
    stop().then(() => process.exit(127));
  });
  child.on('exit', (code, signal) => {
    stop().then(() => process.exit(code ?? (signal ? 1 : 0)));
  });
}

main().catch((e) => {
  console.error(`fhirfed: ${e.message}`);
  process.exit(70);
});
