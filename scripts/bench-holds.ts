// npm run bench:holds -- [--requests 3000] [--concurrency 200] [--rate 1000] [--seconds 5]
//                         [--rounds 3] [--contended] [--only poll|prefer|best]
//
// Where the hold pipeline stands, in one run on the same Redis and MySQL, with ONE worker process:
//   1. BullMQ alone: a no-op processor draining a pre-filled queue with global concurrency 1;
//   2. ours, drain: the same number of hold requests pre-enqueued on one performance, then one
//      worker process started (the queue + commit rate, no API or client on the cores);
//      1 and 2 alternate for --rounds rounds and their medians are compared;
//   3. the lock design: an Express route that holds one seat per request synchronously with
//      SELECT … FOR UPDATE on its own tables, driven by the same load generator as 4;
//   4. ours, end to end, N in flight, with each client flow: POST /holds then GET
//      /requests/:id?waitSeconds until final ("POST + poll"), and POST with `Prefer: wait=10`,
//      which answers with the final status when it comes in time ("Prefer: wait");
//   5. ours, open loop: requests started at a fixed offered rate, latency from each request's
//      scheduled start to its final status, with each flow.
// Then the ratios against the targets of the issue. Checks invariants 1-3 of every run. Each timed
// phase (3-5) starts with the generator's connections to its server already open (`openConnections`).
// Profiling: PROFILE_WORKERS / PROFILE_API / PROFILE_SCRIPTS=<dir> write CPU profiles of the worker,
// API and baseline processes; BENCH_TIMELINE=1 prints, for each drain, Redis's command counts and
// times (INFO commandstats) and when our batches started against when BullMQ finished the jobs.
import { HoldRequestRepository } from '../shared/db/repositories/hold-request.repository.js';
import type { ChildProcess } from 'node:child_process';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { signAccessToken } from '../shared/auth/tokens.js';
import { seedMembers, seedPerformance } from '../shared/testing/seed.js';
import { HoldRequest } from '../shared/db/models/index.js';
import { replayHolds } from '../shared/testing/replay.js';
import type { HoldJob } from '../shared/queues/jobs.js';
import { HttpClient } from './lib/http-client.js';
import { parseCli } from './lib/cli.js';
import {
  benchDeployment,
  startProcess,
  startScript,
  stopAll,
  percentile,
  ms,
  pool,
} from './lib/processes.js';

const { values } = parseCli({
  command: 'npm run bench:holds --',
  summary:
    'The hold pipeline against its baselines in one run (BullMQ no-op drain, our drain, the lock design,\n' +
    'ours end to end, open loop), one worker process, on the bench database and a fresh key prefix.',
  runTime: 'about 2 to 4 minutes with the defaults',
  options: {
    requests: { type: 'string', default: '3000', value: 'N', description: 'hold requests per run' },
    concurrency: {
      type: 'string',
      default: '200',
      value: 'C',
      description: 'requests in flight (closed loop)',
    },
    rate: { type: 'string', default: '1000', value: 'R', description: 'offered holds/s (open loop)' },
    seconds: { type: 'string', default: '5', value: 'S', description: 'length of the open-loop run' },
    contended: { type: 'boolean', description: 'every request races for a tenth of the seats' },
    // Only some phases, for profiling (PROFILE_API=<dir> / PROFILE_WORKERS=<dir>): e.g. --only poll
    only: {
      type: 'string',
      value: 'poll|prefer|best',
      description: 'only this client flow (profiling), or best: the best-available drain row',
    },
    rounds: { type: 'string', default: '3', value: 'N', description: 'rounds of the drain comparison' },
  },
});
const N = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const RATE = Number(values.rate);
const OPEN_N = Math.round(RATE * Number(values.seconds));
const ROUNDS = Math.max(1, Number(values.rounds));
const STADIUM_SEATS = 60_000;

const { env, config, ctx } = await benchDeployment('bench', {
  RATE_LIMIT_MEMBER_PER_SECOND: '0',
  MAX_SEATS_PER_MEMBER: '4',
});
const children: ChildProcess[] = [];
const http = new HttpClient(Math.max(CONCURRENCY, 256));
const lines: string[] = [];
const report = (s: string) => {
  lines.push(s);
  console.log(s);
};

const TIMELINE = Boolean(process.env['BENCH_TIMELINE']);

