import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './stack.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A private server process on a spare port that a test may kill and restart without touching the shared ones. */
abstract class PrivateServer {
  protected proc: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'ticketing-'));
  constructor(readonly port: number) {}
  protected abstract spawn(): ChildProcess;
  protected abstract ready(): boolean;

  async start(): Promise<void> {
    this.proc = this.spawn();
    await eventually(async () => this.ready(), 30_000, 100);
  }
  /** SIGKILL: no clean shutdown, as in a crash. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** redis-server with AOF on (appendfsync always), as docker-compose runs it. */
export class PrivateRedis extends PrivateServer {
  static async create(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.start();
    return r;
  }
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  protected spawn(): ChildProcess {
    return spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--maxmemory-policy',
        'noeviction',
        '--dir',
        this.dir,
      ],
      { stdio: 'ignore' },
    );
  }
  protected ready(): boolean {
    return (
      spawnSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG'
    );
  }
}

/** A MariaDB server of its own (fresh datadir), root without password over TCP. */
export class PrivateMariaDb extends PrivateServer {
  static async create(): Promise<PrivateMariaDb> {
    const m = new PrivateMariaDb(await freePort());
    const r = spawnSync(
      'mariadb-install-db',
      [
        '--no-defaults',
        `--datadir=${m.dir}/data`,
        '--user=root',
        '--skip-test-db',
        '--auth-root-authentication-method=normal',
      ],
      {
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`mariadb-install-db failed: ${r.stderr}`);
    await m.start();
    return m;
  }
  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }
  protected spawn(): ChildProcess {
    return spawn(
      '/usr/sbin/mariadbd',
      [
        '--no-defaults',
        `--datadir=${this.dir}/data`,
        `--port=${this.port}`,
        `--socket=${this.dir}/mysqld.sock`,
        '--bind-address=127.0.0.1',
        '--user=root',
        '--skip-grant-tables',
        '--skip-name-resolve',
        '--innodb-buffer-pool-size=64M',
        '--innodb-log-file-size=16M',
      ],
      { stdio: 'ignore' },
    );
  }
  protected ready(): boolean {
    return (
      spawnSync('mariadb', ['-h127.0.0.1', `-P${this.port}`, '-uroot', '-e', 'SELECT 1'], {
        encoding: 'utf8',
      }).status === 0
    );
  }
}
