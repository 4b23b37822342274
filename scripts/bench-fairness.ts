// npm run bench:fairness -- [--pre-queue 100000] [--admissions 3000] [--log 100000] [--concurrency 50] [--only draw|log|verify]
//
// The fairness targets (issue 15), each printed as a number, its baseline from the same run and the ratio:
//   draw     a shuffle-at-open room whose pre-queue holds P members opens with one worker running:
//            the time from salesOpenAt to the first admission (target < 2 s), against a FIFO room
//            with a line of P members opening the same way;
//   log      admissions per second when every admission is written to the log before it counts
//            (A members joining an open room of capacity A, C in flight: each join admits itself),
//            against the same room without the admission log (target: ≥ 0.90 of it);
//   verify   `verify` over a log of L entries served by the API (target < 10 s), against fetching
//            the same pages without checking them.
// Typical run: about a minute with the defaults. Exits 1 if a target's own check fails.
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { seedPerformance } from '../shared/testing/seed.js';
import { SaleControls } from '../shared/sales/sale-controls.service.js';
import { WaitingRoom } from '../shared/waiting-room/waiting-room.js';
import { GENESIS, entryHashOf, memberHashOf, type LogEntry } from '../shared/domain/fairness.js';
import { verifyFairness } from './lib/fairness-verifier.js';
import { benchDeployment, pool, startProcess, stopAll } from './lib/processes.js';

const HELP =
  'usage: npm run bench:fairness -- [--pre-queue 100000] [--admissions 3000] [--log 100000] [--concurrency 50] [--only draw|log|verify]';
