// npm run bench -- [--holds-requests 2000] [--line 10000] [--seconds 10] [--concurrency 64] [--only line|startup]
//
// Every benchmark in one command, each against a baseline measured in the same run, then one table:
//   holds          `bench-holds.ts` (its five runs: BullMQ no-op, our drain, the lock design, ours end
//                  to end, open loop), run as it is and read from its output;
//   status polls   GET /api/performances/:id/waiting of members in a line of L, N in flight for S s,
//                  with a worker running (its admission ticker publishes the heads the API answers
//                  far-back members from), against a bare Express route reading the same place
//                  from a Redis sorted set;
//   line memory    Redis bytes per waiting member (MEMORY USAGE of the line) against a bare sorted
//                  set of the same members and tickets;
//   admission log  admissions per second with the admission log against the room without it
//                  (`bench-fairness.ts --only log`; the draw and verify targets: npm run bench:fairness);
//   API memory     resident memory of the API process after the joins and at the end of the status-poll load,
//                  against the bare Express process under the same load;
//   start-up       time to listening and idle memory of the compiled API (dist/) against tsx (--only startup);
//   failover       `bench-failover.ts` (a killed, a frozen holder, its after-commit work, the catch-up, a
//                  Redis restart; 1 API + 2 worker processes), against issue 17's numbers (--only failover);
//   tracing        the hold path (POST with `Prefer: wait`, closed loop) with tracing on (exporting to a
//                  local OTLP receiver; every request, and a tenth) and off (the preload, variable unset)
//                  against the same code started without the preload, rounds alternating (--only tracing);
//                  --tracing-without http,… measures what tracing costs with those instrumentations out.
// Exits 1 if a benchmark's own invariant check fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { signAccessToken } from '../shared/auth/tokens.js';
import { seedMembers, seedPerformance } from '../shared/testing/seed.js';
import { startOtlpReceiver } from '../shared/testing/otlp-receiver.js';
import { HttpClient } from './lib/http-client.js';
import { cpuSeconds, rssBytes } from './lib/proc-stats.js';
import { parseCli } from './lib/cli.js';
import { benchDeployment, percentile, pool, startProcess, startScript, stopAll } from './lib/processes.js';

const { values } = parseCli({
  command: 'npm run bench --',
  summary:
    'Every benchmark against a baseline measured in the same run, then one table of ratios\n' +
    '(holds, status polls, line memory, API memory, start-up and idle memory of the compiled API).',
  runTime:
    'about 10 to 14 minutes with the defaults; --only line about 1 minute; --only failover about 5 minutes',
  options: {
    'holds-requests': {
      type: 'string',
      default: '2000',
      value: 'N',
      description: 'hold requests per bench:holds run',
    },
    line: { type: 'string', default: '10000', value: 'L', description: 'members in the waiting line' },
    seconds: { type: 'string', default: '10', value: 'S', description: 'length of the status-poll load' },
    concurrency: { type: 'string', default: '64', value: 'C', description: 'status polls in flight' },
    only: { type: 'string', value: 'line|startup|failover|tracing', description: 'run one group only' },
    'failover-runs': { type: 'string', default: '2', value: 'N', description: 'runs of each failover fault' },
    'failover-freeze': {
      type: 'string',
      default: '20',
      value: 'S',
      description: 'seconds a frozen holder stays stopped',
    },
    'tracing-holds': {
      type: 'string',
      default: '1500',
      value: 'N',
      description: 'holds per tracing run',
    },
    'tracing-rounds': {
      type: 'string',
      default: '3',
      value: 'R',
      description: 'rounds of the three tracing runs (medians are compared)',
    },
    'tracing-without': {
      type: 'string',
      default: '',
      value: 'LIST',
      description:
        'instrumentations the traced runs leave out (OTEL_NODE_DISABLED_INSTRUMENTATIONS: http, express, ioredis, mysql2, bullmq): what the rest costs',
    },
  },
});
const LINE = Number(values.line);
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

type Row = { bench: string; ours: string; baseline: string; ratio: string; note: string };
const rows: Row[] = [];
let ok = true;

/** Resident memory of a process in MiB (NaN once it is gone). */
async function rssMiB(pid: number | undefined): Promise<number> {
  const bytes = pid === undefined ? undefined : await rssBytes(pid);
  return bytes === undefined ? NaN : bytes / 2 ** 20;
}

