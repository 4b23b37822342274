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

/** A Redis Cluster of its own: `masters` redis-server processes on spare ports, no replicas, no persistence. */
export class PrivateRedisCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'ticketing-cluster-'));
  private readonly procs: ChildProcess[] = [];
  private constructor(readonly ports: number[]) {}

  static async create(masters = 3): Promise<PrivateRedisCluster> {
    const ports: number[] = [];
    while (ports.length < masters) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const cluster = new PrivateRedisCluster(ports);
    try {
      await cluster.start();
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  /** The value of REDIS_CLUSTER_NODES. */
  get nodes(): string {
    return this.ports.map((p) => `127.0.0.1:${p}`).join(',');
  }

  /** Runs redis-cli against one node (the first by default); `-c` follows MOVED redirections. */
  cli(args: string[], port = this.ports[0]!): string {
    const r = spawnSync('redis-cli', ['-c', '-p', String(port), ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim();
  }

  private async start(): Promise<void> {
    for (const port of this.ports) {
      this.procs.push(
        spawn(
          'redis-server',
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(this.dir, `nodes-${port}.conf`),
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--save',
            '',
            '--appendonly',
            'no',
            '--dir',
            this.dir,
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    const ping = (port: number) =>
      spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG';
    await eventually(async () => this.ports.every(ping), 30_000, 100);
    const created = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...this.ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8' },
    );
    if (created.status !== 0)
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    // Every node must agree before a client connects, or it may be told about a half-made cluster.
    await eventually(
      async () =>
        this.ports.every((p) =>
          spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' }).stdout.includes(
            'cluster_state:ok',
          ),
        ),
      30_000,
      100,
    );
  }

  async destroy(): Promise<void> {
    await Promise.all(
      this.procs.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
