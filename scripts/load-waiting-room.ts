// npm run load:waiting-room -- --members 10000 --poll 5 [--capacity 500] [--shop 3] [--duration 120] [--apis 1]
//
// N members join one performance's waiting room (spread over one poll interval) and poll their
// status every P seconds until admitted; an admitted member "shops" for S seconds, then leaves
// (finishing frees the slot). Reports status-poll throughput and latency, errors, and checks the
// invariants: distinct gap-free tickets, positions that never go up, admission in ticket order and
// never above capacity (sampled atomically from Redis every 100 ms).
import { Agent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { signAccessToken } from '../shared/auth/tokens.js';
import { seedMembers, seedPerformance } from '../shared/testing/seed.js';
import { benchDeployment, startProcess, stopAll, percentile, ms } from './lib/processes.js';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '10000' },
    poll: { type: 'string', default: '5' },
    capacity: { type: 'string', default: '500' },
    shop: { type: 'string', default: '3' },
    duration: { type: 'string', default: '120' },
    apis: { type: 'string', default: '1' },
  },
});
const N = Number(values.members);
const POLL_MS = Number(values.poll) * 1000;
const CAPACITY = Number(values.capacity);
const SHOP_MS = Number(values.shop) * 1000;
const DURATION_MS = Number(values.duration) * 1000;
const APIS = Number(values.apis);

const { env, config, ctx } = await benchDeployment('load', { ADMISSION_IDLE_SECONDS: '60' });
const children: ChildProcess[] = [];
const agent = new Agent({ keepAlive: true, maxSockets: 512 });

type Reply = { status: number; body: { status?: string; ticket?: number; position?: number } };
function call(base: URL, method: string, path: string, token: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        path,
        method,
        agent,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: data ? (JSON.parse(data) as Reply['body']) : {} });
          } catch (err) {
            reject(err as Error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** p50/p99 upper bounds from the API's http_request_duration_seconds buckets for the waiting-room route. */
async function serverQuantiles(apiBases: URL[]): Promise<{ p50: number; p99: number }> {
  const buckets = new Map<number, number>();
  for (const base of apiBases) {
    const text = await (await fetch(new URL('/metrics', base))).text();
    const re =
      /^http_request_duration_seconds_bucket\{(?=[^}]*route="\/api\/performances\/:id\/waiting")(?=[^}]*status="200")(?=[^}]*le="([^"]+)")[^}]*\} (\d+)/gm;
    for (const m of text.matchAll(re)) {
      const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
      buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
    }
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted[sorted.length - 1]?.[1] ?? 0;
  const q = (p: number) => (sorted.find(([, c]) => c >= p * total)?.[0] ?? NaN) * 1000;
  return { p50: q(0.5), p99: q(0.99) };
}