let parsed;
try {
  parsed = parseArgs({
    options: {
      'pre-queue': { type: 'string', default: '100000' },
      admissions: { type: 'string', default: '3000' },
      log: { type: 'string', default: '100000' },
      concurrency: { type: 'string', default: '50' },
      only: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
} catch (err) {
  console.error(`bench-fairness: ${(err as Error).message}\n${HELP}`);
  process.exit(2);
}
const v = parsed.values;
if (v.help) {
  console.log(HELP);
  process.exit(0);
}
const PRE = Number(v['pre-queue']);
const ADMISSIONS = Number(v.admissions);
const LOG = Number(v.log);
const CONCURRENCY = Number(v.concurrency);
const only = v.only;

const { env, config, ctx } = await benchDeployment('fair', { LOG_LEVEL: 'error' });
const controls = new SaleControls(ctx);
const children: ChildProcess[] = [];
let ok = true;
const row = (name: string, ours: number, baseline: number, unit: string, note: string) =>
  console.log(
    `${name.padEnd(34)} ${ours.toFixed(unit === 's' ? 3 : 0).padStart(9)} ${unit}   baseline ${baseline
      .toFixed(unit === 's' ? 3 : 0)
      .padStart(9)} ${unit}   ratio ${(ours / baseline).toFixed(2)}   ${note}`,
  );

async function firstAdmissionAfterOpening(shuffle: boolean): Promise<number> {
  const { performanceId: id } = await seedPerformance(ctx.catalogue, 10, {
    name: 'bench draw',
    admissionCapacity: 100,
  });
  const k = ctx.waitingRoom.keys(id);
  const opensAt = new Date(Date.now() + 3_600_000);
  await ctx.fairness.ensure(id);
  await controls.update(id, {
    salesOpenAt: opensAt.toISOString(),
    queueMode: shuffle ? 'shuffle-at-open' : 'fifo',
  });
  // The pre-queue (or, FIFO, the line) as P joins would leave it, written straight to Redis.
  for (let i = 0; i < PRE; i += 5000) {
    const args: (string | number)[] = [];
    for (let j = i; j < Math.min(PRE, i + 5000); j++) args.push(j + 1, 10_000_000 + j);
    await ctx.redis.zadd(shuffle ? k.pre : k.line, ...args);
  }
  await ctx.redis.set(shuffle ? k.preseq : k.seq, PRE);
  await ctx.redis.sadd(`${config.keyPrefix}:wr:active`, String(id));
  // The pre-queue fills over 5 s before opening (a real one, over minutes).
  const opening = Date.now() + 5000;
  await controls.update(id, { salesOpenAt: new Date(opening).toISOString() });
  for (;;) {
    const [rows] = (await ctx.sequelize.query(
      'SELECT admitted_at FROM admission_log WHERE performance_id = ? AND n = 1',
      { replacements: [id] },
    )) as [{ admitted_at: Date }[], unknown];
    // When the first admission is in the log, that is when its member can learn of it.
    if (rows[0]) return (Date.now() - opening) / 1000;
    if (Date.now() > opening + 30_000) throw new Error('no admission within 30 s of opening');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function admissionsPerSecond(withLog: boolean): Promise<number> {
  const { performanceId: id } = await seedPerformance(ctx.catalogue, 10, {
    name: 'bench log',
    admissionCapacity: ADMISSIONS,
  });
  await controls.applyLatest(id);
  const room = withLog
    ? ctx.waitingRoom
    : new WaitingRoom(ctx.redis, config.keyPrefix, config.admissionIdleSeconds, false);
  const ids = Array.from({ length: ADMISSIONS }, (_, i) => 20_000_000 + i);
  let admitted = 0;
  const start = performance.now();
  await pool(ids, CONCURRENCY, async (m) => {
    const s = await room.join(id, m, ADMISSIONS, async () => 'open');
    if (s.status === 'admitted') admitted++;
  });
  const seconds = (performance.now() - start) / 1000;
  if (admitted !== ADMISSIONS) {
    console.error(`log bench: ${admitted} of ${ADMISSIONS} joins answered admitted`);
    ok = false;
  }
  if (withLog) {
    const [rows] = (await ctx.sequelize.query(
      'SELECT COUNT(*) AS n FROM admission_log WHERE performance_id = ?',
      {
        replacements: [id],
      },
    )) as [{ n: number }[], unknown];
    if (Number(rows[0]?.n) !== ADMISSIONS) {
      console.error(`log bench: ${rows[0]?.n} log entries for ${ADMISSIONS} admissions`);
      ok = false;
    }
  }
  return ADMISSIONS / seconds;
}

/** A performance whose log holds L well-formed entries (FIFO, written straight to MySQL). */
async function syntheticLog(): Promise<number> {
  const { performanceId: id } = await seedPerformance(ctx.catalogue, 10, { name: 'bench verify' });
  const draw = await ctx.fairness.ensure(id);
  let prev = GENESIS;
  const t0 = Date.now() - LOG * 10;
  for (let i = 0; i < LOG; i += 5000) {
    const values: string[] = [];
    for (let n = i + 1; n <= Math.min(LOG, i + 5000); n++) {
      const e: Omit<LogEntry, 'hash'> = {
        n,
        epoch: '1',
        ticket: n,
        memberHash: memberHashOf(draw.salt, 30_000_000 + n),
        at: new Date(t0 + n * 10).toISOString(),
        trigger: 'ticker',
        capacity: 100,
        occupancy: 50,
        perMinute: 0,
        prev,
      };
      prev = entryHashOf(e);
      values.push(
        `(${id},${n},1,${n},${n},${30_000_000 + n},'${e.memberHash}','${e.at.replace('T', ' ').replace('Z', '')}','ticker',100,50,0,'${e.prev}','${prev}')`,
      );
    }
    await ctx.sequelize.query(
      `INSERT INTO admission_log (performance_id, n, room_gen, rseq, ticket, member_id, member_hash, admitted_at,
         \`trigger\`, capacity, occupancy, per_minute, prev, hash) VALUES ${values.join(',')}`,
    );
  }
  await ctx.sequelize.query(
    'UPDATE fairness_draws SET log_length = ?, log_head = ? WHERE performance_id = ?',
    {
      replacements: [LOG, prev, id],
    },
  );
  return id;
}

try {
  if (!only || only === 'draw') {
    children.push((await startProcess('workers', env)).child);
    const fifo = await firstAdmissionAfterOpening(false);
    const shuffled = await firstAdmissionAfterOpening(true);
    row(
      `draw: first admission, pre-queue ${PRE}`,
      shuffled,
      fifo,
      's',
      'after salesOpenAt; baseline a FIFO line of the same size; target < 2 s',
    );
    if (shuffled >= 2) ok = false;
    await stopAll(children.splice(0));
  }
  if (!only || only === 'log') {
    const without = await admissionsPerSecond(false);
    const withLog = await admissionsPerSecond(true);
    row(
      'log: admissions per second',
      withLog,
      without,
      '/s',
      `${CONCURRENCY} joins in flight; baseline the room without the log; target ratio ≥ 0.90`,
    );
  }
  if (!only || only === 'verify') {
    const id = await syntheticLog();
    const api = await startProcess('api', env);
    children.push(api.child);
    const base = `${api.url}/api/performances/${id}`;
    let t = performance.now();
    for (let after = 0; ;) {
      const page = (await (await fetch(`${base}/fairness/log?after=${after}`)).json()) as { next?: number };
      if (page.next === undefined) break;
      after = page.next;
    }
    const fetchOnly = (performance.now() - t) / 1000;
    t = performance.now();
    const verdict = await verifyFairness(api.url!, id);
    const seconds = (performance.now() - t) / 1000;
    if (!verdict.ok || verdict.entries !== LOG || seconds >= 10) ok = false;
    row(
      `verify: a log of ${LOG} entries`,
      seconds,
      fetchOnly,
      's',
      `baseline fetching the same pages; target < 10 s; ${verdict.ok ? 'VERIFIED' : 'BROKEN'}`,
    );
  }
} finally {
  await stopAll(children);
  await ctx.close();
}
console.log(ok ? 'fairness benchmarks: checks OK' : 'fairness benchmarks: A CHECK FAILED');
process.exit(ok ? 0 : 1);