/**
 * CPU time a process has used in ms: on a shared machine a steadier measure of a cost than
 * throughput, which the neighbours' load moves.
 */
async function cpuMs(pid: number | undefined): Promise<number> {
  const seconds = pid === undefined ? undefined : await cpuSeconds(pid);
  return seconds === undefined ? NaN : seconds * 1000;
}

/** `count` GETs of `urlOf(i)`, `CONCURRENCY` in flight for SECONDS: requests/s, p50, p99, errors. */
async function pollLoad(
  http: HttpClient,
  urlOf: (i: number) => string,
  tokenOf: (i: number) => string | undefined,
) {
  const latencies: number[] = [];
  let errors = 0;
  let i = 0;
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const n = i++ % LINE;
        const t = performance.now();
        const token = tokenOf(n);
        const r = await http.send('GET', urlOf(n), token ? { token } : {}).catch(() => ({ status: 0 }));
        latencies.push(performance.now() - t);
        if (r.status !== 200) errors++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    rate: latencies.length / ((performance.now() - start) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}

function run(file: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.on('close', (code) => resolve({ code, out }));
  });
}

const num = (re: RegExp, text: string) => Number(re.exec(text)?.[1] ?? NaN);

// 1. Holds: the hold pipeline bench, as it is (`--only line` skips it).
if (values.only === undefined) {
  console.log(`== holds: bench-holds.ts --requests ${values['holds-requests']}`);
  const holds = await run('scripts/bench-holds.ts', ['--requests', values['holds-requests']]);
  {
    const t = holds.out;
    const noop = num(/BullMQ no-op, global concurrency 1\s+(\d+) jobs\/s/, t);
    const drain = num(/ours, drain\s+(\d+) holds\/s/, t);
    const lock = num(/lock design, \d+ in flight\s+(\d+) holds\/s/, t);
    const poll = num(/in flight, POST \+ poll\s+(\d+) holds\/s/, t);
    const prefer = num(/in flight, Prefer: wait\s+(\d+) holds\/s/, t);
    const lockP99 = num(/lock design, \d+ in flight\s+\d+ holds\/s.*?p99 ([\d.]+) ms/, t);
    const preferP99 = num(/in flight, Prefer: wait\s+\d+ holds\/s.*?p99 ([\d.]+) ms/, t);
    const openP99 = num(/\/s offered, Prefer: wait\s+\d+ holds\/s.*?p99 ([\d.]+) ms/, t);
    const invariants = /invariants\s+OK/.test(t);
    if (holds.code !== 0 || !invariants) ok = false;
    const r = (a: number, b: number) => (a / b).toFixed(2);
    rows.push(
      {
        bench: 'holds: drain (jobs/s)',
        ours: drain.toFixed(0),
        baseline: `${noop.toFixed(0)} BullMQ no-op`,
        ratio: r(drain, noop),
        note: 'one worker, pre-filled queue',
      },
      {
        bench: 'holds: end to end, POST + poll (holds/s)',
        ours: poll.toFixed(0),
        baseline: `${lock.toFixed(0)} lock design`,
        ratio: r(poll, lock),
        note: '200 in flight',
      },
      {
        bench: 'holds: end to end, Prefer: wait (holds/s)',
        ours: prefer.toFixed(0),
        baseline: `${lock.toFixed(0)} lock design`,
        ratio: r(prefer, lock),
        note: '200 in flight',
      },
      {
        bench: 'holds: p99 to final status (ms)',
        ours: preferP99.toFixed(0),
        baseline: `${lockP99.toFixed(0)} lock design`,
        ratio: r(preferP99, lockP99),
        note: `open loop p99 ${openP99.toFixed(0)} ms; invariants ${invariants ? 'OK' : 'VIOLATED'}`,
      },
    );
  }
}

// 1b. The admission log's cost: admissions per second with the log against the room without it.
if (values.only === undefined || values.only === 'startup') {
  console.log('== fairness: bench-fairness.ts --only log');
  const fair = await run('scripts/bench-fairness.ts', ['--only', 'log']);
  const m = /log: admissions per second\s+(\d+) \/s\s+baseline\s+(\d+) \/s\s+ratio ([\d.]+)/.exec(fair.out);
  if (fair.code !== 0 || !m) ok = false;
  rows.push({
    bench: 'admission log: admissions/s',
    ours: m?.[1] ?? '?',
    baseline: `${m?.[2] ?? '?'} room without the log`,
    ratio: m?.[3] ?? '?',
    note: 'joins that admit themselves, 50 in flight; target ≥ 0.90',
  });
}

