import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';

/**
 * What a benchmark reads of its child processes and of Redis while it runs: resident memory and CPU
 * time from /proc (Linux only; undefined elsewhere or once the process is gone), Redis's memory from
 * INFO. Cheap enough to read every few hundred milliseconds.
 */

/** VmRSS of a process in bytes. */
export async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** User plus system CPU time of a process in seconds (clock ticks of 1/100 s). */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Redis INFO memory `used_memory` in bytes (the whole server: other users of it count too). */
export async function redisUsedMemory(redis: Pick<Redis, 'info'>): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
}

/**
 * Upper bounds of quantiles of one route from the API's `http_request_duration_seconds` buckets,
 * summed over API processes (their /metrics URLs on METRICS_PORT, in ms); `method` and `status`
 * narrow them.
 */
export async function serverQuantiles(
  metricsUrls: URL[],
  route: string,
  quantiles: number[],
  filter: { method?: string; status?: string } = {},
): Promise<{ count: number; ms: number[] }> {
  const buckets = new Map<number, number>();
  for (const url of metricsUrls) {
    const text = await (await fetch(url)).text();
    for (const line of text.split('\n')) {
      if (!line.startsWith('http_request_duration_seconds_bucket{')) continue;
      const labels = Object.fromEntries(
        [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as const),
      );
      if (labels['route'] !== route) continue;
      if (filter.method && labels['method'] !== filter.method) continue;
      if (filter.status && labels['status'] !== filter.status) continue;
      const le = labels['le'] === '+Inf' ? Infinity : Number(labels['le']);
      buckets.set(le, (buckets.get(le) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const count = sorted[sorted.length - 1]?.[1] ?? 0;
  const q = (p: number) => (sorted.find(([, c]) => c >= p * count)?.[0] ?? NaN) * 1000;
  return { count, ms: quantiles.map(q) };
}
