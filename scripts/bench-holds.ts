// npm run bench:holds -- [--requests 2000] [--concurrency 200] [--contended]
//
// Throughput of one performance's hold pipeline with ONE worker process, and latency from the
// POST to the final status seen by the client. The baseline, measured in the same run on the same
// database, applies the same number of holds with the same transaction code directly (no API, no
// queue): the ratio shows what the ordered queue costs. Checks invariants 1-3 at the end.
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { signAccessToken } from '../shared/auth/tokens.js';
import { seedMembers, seedPerformance } from '../shared/testing/seed.js';
import { HoldRequest } from '../shared/db/models/index.js';
import { applySeatJob } from '../workers/processors/seat-job.processor.js';
import { replayHolds } from '../shared/testing/replay.js';
import { benchDeployment, startProcess, stopAll, percentile, ms, pool } from './lib/processes.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '200' },
    contended: { type: 'boolean', default: false },
  },
});
const N = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);

const { env, config, ctx } = await benchDeployment('bench', {
  RATE_LIMIT_MEMBER_PER_SECOND: '0',
  MAX_SEATS_PER_MEMBER: '4',
});
const children: ChildProcess[] = [];

try {
  const seats = values.contended ? Math.max(10, Math.floor(N / 10)) : N;
  const memberCount = Math.ceil(N / 4);
  console.log(`seeding: 3 performances of ${seats} seats, ${memberCount} members …`);
  const perf = await seedPerformance(ctx.catalogue, seats, { name: 'bench', admissionCapacity: 1_000_000 });
  const base = await seedPerformance(ctx.catalogue, seats, { name: 'bench baseline' });
  const members = await seedMembers(memberCount, 'password-1234');
  const tokens = await Promise.all(
    members.map((m) => signAccessToken(config.jwtSecret, { memberId: m.id, role: 'USER' }, 3600)),
  );
  // Request i asks for seat i (or a random seat of a tenth as many, with --contended), member i/4.
  const asks = Array.from({ length: N }, (_, i) => ({
    member: Math.floor(i / 4),
    seat: values.contended ? Math.floor(Math.random() * seats) : i,
  }));

  /** The asks as recorded hold requests of a performance, with the job each one becomes. */
  const record = async (p: { performanceId: number; seatIds: number[] }) => {
    const rows = await HoldRequest.bulkCreate(
      asks.map((a) => ({
        performanceId: p.performanceId,
        memberId: members[a.member]!.id,
        kind: 'hold' as const,
        idempotencyKey: null,
        payload: JSON.stringify({ seatIds: [p.seatIds[a.seat]] }),
      })),
    );
    return rows.map((row, i) => ({
      row,
      job: {
        kind: 'hold' as const,
        requestId: row.id,
        performanceId: p.performanceId,
        memberId: members[asks[i]!.member]!.id,
        seatIds: [p.seatIds[asks[i]!.seat]!],
      },
    }));
  };

  // Baseline: the same holds, applied directly and sequentially with the worker's transaction code.
  const baseline = await record(base);
  const t0 = performance.now();
  for (const { job } of baseline) await ctx.sequelize.transaction((t) => applySeatJob(ctx, job, t));
  const baselineRate = N / ((performance.now() - t0) / 1000);

  // Drain: the same holds pre-enqueued on a third performance, then one worker process started:
  // the pure queue + commit rate, with no API or client competing for the two cores.
  const drain = await seedPerformance(ctx.catalogue, seats, { name: 'bench drain' });
  for (const { row, job } of await record(drain))
    await row.update({ queueSeq: await ctx.queues.addRequest(job) });
  const drainWorker = await startProcess('workers', env);
  children.push(drainWorker.child);
  while ((await HoldRequest.count({ where: { performanceId: drain.performanceId, status: 'queued' } })) > 0)
    await new Promise((r) => setTimeout(r, 20));
  const span = (
    await HoldRequest.findAll({ where: { performanceId: drain.performanceId }, attributes: ['processedAt'] })
  ).map((r) => r.processedAt!.getTime());
  const drainRate = (N - 1) / ((Math.max(...span) - Math.min(...span)) / 1000);

  const api = await startProcess('api', env);
  children.push(api.child);
  for (const [i, token] of tokens.entries()) {
    const r = await fetch(`${api.url}/api/performances/${perf.performanceId}/waiting`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    if (r.status !== 200) throw new Error(`join ${i}: ${r.status}`);
  }

  console.log(`running: ${N} hold requests, ${CONCURRENCY} in flight, 1 worker process …`);
  const latencies: number[] = [];
  const enqueueLatencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  await pool(asks, CONCURRENCY, async (a) => {
    const token = tokens[a.member]!;
    const t = performance.now();
    const r = await fetch(`${api.url}/api/performances/${perf.performanceId}/holds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ seatIds: [perf.seatIds[a.seat]] }),
    });
    enqueueLatencies.push(performance.now() - t);
    if (r.status !== 202) return void errors++;
    const { requestId } = (await r.json()) as { requestId: number };
    for (;;) {
      const s = await fetch(`${api.url}/api/requests/${requestId}?waitSeconds=10`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await s.json()) as { status: string };
      if (s.status !== 200) return void errors++;
      if (body.status === 'succeeded' || body.status === 'rejected') break;
    }
    latencies.push(performance.now() - t);
  });
  const wall = (performance.now() - started) / 1000;

  const rows = await HoldRequest.findAll({
    where: { performanceId: perf.performanceId },
    order: [['queueSeq', 'ASC']],
  });
  const first = Math.min(...rows.map((r) => r.createdAt.getTime()));
  const last = Math.max(...rows.map((r) => r.processedAt?.getTime() ?? 0));
  const committedRate = rows.length / ((last - first) / 1000);
  // Invariants: all final, none applied twice, outcomes follow enqueue order.
  const wrong = replayHolds(rows, 4).outOfOrder;
  const queued = rows.filter((r) => r.status === 'queued').length;
  latencies.sort((a, b) => a - b);
  enqueueLatencies.sort((a, b) => a - b);
  console.log(`
hold pipeline, one performance, 1 worker process (${values.contended ? 'contended' : 'distinct seats'})
  requests               ${N} (${rows.filter((r) => r.status === 'succeeded').length} succeeded, ${rows.filter((r) => r.status === 'rejected').length} rejected, ${errors} errors)
  drain                  ${drainRate.toFixed(0)} requests/s committed from a pre-filled queue (first to last commit)
  committed              ${committedRate.toFixed(0)} requests/s under HTTP load (first enqueue to last commit)
  client wall time       ${wall.toFixed(2)} s (${(N / wall).toFixed(0)} requests/s end to end)
  request -> final       p50 ${ms(percentile(latencies, 50))}  p95 ${ms(percentile(latencies, 95))}  p99 ${ms(percentile(latencies, 99))}  max ${ms(latencies[latencies.length - 1] ?? NaN)}
  of which the 202      p50 ${ms(percentile(enqueueLatencies, 50))}  p99 ${ms(percentile(enqueueLatencies, 99))} (POST until accepted)
  baseline               ${baselineRate.toFixed(0)} holds/s applied directly, sequentially, same transaction code, no queue
  ratio                  ${(drainRate / baselineRate).toFixed(2)} drain / direct, ${(committedRate / baselineRate).toFixed(2)} under HTTP load / direct
  invariants             ${queued === 0 && wrong === 0 && errors === 0 ? 'OK' : 'VIOLATED'}: ${queued} not final, ${wrong} outcomes out of enqueue order`);
  if (queued || wrong || errors) process.exitCode = 1;
} finally {
  await stopAll(children);
  await ctx.close();
}
