import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = join(process.cwd(), 'scripts', 'with-redis.mjs');
const hasRedisServer = spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status === 0;

describe('scripts/with-redis.mjs', () => {
  it.skipIf(!hasRedisServer)('starts a private redis-server when REDIS_URL does not answer, and stops it after', () => {
    const probe = `
      const net = require('node:net');
      const u = new URL(process.env.REDIS_URL);
      const s = net.connect(Number(u.port), u.hostname, () => s.write('PING\\r\\n'));
      s.on('data', (d) => { console.log(u.port + ' ' + d.toString().trim()); s.end(); });
    `;
    const r = spawnSync(process.execPath, [SCRIPT, process.execPath, '-e', probe], {
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1' },
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/started a private redis-server/);
    const [port, reply] = r.stdout.trim().split(' ');
    expect(reply).toBe('+PONG');
    expect(port).not.toBe('1');
    const after = spawnSync('sh', ['-c', `redis-cli -p ${port} ping`], { encoding: 'utf8' });
    expect(after.stdout).not.toMatch(/PONG/);
  });

  it('fails with one line naming the install command when Redis is down and redis-server is missing', () => {
    const bin = mkdtempSync(join(tmpdir(), 'fhirfed-nobin-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const r = spawnSync(process.execPath, [SCRIPT, 'true'], {
      encoding: 'utf8',
      env: { PATH: bin, REDIS_URL: 'redis://127.0.0.1:1' },
    });
    expect(r.status).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/apt-get install -y redis-server/);
  });

  it('passes the exit code of the command through', () => {
    const r = spawnSync(process.execPath, [SCRIPT, process.execPath, '-e', 'process.exit(3)'], { encoding: 'utf8' });
    expect(r.status).toBe(3);
  });
});
