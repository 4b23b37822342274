import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { parseConfig, type Config } from '../../shared/config.js';
import { migrate } from '../../shared/db/migrate.js';
import { createContext, type Context } from '../../shared/context.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Starts `npm run start:api` or `start:workers` as its own OS process and waits until it is serving. */
export async function startProcess(
  kind: 'api' | 'workers',
  env: Record<string, string>,
  /** `preload: false` starts it without the tracing preload (as before tracing existed). */
  opts: { preload?: boolean } = {},
): Promise<{ child: ChildProcess; url?: string; metricsUrl?: string }> {
  // PROFILE_API=<dir> / PROFILE_WORKERS=<dir> write a V8 CPU profile of that process there when it stops.
  // (The caller's `env` may name them too: one mode of a bench profiled, e.g.)
  const key = kind === 'api' ? 'PROFILE_API' : 'PROFILE_WORKERS';
  const dir = env[key] ?? process.env[key];
  const profile = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  // As `npm run start:api` runs it: the preload starts tracing if OTEL_EXPORTER_OTLP_ENDPOINT is set.
  const preload = opts.preload === false ? [] : ['--import', './shared/tracing/preload.ts'];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', ...preload, `${kind}/main.ts`], {
    cwd: ROOT,
    // An API's /metrics is on its own port (METRICS_PORT), a free one unless the caller picks it.
    env: { ...process.env, ...(kind === 'api' && { METRICS_PORT: '0' }), ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const api = /"url":"(http:[^"]+)".*api listening/.exec(out);
      if (kind === 'api' && api)
        resolve({ child, url: api[1], metricsUrl: /"metrics":"(http:[^"]+)"/.exec(out)?.[1] });
      if (kind === 'workers' && out.includes('workers started')) resolve({ child });
      if (out.length > 100_000) out = out.slice(-10_000);
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}: ${out.slice(-2000)}`)));
  });
}

/** Starts a helper script (`scripts/lib/*.ts`) as its own process; resolves with what matched `ready`. */
export async function startScript(
  file: string,
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  // PROFILE_SCRIPTS=<dir>: a V8 CPU profile of the script's process (the baselines), as above.
  const dir = process.env['PROFILE_SCRIPTS'];
  const profile = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', file], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve({ child, match: m });
    });
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}: ${out.slice(-2000)}`)));
  });
}

export function stopAll(children: ChildProcess[]): Promise<unknown> {
  return Promise.all(
    children.map(
      (c) =>
        new Promise((resolve) => {
          if (c.exitCode !== null) return resolve(undefined);
          c.once('exit', resolve);
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
        }),
    ),
  );
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function ms(n: number): string {
  return `${n.toFixed(1)} ms`;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/**
 * A benchmark's own deployment: the bench database (unless DATABASE_URL says otherwise), a fresh
 * Redis key prefix, no IP rate limit (all load comes from one address), migrated, with a context.
 */
export async function benchDeployment(
  name: string,
  overrides: Record<string, string>,
): Promise<{ env: Record<string, string>; config: Config; ctx: Context }> {
  const env: Record<string, string> = {
    DATABASE_URL: process.env['DATABASE_URL'] ?? 'mysql://root@127.0.0.1:3306/ticketing_bench',
    REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    KEY_PREFIX: `${name}${randomBytes(3).toString('hex')}`,
    PORT: '0',
    WORKER_METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_IP_PER_SECOND: '0',
    ...overrides,
  };
  const config = parseConfig(env);
  await migrate(config);
  return { env, config, ctx: createContext(config, name) };
}