try {
  console.log(`seeding ${N} members …`);
  const perf = await seedPerformance(ctx.catalogue, 10, { name: 'load', admissionCapacity: CAPACITY });
  const members = await seedMembers(N, 'password-1234');
  const tokens = await Promise.all(
    members.map((m) => signAccessToken(config.jwtSecret, { memberId: m.id, role: 'USER' }, 7200)),
  );
  const bases: URL[] = [];
  for (let i = 0; i < APIS; i++) {
    const api = await startProcess('api', env);
    children.push(api.child);
    bases.push(new URL(api.url!));
  }
  children.push((await startProcess('workers', env)).child);

  const {
    line: lineKey,
    admitted: admittedKey,
    tickets: ticketsKey,
  } = ctx.waitingRoom.keys(perf.performanceId);
  let violations = 0;
  let maxAdmitted = 0;
  let peakLineBytes = 0;
  let peakWaiting = 0;
  const sampler = setInterval(() => {
    ctx.redis
      .multi()
      .zrange(lineKey!, 0, 0, 'WITHSCORES')
      .hvals(ticketsKey!)
      .zcard(admittedKey!)
      .zcard(lineKey!)
      .exec()
      .then((r) => {
        const first = r?.[0]?.[1] as string[];
        const admittedTickets = (r?.[1]?.[1] as string[]).map(Number);
        const admitted = r?.[2]?.[1] as number;
        const waiting = r?.[3]?.[1] as number;
        maxAdmitted = Math.max(maxAdmitted, admitted);
        if (admitted > CAPACITY) violations++;
        if (first.length && admittedTickets.some((t) => t > Number(first[1]))) violations++;
        if (waiting > peakWaiting) {
          peakWaiting = waiting;
          void ctx.redis
            .memory('USAGE', lineKey!)
            .then((b) => (peakLineBytes = Math.max(peakLineBytes, Number(b))));
        }
      })
      .catch(() => undefined);
  }, 100);

  console.log(
    `running: ${N} members polling every ${POLL_MS / 1000} s, capacity ${CAPACITY}, ${APIS} API process(es) …`,
  );
  const latencies: number[] = [];
  const joinLatencies: number[] = [];
  let errors = 0;
  let nonMonotonic = 0;
  let admittedCount = 0;
  const tickets: number[] = [];
  const started = Date.now();
  const deadline = started + DURATION_MS;
  // The load generator shares the two cores with the service: its own event-loop delay is part of
  // what it measures, so it is reported, and the API's own histogram is read too.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  await Promise.all(
    members.map(async (m, i) => {
      const token = tokens[i]!;
      const base = bases[i % bases.length]!;
      const path = `/api/performances/${perf.performanceId}/waiting`;
      await new Promise((r) => setTimeout(r, Math.random() * POLL_MS));
      let last = Infinity;
      let method = 'POST';
      while (Date.now() < deadline) {
        const t = performance.now();
        let reply: Reply;
        try {
          reply = await call(base, method, path, token);
        } catch {
          errors++;
          await new Promise((r) => setTimeout(r, POLL_MS));
          continue;
        }
        latencies.push(performance.now() - t);
        if (method === 'POST') joinLatencies.push(performance.now() - t);
        if (reply.status !== 200) {
          errors++;
        } else {
          if (method === 'POST') tickets.push(reply.body.ticket!);
          method = 'GET';
          const pos = reply.body.position!;
          if (pos > last) nonMonotonic++;
          last = pos;
          if (reply.body.status === 'admitted') {
            admittedCount++;
            await new Promise((r) => setTimeout(r, SHOP_MS));
            await call(base, 'DELETE', path, token).catch(() => errors++);
            return;
          }
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }),
  );
  const wall = (Date.now() - started) / 1000;
  clearInterval(sampler);
  loopDelay.disable();
  const server = await serverQuantiles(bases);
  latencies.sort((a, b) => a - b);
  joinLatencies.sort((a, b) => a - b);
  tickets.sort((a, b) => a - b);
  const gapFree = tickets.length === N && tickets.every((t, i) => t === i + 1);
  const ok = errors === 0 && nonMonotonic === 0 && violations === 0 && gapFree;
  console.log(`
waiting room: ${N} members polling every ${POLL_MS / 1000} s, capacity ${CAPACITY}, shopping ${SHOP_MS / 1000} s, ${APIS} API process(es), 1 worker
  status requests        ${latencies.length} in ${wall.toFixed(1)} s = ${(latencies.length / wall).toFixed(0)} requests/s
  latency                p50 ${ms(percentile(latencies, 50))}  p95 ${ms(percentile(latencies, 95))}  p99 ${ms(percentile(latencies, 99))}  max ${ms(latencies[latencies.length - 1] ?? NaN)}
  of which joins         p50 ${ms(percentile(joinLatencies, 50))}  p99 ${ms(percentile(joinLatencies, 99))} (the first request of each member)
  server side            p50 <= ${server.p50} ms  p99 <= ${server.p99} ms (API histogram buckets, waiting-room routes, all API processes)
  generator loop delay   p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms (the client's own lag, included in the client-side numbers)
  errors                 ${errors}
  admitted               ${admittedCount} of ${N}${admittedCount < N ? ' (the rest were still waiting at --duration)' : ''}
  memory                 ${peakWaiting ? (peakLineBytes / peakWaiting).toFixed(1) : '-'} bytes per waiting member (line of ${peakWaiting}: ${peakLineBytes} bytes)
  invariants             ${ok ? 'OK' : 'VIOLATED'}: tickets ${gapFree ? 'distinct and gap-free' : 'NOT gap-free'}, ${nonMonotonic} position increases, ${violations} admission-order or capacity violations (max admitted ${maxAdmitted})`);
  if (!ok) process.exitCode = 1;
} finally {
  agent.destroy();
  await stopAll(children);
  await ctx.close();
}
