// npm run bench:fairness -- [--pre-queue 100000] [--admissions 5000] [--log 100000] [--concurrency 50] [--rounds 3] [--only draw|log|verify]
//
// The fairness targets (issue 15), each printed as a number, its baseline from the same run and the ratio:
//   draw     a shuffle-at-open room whose pre-queue holds P members opens with one worker running:
//            the time from salesOpenAt to the first admission (target < 2 s), against a FIFO room
//            with a line of P members opening the same way;
//   log      admissions per second when every admission is written to the log before it counts
//            (A members joining an open room of capacity A, C in flight: each join admits itself;
//            the clock stops when the last join is answered and, with the log, the last entry is
//            in MySQL, written by a worker process's log writer), against the same room without the
//            admission log (target: ≥ 0.90 of it); R rounds, alternating which goes first, the
//            median printed, with each round's CPU per admission in the joining and worker processes;
//   verify   `verify` over a log of L entries served by the API (target < 10 s), against fetching
//            the same pages without checking them.
// Typical run: about a minute with the defaults. Exits 1 if a target's own check fails.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { seedPerformance } from '../shared/testing/seed.js';
import { SaleControls } from '../shared/sales/sale-controls.service.js';
import { bindDeployment } from '../shared/context.js';
import { WaitingRoom } from '../shared/waiting-room/waiting-room.js';
import { GENESIS, entryHashOf, memberHashOf, type LogEntry } from '../shared/domain/fairness.js';
import { verifyFairness } from './lib/fairness-verifier.js';
import { benchDeployment, pool, startProcess, stopAll } from './lib/processes.js';

const HELP =
  'usage: npm run bench:fairness -- [--pre-queue 100000] [--admissions 5000] [--log 100000] [--concurrency 50] [--rounds 3] [--only draw|log|verify]';
let parsed;
try {
  parsed = parseArgs({
    options: {
      'pre-queue': { type: 'string', default: '100000' },
      admissions: { type: 'string', default: '5000' },
      log: { type: 'string', default: '100000' },
      concurrency: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '3' },
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
const ROUNDS = Math.max(1, Number(v.rounds));
const only = v.only;

const { env, config, ctx } = await benchDeployment('fair', { LOG_LEVEL: 'error' });
// Heads go out on the deployment's channels, where the workers hear them.
await bindDeployment(ctx);
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

/** CPU time (ms) a process has used so far, from /proc (Linux); undefined where there is none. */
function cpuMsOf(pid: number | undefined): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

type LogRun = { perSecond: number; joinerUs: number; workerUs?: number };

async function admissionsPerSecond(withLog: boolean, worker: number | undefined): Promise<LogRun> {
  const { performanceId: id } = await seedPerformance(ctx.catalogue, 10, {
    name: 'bench log',
    admissionCapacity: ADMISSIONS,
  });
  await controls.applyLatest(id);
  const room = withLog
    ? ctx.waitingRoom
    : new WaitingRoom(ctx.redis, config.keyPrefix, config.admissionIdleSeconds, false);
  const ids = Array.from({ length: ADMISSIONS }, (_, i) => 20_000_000 + i);
  let answered = 0;
  const cpu0 = process.cpuUsage();
  const worker0 = cpuMsOf(worker);
  const start = performance.now();
  await pool(ids, CONCURRENCY, async (m) => {
    const s = await room.join(id, m, ADMISSIONS, async () => 'open');
    // With the log, a join that admits answers "next" (position 1) until its entry is written.
    if (s.status === 'admitted' || (withLog && s.pending && s.position === 1)) answered++;
  });
  const joined = performance.now();
  // An admission counts once it is in the log: the clock stops when the last one is written (by
  // the worker process's log writer, woken when the room's list of admissions to log fills).
  while (withLog && (await room.loggedThrough(id)) < ADMISSIONS) {
    if (performance.now() - joined > 30_000)
      throw new Error('the log writer did not write the admissions within 30 s');
    await new Promise((r) => setTimeout(r, 2));
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const worker1 = cpuMsOf(worker);
  if (answered !== ADMISSIONS) {
    console.error(
      `log bench: ${answered} of ${ADMISSIONS} joins answered admitted (or next, pending the log)`,
    );
    ok = false;
  }
  const still = await pool(ids, CONCURRENCY, async (m) => {
    const s = await room.status(id, m, false);
    return 'status' in s && s.status === 'admitted' ? 0 : 1;
  });
  const notAdmitted = still.reduce((a: number, b: number) => a + b, 0);
  if (notAdmitted) {
    console.error(`log bench: ${notAdmitted} of ${ADMISSIONS} members do not read admitted after the run`);
    ok = false;
  }
  if (withLog) {
    const [rows] = (await ctx.sequelize.query(
      'SELECT COUNT(*) AS n FROM admission_log WHERE performance_id = ?',
      { replacements: [id] },
    )) as [{ n: number }[], unknown];
    if (Number(rows[0]?.n) !== ADMISSIONS) {
      console.error(`log bench: ${rows[0]?.n} log entries for ${ADMISSIONS} admissions`);
      ok = false;
    }
  }
  return {
    perSecond: ADMISSIONS / seconds,
    joinerUs: (cpu.user + cpu.system) / ADMISSIONS,
    ...(worker0 !== undefined && worker1 !== undefined
      ? { workerUs: ((worker1 - worker0) * 1000) / ADMISSIONS }
      : {}),
  };
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
    // A worker process runs in both (its ticker; with the log, its log writer). Rounds alternate
    // which room goes first, so a neighbour's load on this shared machine falls on both alike.
    const worker = (await startProcess('workers', env)).child;
    children.push(worker);
    const runs: { without: LogRun; withLog: LogRun }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let without: LogRun, withLog: LogRun;
      if (r % 2 === 0) {
        without = await admissionsPerSecond(false, worker.pid);
        withLog = await admissionsPerSecond(true, worker.pid);
      } else {
        withLog = await admissionsPerSecond(true, worker.pid);
        without = await admissionsPerSecond(false, worker.pid);
      }
      runs.push({ without, withLog });
      const us = (l: LogRun) =>
        `CPU per admission: joining process ${l.joinerUs.toFixed(0)} µs, worker ${l.workerUs?.toFixed(0) ?? '?'} µs`;
      console.log(
        `  round ${r + 1}: with the log ${withLog.perSecond.toFixed(0)}/s, without ${without.perSecond.toFixed(0)}/s, ratio ${(withLog.perSecond / without.perSecond).toFixed(2)}`,
      );
      console.log(`    with the log:    ${us(withLog)}`);
      console.log(`    without the log: ${us(without)}`);
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    row(
      'log: admissions per second',
      median(runs.map((x) => x.withLog.perSecond)),
      median(runs.map((x) => x.without.perSecond)),
      '/s',
      `median of ${ROUNDS} rounds, ${CONCURRENCY} joins in flight; baseline the room without the log; target ratio ≥ 0.90`,
    );
    await stopAll(children.splice(0));
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