// 2-4. The waiting room: status polls, line memory, API memory.
if (values.only === undefined || values.only === 'line') {
  console.log(`== waiting room: a line of ${LINE}, ${CONCURRENCY} polls in flight for ${SECONDS} s`);
  const { env, config, ctx } = await benchDeployment('bench', { RATE_LIMIT_MEMBER_PER_SECOND: '0' });
  const children: ChildProcess[] = [];
  const http = new HttpClient(CONCURRENCY * 2);
  try {
    const perf = await seedPerformance(ctx.catalogue, 10, { name: 'bench line', admissionCapacity: 1 });
    const members = await seedMembers(LINE, 'password-1234');
    const tokens = await Promise.all(
      members.map((m) => signAccessToken(config.jwtSecret, { memberId: m.id, role: 'USER' }, 3600)),
    );
    const api = await startProcess('api', env);
    children.push(api.child);
    children.push((await startProcess('workers', env)).child);
    const path = `/api/performances/${perf.performanceId}/waiting`;
    await pool(tokens, 50, async (token) => {
      const r = await http.send('POST', `${api.url}${path}`, { token });
      if (r.status !== 200) throw new Error(`join: ${r.status}`);
    });
    const lineKey = ctx.waitingRoom.keys(perf.performanceId).line;
    const waiting = await ctx.redis.zcard(lineKey!);
    // Both routes are polled by the members still in line (one is admitted: capacity 1).
    const inLine = new Set((await ctx.redis.zrange(lineKey!, 0, -1)).map(Number));
    const polled = members.flatMap((m, i) => (inLine.has(m.id) ? [i] : []));
    const ourBytes = Number(await ctx.redis.memory('USAGE', lineKey!, 'SAMPLES', '0'));
    // The bare sorted set: the same members and tickets, nothing else.
    const bareKey = `${config.keyPrefix}:bare-line`;
    const entries = await ctx.redis.zrange(lineKey!, 0, -1, 'WITHSCORES');
    for (let i = 0; i < entries.length; i += 2000)
      await ctx.redis.zadd(
        bareKey,
        ...entries.slice(i, i + 2000).flatMap((_, j, a) => (j % 2 ? [] : [a[j + 1]!, a[j]!])),
      );
    const bareBytes = Number(await ctx.redis.memory('USAGE', bareKey, 'SAMPLES', '0'));

    const bare = await startScript(
      'scripts/lib/bare-status.ts',
      { BARE_REDIS_URL: config.redisUrl, BARE_KEY: bareKey },
      /"url":"(http:[^"]+)"/,
    );
    children.push(bare.child);
    const bareUrl = bare.match[1]!;
    const apiIdle = await rssMiB(api.child.pid);
    const bareIdle = await rssMiB(bare.child.pid);

    const ours = await pollLoad(
      http,
      () => `${api.url}${path}`,
      (i) => tokens[polled[i % polled.length]!],
    );
    const apiLoaded = await rssMiB(api.child.pid);
    const base = await pollLoad(
      http,
      (i) => `${bareUrl}/status/${members[polled[i % polled.length]!]!.id}`,
      () => undefined,
    );
    const bareLoaded = await rssMiB(bare.child.pid);
    if (ours.errors || base.errors || waiting !== LINE - 1) ok = false;
    rows.push(
      {
        bench: 'status polls (requests/s)',
        ours: ours.rate.toFixed(0),
        baseline: `${base.rate.toFixed(0)} bare Express + Redis`,
        ratio: (ours.rate / base.rate).toFixed(2),
        note: `${CONCURRENCY} in flight, ${ours.errors + base.errors} errors`,
      },
      {
        bench: 'status polls p50 / p99 (ms)',
        ours: `${ours.p50.toFixed(1)} / ${ours.p99.toFixed(1)}`,
        baseline: `${base.p50.toFixed(1)} / ${base.p99.toFixed(1)}`,
        ratio: (ours.p99 / base.p99).toFixed(2),
        note: 'ratio of the p99s',
      },
      {
        bench: 'line memory (bytes per member)',
        ours: (ourBytes / waiting).toFixed(1),
        baseline: `${(bareBytes / waiting).toFixed(1)} bare sorted set`,
        ratio: (ourBytes / bareBytes).toFixed(2),
        note: `a line of ${waiting}`,
      },
      {
        bench: 'API memory under load (MiB RSS)',
        ours: `${apiLoaded.toFixed(0)} (after the joins ${apiIdle.toFixed(0)})`,
        baseline: `${bareLoaded.toFixed(0)} (started ${bareIdle.toFixed(0)}) bare Express`,
        ratio: (apiLoaded / bareLoaded).toFixed(2),
        note: `after ${SECONDS} s of polls`,
      },
    );
    await ctx.redis.del(bareKey);
  } finally {
    http.close();
    await stopAll(children);
    await ctx.close();
  }
}

