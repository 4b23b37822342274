import { percentile } from '../lib/processes.js';

export type EndpointStats = {
  count: number;
  ratePerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
  statuses: Record<string, number>;
};
export type SecondStats = { t: number; count: number; errors: number; p50: number; p95: number };

type Sample = { at: number; ms: number; error: boolean; status: number };

/**
 * Every request the simulated members made: when (seconds since the start), how long, and whether
 * it was an error (a network failure, a 5xx, a 429, or a status the endpoint should never give).
 */
export class Recorder {
  private readonly samples = new Map<string, Sample[]>();
  readonly t0 = performance.now();

  /** Seconds since the start. */
  now(): number {
    return (performance.now() - this.t0) / 1000;
  }

  record(endpoint: string, startedAt: number, ms: number, status: number, error: boolean): void {
    let list = this.samples.get(endpoint);
    if (!list) this.samples.set(endpoint, (list = []));
    list.push({ at: (startedAt - this.t0) / 1000, ms, error, status });
  }

  /** Requests and errors in [from, to) seconds, per endpoint. */
  between(from: number, to: number): { requests: number; errors: number; endpoints: Record<string, number> } {
    let requests = 0;
    let errors = 0;
    const endpoints: Record<string, number> = {};
    for (const [name, list] of this.samples) {
      const inside = list.filter((s) => s.at >= from && s.at < to);
      requests += inside.length;
      errors += inside.filter((s) => s.error).length;
      if (inside.length) endpoints[name] = inside.length;
    }
    return { requests, errors, endpoints };
  }

  totals(): { requests: number; errors: number } {
    let requests = 0;
    let errors = 0;
    for (const list of this.samples.values()) {
      requests += list.length;
      errors += list.filter((s) => s.error).length;
    }
    return { requests, errors };
  }

  endpoints(seconds: number): Record<string, EndpointStats> {
    const out: Record<string, EndpointStats> = {};
    for (const [name, list] of this.samples) {
      const ms = list.map((s) => s.ms).sort((a, b) => a - b);
      const statuses: Record<string, number> = {};
      for (const s of list) statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
      out[name] = {
        count: list.length,
        ratePerSecond: round(list.length / seconds),
        p50: round(percentile(ms, 50)),
        p95: round(percentile(ms, 95)),
        p99: round(percentile(ms, 99)),
        max: round(ms[ms.length - 1] ?? NaN),
        errors: list.filter((s) => s.error).length,
        statuses,
      };
    }
    return out;
  }

  /** Per endpoint, per whole second of the run: requests, errors, p50 and p95 latency. */
  timeline(seconds: number): Record<string, SecondStats[]> {
    const out: Record<string, SecondStats[]> = {};
    const n = Math.ceil(seconds);
    for (const [name, list] of this.samples) {
      const buckets = Array.from({ length: n }, () => [] as Sample[]);
      for (const s of list) buckets[Math.min(n - 1, Math.max(0, Math.floor(s.at)))]!.push(s);
      out[name] = buckets.map((b, t) => {
        const ms = b.map((s) => s.ms).sort((x, y) => x - y);
        return {
          t,
          count: b.length,
          errors: b.filter((s) => s.error).length,
          p50: b.length ? round(percentile(ms, 50)) : 0,
          p95: b.length ? round(percentile(ms, 95)) : 0,
        };
      });
    }
    return out;
  }
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
