import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseConfig, type Config } from '../../shared/config.js';
import { signAccessToken } from '../../shared/auth/tokens.js';
import { seedMembers, seedPerformance } from '../../shared/testing/seed.js';
import { startApiProcess, type ApiProcess } from '../../api/main.js';
import { startWorkerProcess, type WorkerProcess } from '../../workers/main.js';
import { Member } from '../../shared/db/models/index.js';
import { assertConforms, prepareConformance } from './openapi-check.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type HttpResult<T = Record<string, unknown>> = { status: number; body: T; headers: Headers };
export type TestMember = { id: number; token: string };

/** Environment of a test stack: its own key prefix (queues, waiting rooms) so test files run in parallel. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: process.env['DATABASE_URL'] ?? 'mysql://root@127.0.0.1:3306/ticketing_test',
    REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    KEY_PREFIX: `t${randomBytes(4).toString('hex')}`,
    PORT: '0',
    WORKER_METRICS_PORT: '0',
    METRICS_PORT: '0',
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'error',
    RATE_LIMIT_IP_PER_SECOND: '0',
    RATE_LIMIT_MEMBER_PER_SECOND: '0',
    PAYMENT_LATENCY_MS: '5',
    SWEEP_INTERVAL_SECONDS: '2',
    ...(process.env['REDIS_CLUSTER_NODES']
      ? { REDIS_CLUSTER_NODES: process.env['REDIS_CLUSTER_NODES'] }
      : {}),
    ...overrides,
  };
}

export class Stack {
  readonly apis: ApiProcess[] = [];
  readonly workers: WorkerProcess[] = [];
  readonly children = new Set<ChildProcess>();
  private adminToken: string | undefined;

  constructor(
    readonly env: Record<string, string>,
    readonly config: Config,
  ) {}

  get url(): string {
    return this.apis[0]!.url;
  }
  /** The first API's /metrics, on its METRICS_PORT (not the public port). */
  get metricsUrl(): string {
    return this.apis[0]!.metricsUrl!;
  }
  get ctx() {
    return this.apis[0]!.ctx;
  }

  static async start(
    opts: { env?: Record<string, string>; apis?: number; workers?: number } = {},
  ): Promise<Stack> {
    prepareConformance();
    const env = testEnv(opts.env);
    const stack = new Stack(env, parseConfig(env));
    for (let i = 0; i < (opts.apis ?? 1); i++) stack.apis.push(await startApiProcess(stack.config));
    for (let i = 0; i < (opts.workers ?? 1); i++) await stack.startWorker();
    return stack;
  }

  async startWorker(): Promise<WorkerProcess> {
    const w = await startWorkerProcess(this.config, { metrics: false });
    this.workers.push(w);
    return w;
  }

  /**
   * A worker in its own OS process (`npm run start:workers`), to be killed at will. With `ready:
   * false` it resolves at once (a worker that kills itself may die before it says it started).
   */
  async spawnWorker(
    extraEnv: Record<string, string> = {},
    opts: { ready?: boolean } = {},
  ): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, LOG_LEVEL: 'info', ...extraEnv },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    if (opts.ready === false) return child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('workers started')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited early with ${code}: ${out}`)));
    });
    return child;
  }

  async close(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    for (const w of this.workers.splice(0)) await w.close();
    for (const a of this.apis.splice(0)) await a.close();
    await cleanRedis(this.config);
  }

  async token(memberId: number, role: 'USER' | 'ADMIN' = 'USER'): Promise<string> {
    return signAccessToken(this.config.jwtSecret, { memberId, role }, 3600);
  }

  async admin(): Promise<string> {
    if (!this.adminToken) {
      const m = await Member.findOne({ where: { email: this.config.adminEmail } });
      this.adminToken = await this.token(m!.id, 'ADMIN');
    }
    return this.adminToken;
  }

  /** Members created directly in MySQL with minted tokens (as load tools do). */
  async members(n: number): Promise<TestMember[]> {
    const rows = await seedMembers(n, 'password-1234');
    return Promise.all(rows.map(async (r) => ({ id: r.id, token: await this.token(r.id) })));
  }

  async performance(seats: number, admissionCapacity = 100_000) {
    return seedPerformance(this.ctx.catalogue, seats, {
      name: `test ${this.config.keyPrefix}`,
      admissionCapacity,
    });
  }

  /** One request to the API; throws when the answer disagrees with /api/openapi.json. */
  async http<T = Record<string, unknown>>(
    method: string,
    path: string,
    opts: {
      token?: string;
      body?: unknown;
      raw?: string;
      headers?: Record<string, string>;
      base?: string;
    } = {},
  ): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.raw !== undefined || opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = opts.raw ?? JSON.stringify(opts.body);
    }
    const res = await fetch(`${opts.base ?? this.url}${path}`, { method, headers, body });
    const text = await res.text();
    // Every answer a test receives must be one the OpenAPI document describes (status, type, body).
    assertConforms({ method, url: path, status: res.status, headers: res.headers, text });
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  /** Joins the waiting room and waits until admitted. */
  async admit(token: string, performanceId: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let r = await this.http('POST', `/api/performances/${performanceId}/waiting`, { token });
    while (r.body['status'] !== 'admitted') {
      if (Date.now() > deadline) throw new Error(`not admitted: ${JSON.stringify(r.body)}`);
      await new Promise((res) => setTimeout(res, 100));
      r = await this.http('GET', `/api/performances/${performanceId}/waiting`, { token });
    }
  }

  /** Polls a request until it is final. */
  async settle(token: string, requestId: number, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.http('GET', `/api/requests/${requestId}?waitSeconds=5`, { token });
      if (r.body['status'] === 'succeeded' || r.body['status'] === 'rejected') return r.body;
      if (Date.now() > deadline) throw new Error(`request ${requestId} not final: ${JSON.stringify(r.body)}`);
    }
  }
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function cleanRedis(config: Config): Promise<void> {
  const { createRedis } = await import('../../shared/redis.js');
  // A blocking-role connection: no per-command timeout (a scan of a busy shared Redis may be slow).
  const redis = createRedis(config, 'blocking', 'test-cleanup');
  try {
    // A Cluster knows its nodes only once it has loaded the slot map.
    if ('nodes' in redis && redis.status !== 'ready')
      await new Promise((resolve, reject) => {
        redis.once('ready', resolve);
        setTimeout(() => reject(new Error('Redis Cluster not ready for cleanup')), 10_000).unref();
      });
    const nodes = 'nodes' in redis ? redis.nodes('master') : [redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${config.keyPrefix}:*`, 'COUNT', 1000);
        cursor = next;
        for (const k of keys) await node.del(k);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}