/** The queue's completed jobs, n at most (1,000 a read). */
async function completedJobs(queue: Queue, n: number): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < n; i += 1000) jobs.push(...(await queue.getJobs(['completed'], i, i + 999, true)));
  return jobs;
}

/** Jobs per second from the first job a worker started to the last it finished (BullMQ's own times). */
function drainRate(jobs: Job[]): number {
  const start = Math.min(...jobs.map((j) => j.processedOn ?? Infinity));
  const end = Math.max(...jobs.map((j) => j.finishedOn ?? 0));
  return jobs.length / ((end - start) / 1000);
}

async function until(check: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

try {
  const seats = values.contended ? Math.max(10, Math.floor(N / 10)) : N;
  const memberCount = Math.ceil(Math.max(N, OPEN_N) / 4);
  console.log(`seeding: performances of ${seats} seats, ${memberCount} members …`);
  const members = await seedMembers(memberCount, 'password-1234');
  const tokens = await Promise.all(
    members.map((m) => signAccessToken(config.jwtSecret, { memberId: m.id, role: 'USER' }, 3600)),
  );
  // Request i asks for seat i (or a random seat of a tenth as many, with --contended), member i/4.
  const asks = (n: number, seatCount: number) =>
    Array.from({ length: n }, (_, i) => ({
      member: Math.floor(i / 4),
      seat: values.contended ? Math.floor(Math.random() * seatCount) : i,
    }));
  const closedAsks = asks(N, seats);

  // 1. BullMQ alone.
  // 1. and 2., alternated for ROUNDS rounds (the medians are compared, so that a burst of noise on
  // this shared machine does not decide the ratio): BullMQ alone, then ours, each a fresh process.
  const stats = async () => {
    const m = new Map<string, [number, number]>();
    for (const l of (await ctx.redis.info('commandstats')).split('\n')) {
      const x = /^cmdstat_(\S+):calls=(\d+),usec=(\d+)/.exec(l);
      if (x) m.set(x[1]!, [Number(x[2]), Number(x[3])]);
    }
    return m;
  };
  const printStats = async (what: string, s0: Map<string, [number, number]>) => {
    const s1 = await stats();
    const d = [...s1].map(
      ([k, [c, u]]) => [k, c - (s0.get(k)?.[0] ?? 0), u - (s0.get(k)?.[1] ?? 0)] as const,
    );
    console.log(
      `  redis commands (${what}):`,
      d
        .filter((x) => x[1] > 0)
        .sort((a, b) => b[2] - a[2])
        .slice(0, 18)
        .map(([k, c, u]) => `${k} ${c}×/${(u / 1000).toFixed(0)}ms`)
        .join('; '),
    );
  };
  const noopDrain = async (round: number) => {
    const prefix = `${config.keyPrefix}:noop${round}`;
    const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
    const noop = new Queue('noop', { connection: redis, prefix });
    await noop.setGlobalConcurrency(1);
    for (let i = 0; i < N; i += 1000)
      await noop.addBulk(
        Array.from({ length: Math.min(1000, N - i) }, (_, j) => ({
          name: 'hold',
          data: { kind: 'hold', requestId: i + j + 1, performanceId: 1, memberId: 1, seatIds: [i + j + 1] },
          opts: { attempts: 1, removeOnComplete: { count: 10_000 } },
        })),
      );
    const n0 = TIMELINE ? await stats() : undefined;
    const w = await startScript(
      'scripts/lib/noop-worker.ts',
      { REDIS_URL: config.redisUrl, NOOP_QUEUE: 'noop', NOOP_PREFIX: prefix },
      /noop worker ready/,
    );
    children.push(w.child);
    await until(async () => (await noop.getJobCountByTypes('completed')) >= N);
    if (n0) await printStats('noop', n0);
    const rate = drainRate(await completedJobs(noop, N));
    await stopAll([w.child]);
    await noop.obliterate({ force: true });
    await noop.close();
    redis.disconnect();
    return rate;
  };
  /**
   * Our drain: N pre-enqueued one-seat holds on the test layout, or (`stadium`) on a 60,000-seat
   * venue with rows of 30, each naming its seat (`explicit`) or asking for best available (`best`).
   */
  const ourDrainRound = async (round: number, venue?: 'explicit' | 'best') => {
    const drain = venue
      ? await seedPerformance(ctx.catalogue, STADIUM_SEATS, {
          name: `bench ${venue} ${round}`,
          layout: 'stadium',
        })
      : await seedPerformance(ctx.catalogue, seats, { name: `bench drain ${round}` });
    const ask = (i: number) =>
      venue === 'best'
        ? { best: { count: 1 } }
        : { seatIds: [drain.seatIds[venue ? (i * 7919) % STADIUM_SEATS : closedAsks[i]!.seat]!] };
    const rows = await HoldRequest.bulkCreate(
      closedAsks.map((a, i) => ({
        performanceId: drain.performanceId,
        memberId: members[a.member]!.id,
        kind: 'hold' as const,
        idempotencyKey: null,
        payload: JSON.stringify(ask(i)),
      })),
    );
    const jobs: HoldJob[] = rows.map((row, i) => ({
      kind: 'hold',
      requestId: row.id,
      performanceId: drain.performanceId,
      memberId: members[closedAsks[i]!.member]!.id,
      ...ask(i),
    }));
    // As the API does: each request's queue sequence is recorded (else the workers take the backlog
    // for requests whose API died before enqueueing them, and enqueue each once more).
    const requests = new HoldRequestRepository(ctx.sequelize);
    for (let i = 0; i < N; i += 1000) {
      const part = jobs.slice(i, i + 1000);
      const seqs = await ctx.queues.enqueueAll(drain.performanceId, part);
      await requests.setQueueSeqs(part.map((j, k) => [j.requestId, seqs[k]!]));
    }
    const s0 = TIMELINE ? await stats() : undefined;
    const w = await startProcess('workers', env);
    children.push(w.child);
    const queue = await ctx.queues.get(drain.performanceId);
    await until(async () => (await queue.getJobCountByTypes('completed')) >= N);
    if (s0) await printStats('ours', s0);
    const finished = await completedJobs(queue, N);
    const rate = drainRate(finished);
    await stopAll([w.child]);
    const done = await HoldRequest.findAll({
      where: { performanceId: drain.performanceId },
      order: [['queueSeq', 'ASC']],
    });
    // Each batch stamps its requests with its start. After the first batch (in which a worker
    // loads what it keeps: for best available the venue's layout and seat map, once per
    // performance): the requests of batches 2 .. k-1 over the time from batch 2's start to batch k's.
    const starts = new Map<number, number>();
    for (const r of done) {
      const t = r.processedAt?.getTime();
      if (t !== undefined) starts.set(t, (starts.get(t) ?? 0) + 1);
    }
    const batchStarts = [...starts.keys()].sort((a, b) => a - b);
    if (TIMELINE) {
      const t0 = Math.min(...finished.map((j) => j.processedOn ?? Infinity));
      const fin = finished.map((j) => (j.finishedOn ?? 0) - t0).sort((a, b) => a - b);
      console.log(
        '  timeline: batches started (ms:jobs)',
        batchStarts.map((t) => `${t - t0}:${starts.get(t)}`).join(' '),
      );
      console.log(
        '  timeline: jobs finished by (ms)',
        [0, 10, 25, 50, 75, 90, 100]
          .map((q) => `${q}%=${fin[Math.min(fin.length - 1, Math.floor((q / 100) * fin.length))]}`)
          .join(' '),
      );
    }
    const middle = batchStarts.slice(1, -1).reduce((n, t) => n + starts.get(t)!, 0);
    const steadyRate =
      batchStarts.length >= 3
        ? middle / ((batchStarts[batchStarts.length - 1]! - batchStarts[1]!) / 1000)
        : rate;
    return {
      rate,
      steadyRate,
      firstBatchMs: batchStarts.length >= 2 ? batchStarts[1]! - batchStarts[0]! : 0,
      batches: batchStarts.length,
      check:
        venue === 'best'
          ? { ok: done.every((r) => r.status === 'succeeded'), text: 'best: all held' }
          : checkRun(done, 0),
    };
  };
  if (values.only === 'best') {
    // Best available against explicit seat ids on the same stadium venue, alternated.
    type Round = Awaited<ReturnType<typeof ourDrainRound>>;
    const explicit: Round[] = [];
    const best: Round[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(
        `best round ${round}/${ROUNDS}: drain of ${N} explicit, then ${N} best-available holds on ${STADIUM_SEATS} seats …`,
      );
      explicit.push(await ourDrainRound(round, 'explicit'));
      const b = await ourDrainRound(round, 'best');
      if (!b.check.ok) console.log('  best-available drain: some request was not held');
      best.push(b);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const line = (label: string, rs: Round[], k: 'rate' | 'steadyRate') =>
      `  ${label.padEnd(44)} ${med(rs.map((r) => r[k])).toFixed(0)} holds/s (${rs.map((r) => r[k].toFixed(0)).join(', ')})`;
    const cost = (k: 'rate' | 'steadyRate') =>
      1 - med(best.map((r) => r[k])) / med(explicit.map((r) => r[k]));
    const verdict = (c: number) =>
      `${(c * 100).toFixed(1)} %   target <= 20 %  ${c <= 0.2 ? 'met' : 'NOT met'}`;
    console.log(
      [
        line(`ours, drain, explicit ids, ${STADIUM_SEATS} seats`, explicit, 'rate'),
        line('ours, drain, best available', best, 'rate'),
        `  picking cost (1 - best / explicit)           ${verdict(cost('rate'))}`,
        line('after the first batch, explicit ids', explicit, 'steadyRate'),
        line('after the first batch, best available', best, 'steadyRate'),
        `  picking cost after the first batch           ${verdict(cost('steadyRate'))}`,
        `  first batch, ms (best: loads the venue)      explicit ${explicit.map((r) => r.firstBatchMs).join(', ')}; best ${best.map((r) => r.firstBatchMs).join(', ')}`,
      ].join('\n'),
    );
    await stopAll(children);
    await ctx.close();
    process.exit(0);
  }
  const noopRates: number[] = [];
  const ourRates: number[] = [];
  const drainChecks: { ok: boolean; text: string }[] = [];
  let drainBatches = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`1-2/5 round ${round}/${ROUNDS}: BullMQ no-op drain, then our drain, of ${N} jobs …`);
    noopRates.push(await noopDrain(round));
    const ours = await ourDrainRound(round);
    ourRates.push(ours.rate);
    drainChecks.push(ours.check);
    drainBatches = ours.batches;
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const noopRate = median(noopRates);
  const ourDrain = median(ourRates);
  const drainCheck = { ok: drainChecks.every((c) => c.ok), text: drainChecks.map((c) => c.text).join(' / ') };
  const worker = await startProcess('workers', env);
  children.push(worker.child);

  // 3. The lock design, same generator as 4.
  console.log(`3/5 lock design: ${N} holds, ${CONCURRENCY} in flight …`);
  const lockServer = await startScript(
    'scripts/lib/lock-design.ts',
    {
      LOCK_DATABASE_URL: config.databaseUrl,
      MAX_SEATS_PER_MEMBER: '4',
    },
    /"url":"(http:[^"]+)"/,
  );
  children.push(lockServer.child);
  const lockUrl = lockServer.match[1]!;
  await post(`${lockUrl}/seed`, { seats });
  await openConnections(`${lockUrl}/held`);
  const lockLatencies: number[] = [];
  let lockErrors = 0;
  const lockStart = performance.now();
  await pool(closedAsks, CONCURRENCY, async (a) => {
    const t = performance.now();
    const r = await post(`${lockUrl}/holds`, { memberId: members[a.member]!.id, seatId: a.seat + 1 });
    if (r.status !== 200) lockErrors++;
    lockLatencies.push(performance.now() - t);
  });
  const lockRate = N / ((performance.now() - lockStart) / 1000);
  const lockHeld = JSON.parse((await http.send('GET', `${lockUrl}/held`)).body) as { n: number; d: number };
  await stopAll([lockServer.child]);

  // 4. and 5. Ours through the API, with each client flow: POST then long-poll (`poll`), or POST
  // with `Prefer: wait=10`, which answers with the final status when it comes in time (`prefer`).
  const api = await startProcess('api', env);
  children.push(api.child);
  type Flow = 'poll' | 'prefer';
  const flows: Flow[] =
    values.only === 'poll' || values.only === 'prefer' ? [values.only] : ['poll', 'prefer'];
  const perfs = new Map<string, { performanceId: number; seatIds: number[] }>();
  for (const f of flows) {
    perfs.set(
      `closed-${f}`,
      await seedPerformance(ctx.catalogue, seats, { name: `bench ${f}`, admissionCapacity: 1_000_000 }),
    );
    perfs.set(
      `open-${f}`,
      await seedPerformance(ctx.catalogue, OPEN_N, { name: `bench open ${f}`, admissionCapacity: 1_000_000 }),
    );
  }
  console.log('joining the waiting rooms …');
  await pool(tokens, 50, async (token) => {
    for (const p of perfs.values()) {
      const r = await http.send('POST', `${api.url}/api/performances/${p.performanceId}/waiting`, { token });
      if (r.status !== 200) throw new Error(`join: ${r.status}`);
    }
  });

  /** The answers that counted as errors, by kind: printed with the invariants when there are any. */
  const refusals = new Map<string, number>();
  const refused = (what: string) => {
    const kind = what.replace(/\d{3,}/g, 'N');
    refusals.set(kind, (refusals.get(kind) ?? 0) + 1);
    return false;
  };
  /** A hold until its final status, the client's whole wait; false on any error. */
  const holdUntilFinal = async (flow: Flow, performanceId: number, seatId: number, token: string) => {
    const r = await http.send('POST', `${api.url}/api/performances/${performanceId}/holds`, {
      token,
      body: { seatIds: [seatId] },
      ...(flow === 'prefer' ? { headers: { prefer: 'wait=10' } } : {}),
    });
    if (r.status === 200) return true; // final within the preferred wait
    if (r.status !== 202) return refused(`POST ${r.status} ${r.body.slice(0, 120)}`);
    const { requestId } = JSON.parse(r.body) as { requestId: number };
    for (;;) {
      const s = await http.send('GET', `${api.url}/api/requests/${requestId}?waitSeconds=10`, { token });
      if (s.status !== 200) return refused(`GET ${s.status} ${s.body.slice(0, 120)}`);
      const body = JSON.parse(s.body) as { status: string };
      if (body.status === 'succeeded' || body.status === 'rejected') return true;
    }
  };

  type Run = { rate: number; latencies: number[]; check: { ok: boolean; text: string }; extra: string };
  const finish = async (
    performanceId: number,
    latencies: number[],
    errors: number,
    seconds: number,
    n: number,
  ) => {
    const rows = await HoldRequest.findAll({ where: { performanceId }, order: [['queueSeq', 'ASC']] });
    const batches = new Set(rows.map((r) => r.processedAt?.getTime())).size;
    const commit = rows
      .map((r) => (r.processedAt?.getTime() ?? 0) - r.createdAt.getTime())
      .sort((a, b) => a - b);
    latencies.sort((a, b) => a - b);
    return {
      rate: n / seconds,
      latencies,
      check: checkRun(rows, errors),
      extra: `${batches} transactions; insert -> commit p50 ${ms(percentile(commit, 50))} p99 ${ms(percentile(commit, 99))}`,
    } satisfies Run;
  };

  const closed = new Map<Flow, Run>();
  for (const f of flows) {
    console.log(`4/5 ours end to end (${f}): ${N} holds, ${CONCURRENCY} in flight …`);
    const p = perfs.get(`closed-${f}`)!;
    await openConnections(`${api.url}/healthz`);
    const latencies: number[] = [];
    let errors = 0;
    const start = performance.now();
    await pool(closedAsks, CONCURRENCY, async (a) => {
      const t = performance.now();
      if (!(await holdUntilFinal(f, p.performanceId, p.seatIds[a.seat]!, tokens[a.member]!))) errors++;
      latencies.push(performance.now() - t);
    });
    closed.set(f, await finish(p.performanceId, latencies, errors, (performance.now() - start) / 1000, N));
  }

  const open = new Map<Flow, Run & { late: number }>();
  for (const f of flows) {
    console.log(`5/5 ours open loop (${f}): ${RATE} holds/s offered for ${values.seconds} s …`);
    const p = perfs.get(`open-${f}`)!;
    await openConnections(`${api.url}/healthz`);
    const latencies: number[] = [];
    let errors = 0;
    let late = 0;
    const t0 = performance.now() + 100;
    await Promise.all(
      asks(OPEN_N, OPEN_N).map(async (a, i) => {
        const at = t0 + (i * 1000) / RATE;
        const wait = at - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        else late++;
        if (!(await holdUntilFinal(f, p.performanceId, p.seatIds[a.seat]!, tokens[a.member]!))) errors++;
        latencies.push(performance.now() - at);
      }),
    );
    open.set(f, {
      ...(await finish(p.performanceId, latencies, errors, (performance.now() - t0) / 1000, OPEN_N)),
      late,
    });
  }

  lockLatencies.sort((a, b) => a - b);
  const runs = [...closed.values(), ...open.values()];
  const ok = drainCheck.ok && runs.every((r) => r.check.ok) && lockErrors === 0 && lockHeld.n === lockHeld.d;
  const meets = (x: boolean) => (x ? 'meets' : 'MISSES');
  const lat = (l: number[]) =>
    `p50 ${ms(percentile(l, 50))}  p95 ${ms(percentile(l, 95))}  p99 ${ms(percentile(l, 99))}  max ${ms(l[l.length - 1] ?? NaN)}`;
  const p99 = (r: Run) => percentile(r.latencies, 99);
  const name: Record<Flow, string> = { poll: 'POST + poll ', prefer: 'Prefer: wait' };
  report(
    [
      '',
      `hold pipeline, 1 worker process, ${values.contended ? `contended (${seats} seats)` : 'distinct seats'}, batch limit ${config.batchMaxJobs}`,
      `  BullMQ no-op, global concurrency 1      ${noopRate.toFixed(0)} jobs/s (median of ${noopRates.map((r) => r.toFixed(0)).join(', ')}: drains of ${N} pre-filled jobs)`,
      `  ours, drain                             ${ourDrain.toFixed(0)} holds/s (median of ${ourRates.map((r) => r.toFixed(0)).join(', ')}: ${N} pre-enqueued holds, ${drainBatches} transactions each)`,
      `  lock design, ${CONCURRENCY} in flight              ${lockRate.toFixed(0)} holds/s  ${lat(lockLatencies)}`,
      ...[...closed].map(
        ([f, r]) =>
          `  ours, ${CONCURRENCY} in flight, ${name[f]}       ${r.rate.toFixed(0)} holds/s  ${lat(r.latencies)}  (${r.extra})`,
      ),
      ...[...open].map(
        ([f, r]) =>
          `  ours, ${RATE}/s offered, ${name[f]}      ${r.rate.toFixed(0)} holds/s  ${lat(r.latencies)}${r.late ? ` (${r.late} started late)` : ''}`,
      ),
      '',
      `  drain / BullMQ no-op                    ${(ourDrain / noopRate).toFixed(2)}   target >= 0.80  ${meets(ourDrain / noopRate >= 0.8)}`,
      ...[...closed].map(
        ([f, r]) =>
          `  end to end / lock design, ${name[f]}  ${(r.rate / lockRate).toFixed(2)}   target >= 1.00  ${meets(r.rate / lockRate >= 1)}`,
      ),
      ...[...open].map(
        ([f, r]) =>
          `  p99 at ${RATE}/s, ${name[f]}            ${ms(p99(r))}   target < 100 ms  ${meets(p99(r) < 100)}`,
      ),
      `  invariants                              ${ok ? 'OK' : 'VIOLATED'}: drain ${drainCheck.text}; ${[...closed].map(([f, r]) => `closed ${f} ${r.check.text}`).join('; ')}; ${[...open].map(([f, r]) => `open ${f} ${r.check.text}`).join('; ')}; lock design ${lockErrors} errors, ${lockHeld.n} held / ${lockHeld.d} distinct`,
      ...[...refusals].map(([kind, k]) => `    ${k} × ${kind}`),
    ].join('\n'),
  );
  if (!ok) process.exitCode = 1;
} finally {
  http.close();
  await stopAll(children);
  await ctx.close();
}

/** Invariants 1-3 of a run: every request final, outcomes in enqueue order, no client errors. */
function checkRun(rows: HoldRequest[], errors: number): { ok: boolean; text: string } {
  const queued = rows.filter((r) => r.status === 'queued').length;
  const wrong = replayHolds(rows, 4).outOfOrder;
  return {
    ok: queued === 0 && wrong === 0 && errors === 0,
    text: `${queued} not final, ${wrong} out of order, ${errors} errors`,
  };
}

/**
 * Every timed phase starts with the generator's connections open, as clients arrive from the
 * waiting room with theirs: otherwise the first phase on a fresh server pays for accepting them.
 */
async function openConnections(url: string): Promise<void> {
  console.log(`  connections open (${(await http.open(url)).toFixed(0)} ms)`);
}

async function post(url: string, body: unknown): Promise<{ status: number }> {
  return http.send('POST', url, { body });
}