// 5. Start-up: the compiled API (`node dist/api/main.js`, as the image runs it) against the same
// API through tsx (`npm run start:api`): time from spawn to listening, and resident memory idle.
if (values.only === undefined || values.only === 'startup') {
  console.log('== start-up: compiled API against tsx, 3 starts each');
  const built = await new Promise<number | null>((resolve) =>
    spawn(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' }).on('close', resolve),
  );
  if (built !== 0) throw new Error('npm run build failed');
  const { env, ctx } = await benchDeployment('boot', {});
  const startOnce = async (args: string[]) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('api listening')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`API exited ${code}: ${out}`)));
    });
    const ms = performance.now() - started;
    await new Promise((r) => setTimeout(r, 2000));
    const rss = await rssMiB(child.pid);
    await stopAll([child]);
    return { ms, rss };
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const compiled: { ms: number; rss: number }[] = [];
  const viaTsx: { ms: number; rss: number }[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      compiled.push(await startOnce(['dist/api/main.js']));
      viaTsx.push(await startOnce(['--import', 'tsx', 'api/main.ts']));
    }
  } finally {
    await ctx.close();
  }
  const [cMs, tMs] = [median(compiled.map((r) => r.ms)), median(viaTsx.map((r) => r.ms))];
  const [cRss, tRss] = [median(compiled.map((r) => r.rss)), median(viaTsx.map((r) => r.rss))];
  rows.push(
    {
      bench: 'API start-up (ms to listening)',
      ours: `${cMs.toFixed(0)} compiled`,
      baseline: `${tMs.toFixed(0)} tsx`,
      ratio: (cMs / tMs).toFixed(2),
      note: 'median of 3 starts each',
    },
    {
      bench: 'API idle memory (MiB RSS)',
      ours: `${cRss.toFixed(0)} compiled`,
      baseline: `${tRss.toFixed(0)} tsx`,
      ratio: (cRss / tRss).toFixed(2),
      note: '2 s after listening',
    },
  );
}

// 6. Failover (issue 17): its own processes, database and redis-server; its table, row by row.
if (values.only === undefined || values.only === 'failover') {
  console.log('== failover: bench-failover.ts');
  const fo = await run('scripts/bench-failover.ts', [
    '--runs',
    values['failover-runs'],
    '--freeze',
    values['failover-freeze'],
  ]);
  if (fo.code !== 0 || !/failover invariants: OK/.test(fo.out)) ok = false;
  const cells = fo.out
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| fault') && !l.startsWith('| ---'))
    .map((l) => l.split('|').map((c) => c.trim()));
  for (const c of cells) {
    const [, fault, , p50, max, , p99, n503, lost, doubled, order, , before, goal] = c;
    rows.push({
      bench: `failover: ${fault}`,
      ours: p50 ? `${p50} p50, ${max} max` : `lost ${lost}, doubled ${doubled}, out of order ${order}`,
      baseline: before ?? '',
      ratio: '-',
      note: `goal ${goal}; POST p99 ${p99}, ${n503} × 503`,
    });
  }
}

// 7. Tracing's cost on the hold path: the same API and worker code started three ways, in alternating
// rounds (the machine's load drifts): without the preload, with it and the variable unset (off), and
// with OTEL_EXPORTER_OTLP_ENDPOINT set to a local OTLP/HTTP receiver (on). Closed loop, Prefer: wait.
if (values.only === undefined || values.only === 'tracing') {
  const HOLDS = Number(values['tracing-holds']);
  const IN_FLIGHT = 100;
  const ROUNDS = Number(values['tracing-rounds']);
  const WITHOUT = values['tracing-without'];
  console.log(
    `== tracing: ${HOLDS} holds, ${IN_FLIGHT} in flight, 4 modes x ${ROUNDS} rounds` +
      (WITHOUT ? ` (traced runs without ${WITHOUT})` : ''),
  );
  const receiver = await startOtlpReceiver({ keep: false });
  const { env, config, ctx } = await benchDeployment('trace', { RATE_LIMIT_MEMBER_PER_SECOND: '0' });
  const http = new HttpClient(IN_FLIGHT * 2);
  // on: every request traced; sampled: a tenth of them (OTEL_TRACES_SAMPLER_ARG=0.1).
  type Mode = 'none' | 'off' | 'on' | 'sampled';
  // spans: what the receiver got per hold (its join included), counted after the processes flushed.
  type Run = { rate: number; p50: number; p99: number; apiCpu: number; workersCpu: number; spans: number };
  const results = new Map<Mode, Run[]>();
  const members = await seedMembers(HOLDS, 'password-1234');
  const tokens = await Promise.all(
    members.map((m) => signAccessToken(config.jwtSecret, { memberId: m.id, role: 'USER' }, 3600)),
  );
  const runMode = async (mode: Mode) => {
    const modeEnv =
      mode === 'on' || mode === 'sampled'
        ? {
            ...env,
            OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
            // The default, as an operator runs it (http/json costs more to encode).
            OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
            OTEL_TRACES_SAMPLER_ARG: mode === 'on' ? '1' : '0.1',
            OTEL_NODE_DISABLED_INSTRUMENTATIONS: WITHOUT,
          }
        : env;
    const children: ChildProcess[] = [];
    const spansBefore = receiver.count();
    let run: Run | undefined;
    try {
      const api = await startProcess('api', modeEnv, { preload: mode !== 'none' });
      children.push(api.child);
      const workers = await startProcess('workers', modeEnv, { preload: mode !== 'none' });
      children.push(workers.child);
      const perf = await seedPerformance(ctx.catalogue, HOLDS, {
        name: `bench tracing ${mode}`,
        admissionCapacity: 1_000_000,
      });
      // Set-up, not measured: a join that meets a busy machine's 503 tries again.
      await pool(tokens, 50, async (token) => {
        for (let attempt = 1; ; attempt++) {
          const r = await http.send('POST', `${api.url}/api/performances/${perf.performanceId}/waiting`, {
            token,
          });
          if (r.status === 200) return;
          if (r.status !== 503 || attempt === 5) throw new Error(`join: ${r.status}`);
          await new Promise((res) => setTimeout(res, 500 * attempt));
        }
      });
      await http.open(`${api.url}/healthz`);
      const latencies: number[] = [];
      let errors = 0;
      const cpu = () => Promise.all([cpuMs(api.child.pid), cpuMs(workers.child.pid)]);
      const cpuBefore = await cpu();
      const start = performance.now();
      await pool(
        tokens.map((token, i) => ({ token, seat: perf.seatIds[i]! })),
        IN_FLIGHT,
        async ({ token, seat }) => {
          const t = performance.now();
          const r = await http.send('POST', `${api.url}/api/performances/${perf.performanceId}/holds`, {
            token,
            body: { seatIds: [seat] },
            headers: { prefer: 'wait=10' },
          });
          const final = r.status === 200 && (JSON.parse(r.body) as { status: string }).status === 'succeeded';
          if (!final) errors++;
          latencies.push(performance.now() - t);
        },
      );
      const seconds = (performance.now() - start) / 1000;
      const cpuAfter = await cpu();
      if (errors) {
        ok = false;
        console.log(`tracing ${mode}: ${errors} holds did not succeed within the wait`);
      }
      latencies.sort((a, b) => a - b);
      const r: Run = {
        rate: HOLDS / seconds,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        // CPU per hold: what tracing costs whatever the neighbours' load.
        apiCpu: (cpuAfter[0] - cpuBefore[0]) / HOLDS,
        workersCpu: (cpuAfter[1] - cpuBefore[1]) / HOLDS,
        spans: 0,
      };
      console.log(
        `tracing ${mode.padEnd(7)} ${r.rate.toFixed(0)} holds/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms` +
          `  CPU/hold: API ${r.apiCpu.toFixed(2)} ms, workers ${r.workersCpu.toFixed(2)} ms`,
      );
      run = r;
    } finally {
      await stopAll(children);
    }
    run.spans = (receiver.count() - spansBefore) / HOLDS;
    results.set(mode, [...(results.get(mode) ?? []), run]);
  };
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const mode of ['none', 'off', 'on', 'sampled'] as const) await runMode(mode);
  } finally {
    http.close();
    await ctx.close();
    await receiver.close();
  }
  const median = (mode: Mode, k: keyof Run) =>
    [...results.get(mode)!.map((r) => r[k])].sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
  const of = (m: Mode): Run => ({
    rate: median(m, 'rate'),
    p50: median(m, 'p50'),
    p99: median(m, 'p99'),
    apiCpu: median(m, 'apiCpu'),
    workersCpu: median(m, 'workersCpu'),
    spans: median(m, 'spans'),
  });
  const cpuOf = (r: Run) => r.apiCpu + r.workersCpu;
  const [none, off, on, sampled] = [of('none'), of('off'), of('on'), of('sampled')];
  if (receiver.count() === 0) ok = false;
  rows.push(
    {
      bench: 'tracing on: holds/s',
      ours: on.rate.toFixed(0),
      baseline: `${off.rate.toFixed(0)} off`,
      ratio: (on.rate / off.rate).toFixed(2),
      note:
        `every request traced${WITHOUT ? `, without ${WITHOUT}` : ''} ` +
        `(${on.spans.toFixed(1)} spans per hold and its join); ` +
        `p50 ${on.p50.toFixed(0)} vs ${off.p50.toFixed(0)} ms; target ≥ 0.90`,
    },
    {
      bench: 'tracing on: hold p99 (ms)',
      ours: on.p99.toFixed(0),
      baseline: `${off.p99.toFixed(0)} off`,
      ratio: (on.p99 / off.p99).toFixed(2),
      note: `${IN_FLIGHT} in flight, Prefer: wait, median of ${ROUNDS} rounds`,
    },
    {
      bench: 'tracing 10 %: holds/s',
      ours: sampled.rate.toFixed(0),
      baseline: `${off.rate.toFixed(0)} off`,
      ratio: (sampled.rate / off.rate).toFixed(2),
      note: `OTEL_TRACES_SAMPLER_ARG=0.1; p99 ${sampled.p99.toFixed(0)} ms; ${sampled.spans.toFixed(1)} spans per hold`,
    },
    {
      bench: 'tracing off: holds/s',
      ours: off.rate.toFixed(0),
      baseline: `${none.rate.toFixed(0)} no preload`,
      ratio: (off.rate / none.rate).toFixed(2),
      note: `p99 ${off.p99.toFixed(0)} vs ${none.p99.toFixed(0)} ms; target 1.00 (noise only)`,
    },
    ...(
      [
        ['on', on, off, 'off'],
        ['10 %', sampled, off, 'off'],
        ['off', off, none, 'no preload'],
      ] as const
    ).map(([name, r, base, baseName]) => ({
      bench: `tracing ${name}: CPU per hold (ms)`,
      ours: cpuOf(r).toFixed(2),
      baseline: `${cpuOf(base).toFixed(2)} ${baseName}`,
      ratio: (cpuOf(r) / cpuOf(base)).toFixed(2),
      note: `API ${r.apiCpu.toFixed(2)} vs ${base.apiCpu.toFixed(2)}, workers ${r.workersCpu.toFixed(2)} vs ${base.workersCpu.toFixed(2)}`,
    })),
  );
}

const widths = (k: keyof Row) => Math.max(k.length, ...rows.map((r) => r[k].length));
const cols: (keyof Row)[] = ['bench', 'ours', 'baseline', 'ratio', 'note'];
const line = (r: Row) => `| ${cols.map((k) => r[k].padEnd(widths(k))).join(' | ')} |`;
console.log(
  [
    '',
    `benchmarks, ${new Date().toISOString()} (ratio = ours / baseline, same run, same machine)`,
    line({ bench: 'bench', ours: 'ours', baseline: 'baseline', ratio: 'ratio', note: 'note' }),
    `| ${cols.map((k) => '-'.repeat(widths(k))).join(' | ')} |`,
    ...rows.map(line),
    ok ? 'every benchmark checked its invariants: OK' : 'A BENCHMARK FAILED ITS CHECKS',
  ].join('\n'),
);
process.exitCode = ok ? 0 : 1;
