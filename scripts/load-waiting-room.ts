// npm run load:waiting-room -- [--members 10000] [--arrival 50] [--poll pace|P] [--capacity 500]
//                               [--shop 3] [--duration 120] [--apis 1] [--sockets 256]
//
// N members join one performance's waiting room, their joins spread over --arrival seconds, and ask
// for their status until admitted: at the pace the server sets (nextPollSeconds, and a waitSeconds
// long-poll near the front, as the web client does) or, with --poll P, every P seconds as before. An
// admitted member "shops" for --shop seconds, then leaves (freeing its slot). The tool hears every
// head the room publishes, so it knows when each member was admitted and how long the member took
// to learn it. `--help` says more.
import { Agent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { signAccessToken } from '../shared/auth/tokens.js';
import { bindDeployment } from '../shared/context.js';
import { createRedis } from '../shared/redis.js';
import { seedMembers, seedPerformance } from '../shared/testing/seed.js';
import { roomHeadChannel } from '../shared/waiting-room/keys.js';
import { LINE_WAIT_MAX_SECONDS } from '../shared/waiting-room/pace.js';
import type { RoomHead, WaitingStatus } from '../shared/waiting-room/waiting-room.js';
import { benchDeployment, startProcess, stopAll, percentile } from './lib/processes.js';
import { Lane } from './lib/lane.js';
import { cpuSeconds, redisUsedMemory, rssBytes, serverQuantiles } from './lib/proc-stats.js';

const HELP = `npm run load:waiting-room -- [options]

N members join one performance's waiting room and ask for their status until admitted; an admitted
member shops, then leaves (DELETE), which admits the next at once. One API process (or --apis),
one worker, MySQL and Redis, with the generator on the same machine.

Options (defaults in brackets):
  --members N     members in line [10000]
  --arrival S     their joins spread evenly over S seconds [50] (0: all at once)
  --poll P        pace: follow nextPollSeconds, and hold a ?waitSeconds=30 long-poll when it is 0,
                  as the web client does [pace]. A number: the old fixed cadence, a plain GET every
                  P seconds, no long-polls (e.g. --poll 5), to compare both on one machine.
  --capacity C    the performance's admission capacity (members admitted at once) [500]
  --shop S        an admitted member shops S seconds, then leaves [3]
  --duration S    members still waiting after S seconds give up [120]; members admitted before
                  then are followed until they learn it (up to 65 s more)
  --apis N        API processes; members are spread over them [1]
  --sockets K     keep-alive connections per API process shared by every member's joins, status
                  reads and leaves [256]
  --help          this text

Members share keep-alive connections, as behind a load balancer: one node:http Agent with at most
--sockets connections per API process carries every join, status read and leave; long-polls hold
their connection for up to 30 s, so they get their own Agent (up to 4096 connections per API
process) and never starve the others. Tokens are minted once per member, members are seeded in
bulk with one password hash.

It reports requests/s offered and served (overall, and in the steady state once every join is in
and before the line has drained by 10%), p50/p95/p99/max per call kind (join, status, wait, leave;
wait includes its hold), errors by kind, the admitted-notice latency (admission, as the room's
published head dates it, to the member knowing), requests per member per minute of waiting, API
RSS and Redis bytes per waiting member, the generator's event-loop delay, and the invariants:
tickets distinct and gap-free, positions never rose, admission in ticket order and never above
capacity (sampled atomically every 100 ms), every member admitted before --duration knew it.
The last line is RESULT {json}. Exit 1 on an error or a broken invariant, 2 on a bad option.

Typical run time: seeding about 1 s per 10,000 members, then --duration plus up to a minute of
drain: about 2.5 minutes at the defaults; --members 100000 --arrival 50 --duration 120 takes 3-4
minutes.`;

function usage(message: string): never {
  console.error(`load:waiting-room: ${message}\n`);
  console.error(HELP);
  process.exit(2);
}

function options() {
  let values;
  try {
    ({ values } = parseArgs({
      strict: true,
      allowPositionals: false,
      options: {
        members: { type: 'string', default: '10000' },
        arrival: { type: 'string', default: '50' },
        poll: { type: 'string', default: 'pace' },
        capacity: { type: 'string', default: '500' },
        shop: { type: 'string', default: '3' },
        duration: { type: 'string', default: '120' },
        apis: { type: 'string', default: '1' },
        sockets: { type: 'string', default: '256' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    // ERR_PARSE_ARGS_UNKNOWN_OPTION and kin: the message names the option.
    if (String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) usage((err as Error).message);
    throw err;
  }
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const num = (name: keyof typeof values, min: number, integer = true): number => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
      usage(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, not '${values[name]}'`);
    return n;
  };
  const pace = values.poll === 'pace';
  return {
    members: num('members', 1),
    arrivalMs: num('arrival', 0, false) * 1000,
    pace,
    pollMs: pace ? 0 : num('poll', 0.1, false) * 1000,
    capacity: num('capacity', 1),
    shopMs: num('shop', 0, false) * 1000,
    durationMs: num('duration', 1, false) * 1000,
    apis: num('apis', 1),
    sockets: num('sockets', 1),
  };
}

const o = options();
const N = o.members;
/** How long members admitted before the deadline may take to learn it (the longest pace is 55 s). */
const GRACE_MS = 65_000;
const LONG_POLL_SOCKETS = 4096;
const ROUTE = '/api/performances/:id/waiting';

type Kind = 'join' | 'status' | 'wait' | 'leave';
const KINDS: Kind[] = ['join', 'status', 'wait', 'leave'];
type KindStats = { latencies: number[]; errors: Map<string, number> };
const stats = Object.fromEntries(
  KINDS.map((k): [Kind, KindStats] => [k, { latencies: [], errors: new Map() }]),
) as Record<Kind, KindStats>;
const errorCount = () =>
  KINDS.reduce((n, k) => n + [...stats[k].errors.values()].reduce((a, b) => a + b, 0), 0);
function fail(kind: Kind, what: string): void {
  stats[kind].errors.set(what, (stats[kind].errors.get(what) ?? 0) + 1);
}

/** Epoch milliseconds with a fraction (the clock Redis TIME reads, on this machine). */
const now = () => performance.timeOrigin + performance.now();

const { env, config, ctx } = await benchDeployment('load', { ADMISSION_IDLE_SECONDS: '60' });
await bindDeployment(ctx);
const children: ChildProcess[] = [];
const apiPids: number[] = [];
// One pool of keep-alive connections for every member (as behind a load balancer); long-polls apart.
const agent = new Agent({ keepAlive: true, maxSockets: o.sockets, maxFreeSockets: o.sockets });
const longAgent = new Agent({
  keepAlive: true,
  maxSockets: LONG_POLL_SOCKETS,
  maxFreeSockets: LONG_POLL_SOCKETS,
});
// Calls wait for a connection in these queues (one per API process), never in the Agents.
const lanes = Array.from({ length: o.apis }, () => new Lane(o.sockets));
const longLanes = Array.from({ length: o.apis }, () => new Lane(LONG_POLL_SOCKETS));
const headsRedis = createRedis(config, 'blocking', 'load-heads');
headsRedis.on('error', () => undefined);
const timers: NodeJS.Timeout[] = [];

try {
  const t = Date.now();
  console.log(`seeding ${N} members …`);
  const perf = await seedPerformance(ctx.catalogue, 10, { name: 'load', admissionCapacity: o.capacity });
  const performanceId = perf.performanceId;
  const members = await seedMembers(N, 'password-1234');
  const tokens: string[] = [];
  for (let i = 0; i < N; i += 5000)
    tokens.push(
      ...(await Promise.all(
        members
          .slice(i, i + 5000)
          .map((m) => signAccessToken(config.jwtSecret, { memberId: m.id, role: 'USER' }, 4 * 3600)),
      )),
    );
  console.log(`seeded and minted tokens in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const bases: URL[] = [];
  const metricsUrls: URL[] = [];
  for (let i = 0; i < o.apis; i++) {
    const api = await startProcess('api', env);
    children.push(api.child);
    apiPids.push(api.child.pid!);
    bases.push(new URL(api.url!));
    metricsUrls.push(new URL(api.metricsUrl!));
  }
  children.push((await startProcess('workers', env)).child);

  // ---------------------------------------------------------------- the room's heads
  // Admission time of ticket T = ts of the first head with through >= T (heads are written and
  // published in the same script as the admissions they report).
  const headTs: number[] = [];
  const headThrough: number[] = [];
  let headsHeard = 0;
  headsRedis.on('message', (_channel: string, message: string) => {
    const h = JSON.parse(message) as RoomHead;
    if (h.performanceId !== performanceId) return;
    headsHeard++;
    if (h.through > (headThrough[headThrough.length - 1] ?? 0)) {
      headTs.push(h.ts);
      headThrough.push(h.through);
    }
  });
  await headsRedis.subscribe(roomHeadChannel(ctx.channels));
  /** Index of the first head with through >= ticket, or -1. */
  const admittedHead = (ticket: number): number => {
    let lo = 0;
    let hi = headThrough.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (headThrough[mid]! >= ticket) hi = mid;
      else lo = mid + 1;
    }
    return lo < headThrough.length ? lo : -1;
  };
  const throughAt = (ts: number): number => {
    let through = 0;
    for (let i = 0; i < headTs.length && headTs[i]! <= ts; i++) through = headThrough[i]!;
    return through;
  };

  // ---------------------------------------------------------------- samplers
  const keys = ctx.waitingRoom.keys(performanceId);
  let violations = 0;
  let maxAdmitted = 0;
  let samples = 0;
  let peakWaiting = 0;
  let peakLineBytes = 0;
  let peakLineMembers = 0;
  const waitingAt: [number, number][] = [];
  let sampling = false;
  const sampleRoom = async () => {
    if (sampling) return;
    sampling = true;
    try {
      const r = await ctx.redis
        .multi()
        .zrange(keys.line, 0, 0, 'WITHSCORES')
        .hvals(keys.tickets)
        .zcard(keys.admitted)
        .zcard(keys.line)
        .exec();
      const first = r?.[0]?.[1] as string[];
      const admittedTickets = (r?.[1]?.[1] as string[]).map(Number);
      const admitted = r?.[2]?.[1] as number;
      const waiting = r?.[3]?.[1] as number;
      samples++;
      waitingAt.push([now(), waiting]);
      maxAdmitted = Math.max(maxAdmitted, admitted);
      if (admitted > o.capacity) violations++;
      if (first.length && admittedTickets.some((x) => x > Number(first[1]))) violations++;
      if (waiting > peakWaiting) {
        peakWaiting = waiting;
        const bytes = Number(await ctx.redis.memory('USAGE', keys.line));
        if (bytes > peakLineBytes) [peakLineBytes, peakLineMembers] = [bytes, waiting];
      }
    } finally {
      sampling = false;
    }
  };
  const rssOf = async () => {
    let sum = 0;
    for (const pid of apiPids) sum += (await rssBytes(pid)) ?? 0;
    return sum;
  };
  const cpuOf = async () => {
    let sum = 0;
    for (const pid of apiPids) sum += (await cpuSeconds(pid)) ?? 0;
    return sum;
  };
  const rssBefore = await rssOf();
  const redisBefore = await redisUsedMemory(ctx.redis);
  const apiCpuBefore = await cpuOf();
  const genCpuBefore = process.cpuUsage();
  let rssPeak = rssBefore;
  let redisPeak = redisBefore;
  let waitingAtRedisPeak = 0;
  let sampledWaiting = 0;
  timers.push(
    setInterval(() => {
      void sampleRoom()
        .then(() => (sampledWaiting = waitingAt[waitingAt.length - 1]?.[1] ?? 0))
        .catch(() => undefined);
    }, 100),
    setInterval(() => {
      void rssOf().then((r) => (rssPeak = Math.max(rssPeak, r)));
      void redisUsedMemory(ctx.redis)
        .then((m) => {
          if (m > redisPeak) [redisPeak, waitingAtRedisPeak] = [m, sampledWaiting];
        })
        .catch(() => undefined);
    }, 500),
  );

  // ---------------------------------------------------------------- members
  const WAITING = 1;
  const KNOWS = 2;
  const DONE = 3;
  const state = new Uint8Array(N);
  const cancelled = new Uint8Array(N);
  const ticket = new Int32Array(N);
  const lastPosition = new Int32Array(N).fill(2 ** 31 - 1);
  const joinedAt = new Float64Array(N);
  const learnedAt = new Float64Array(N);
  const waitEnd = new Float64Array(N);
  const cancelFns: ((() => void) | undefined)[] = new Array(N);
  let positionRises = 0;
  let ticketChanges = 0;
  let retryAfterMismatches = 0;
  let soldOut = 0;
  let waitingRequests = 0;
  const offered: number[] = [];
  const served: number[] = [];
  const bump = (a: number[], at: number) => {
    const s = Math.floor((at - t0) / 1000);
    a[s] = (a[s] ?? 0) + 1;
  };
  let t0 = now();
  let stopping = false;
  let lastJoinAnswered = 0;

  const cancel = (i: number) => {
    cancelled[i] = 1;
    cancelFns[i]?.();
  };
  const sleep = (i: number, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        cancelFns[i] = undefined;
        resolve(true);
      }, ms);
      cancelFns[i] = () => {
        clearTimeout(timer);
        cancelFns[i] = undefined;
        resolve(false);
      };
    });

  type Answer = { code: number; body: WaitingStatus | undefined; retryAfter: string | undefined };
  const cancelledError = new Error('cancelled');
  const paths = {
    join: `/api/performances/${performanceId}/waiting`,
    status: `/api/performances/${performanceId}/waiting`,
    wait: `/api/performances/${performanceId}/waiting?waitSeconds=${LINE_WAIT_MAX_SECONDS}`,
    leave: `/api/performances/${performanceId}/waiting`,
  };
  const methods = { join: 'POST', status: 'GET', wait: 'GET', leave: 'DELETE' };
  const send = (i: number, kind: Kind): Promise<Answer> => {
    const b = i % bases.length;
    const base = bases[b]!;
    const start = now();
    bump(offered, start);
    if (kind !== 'leave') waitingRequests++;
    // Queued for a connection: a cancel only marks the member (the call is dropped when its turn comes).
    cancelFns[i] = undefined;
    const lane = kind === 'wait' ? longLanes[b]! : lanes[b]!;
    return lane.run(
      () =>
        new Promise<Answer>((resolve, reject) => {
          if (cancelled[i]) return reject(cancelledError);
          const req = request(
            {
              host: base.hostname,
              port: base.port,
              path: paths[kind],
              method: methods[kind],
              agent: kind === 'wait' ? longAgent : agent,
              headers: { authorization: `Bearer ${tokens[i]!}` },
            },
            (res) => {
              let data = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (data += c));
              res.on('error', reject);
              res.on('end', () => {
                const end = now();
                cancelFns[i] = undefined;
                bump(served, end);
                stats[kind].latencies.push(end - start);
                const code = res.statusCode ?? 0;
                let body: WaitingStatus | undefined;
                try {
                  body = code === 200 ? (JSON.parse(data) as WaitingStatus) : undefined;
                } catch {
                  return reject(new Error('bad JSON'));
                }
                const ra = res.headers['retry-after'];
                resolve({ code, body, retryAfter: Array.isArray(ra) ? ra[0] : ra });
              });
            },
          );
          req.setTimeout((kind === 'wait' ? LINE_WAIT_MAX_SECONDS + 30 : 30) * 1000, () =>
            req.destroy(new Error('timeout')),
          );
          req.on('error', reject);
          cancelFns[i] = () => req.destroy(cancelledError);
          req.end();
        }),
    );
  };

  /** One call, repeated after a socket error or a transient status; undefined = stop. */
  const ask = async (i: number, kind: Kind): Promise<WaitingStatus | undefined> => {
    for (;;) {
      if (cancelled[i]) return undefined;
      let a: Answer;
      try {
        a = await send(i, kind);
      } catch (err) {
        if (cancelled[i]) return undefined;
        fail(kind, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
        if (!(await sleep(i, 1000))) return undefined;
        continue;
      }
      if (kind === 'leave') {
        if (a.code !== 204) fail(kind, String(a.code));
        return undefined;
      }
      if (a.code === 200 && a.body) {
        const s = a.body;
        if (kind === 'join') {
          lastJoinAnswered = now();
          ticket[i] = s.ticket;
        } else if (s.ticket !== ticket[i]) ticketChanges++;
        if (a.retryAfter !== String(s.nextPollSeconds)) retryAfterMismatches++;
        if (s.status === 'waiting') {
          if (s.position > lastPosition[i]!) positionRises++;
          lastPosition[i] = s.position;
        }
        return s;
      }
      fail(kind, String(a.code));
      if (a.code === 404) return undefined; // not in line: the member is gone
      const wait = Number(a.retryAfter);
      if (!(await sleep(i, Number.isFinite(wait) && wait > 0 ? wait * 1000 : 1000))) return undefined;
    }
  };

  const runMember = async (i: number): Promise<void> => {
    state[i] = WAITING;
    joinedAt[i] = now();
    let s = await ask(i, 'join');
    while (s?.status === 'waiting') {
      if (o.pace && s.nextPollSeconds === 0) {
        s = await ask(i, 'wait');
      } else {
        if (!(await sleep(i, o.pace ? s.nextPollSeconds * 1000 : o.pollMs))) break;
        s = await ask(i, 'status');
      }
    }
    waitEnd[i] = now();
    if (s?.status === 'admitted') {
      learnedAt[i] = waitEnd[i]!;
      state[i] = KNOWS;
      await new Promise((r) => setTimeout(r, o.shopMs));
      await ask(i, 'leave');
    } else if (s?.status === 'sold-out') soldOut++;
    state[i] = DONE;
  };

  console.log(
    `running: ${N} members joining over ${o.arrivalMs / 1000} s, ${o.pace ? 'following nextPollSeconds and long-polls' : `polling every ${o.pollMs / 1000} s`}, capacity ${o.capacity}, shopping ${o.shopMs / 1000} s, for ${o.durationMs / 1000} s, ${o.apis} API process(es) …`,
  );
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  t0 = now();
  const deadline = t0 + o.durationMs;
  // At the deadline: members still waiting give up, except those the heads say were admitted
  // before it (they go on until they learn it, up to GRACE_MS).
  let throughAtDeadline = 0;
  let kept = 0;
  const running: Promise<void>[] = [];
  let started = 0;
  const stopped = new Promise<void>((resolve) => {
    timers.push(
      setTimeout(
        () => {
          stopping = true;
          // A head reaches the tool a moment after it was written: wait one second for those
          // written before the deadline.
          timers.push(
            setTimeout(() => {
              throughAtDeadline = throughAt(deadline);
              for (let i = 0; i < started; i++) {
                if (state[i] !== WAITING) continue;
                if (ticket[i]! > 0 && ticket[i]! <= throughAtDeadline) kept++;
                else {
                  if (ticket[i] === 0) fail('join', 'unanswered at the deadline');
                  cancel(i);
                }
              }
              timers.push(
                setTimeout(() => {
                  for (let i = 0; i < started; i++) if (state[i] === WAITING) cancel(i);
                }, GRACE_MS),
              );
              resolve();
            }, 1000),
          );
        },
        Math.max(0, deadline - now()),
      ),
    );
  });
  await new Promise<void>((resolve) => {
    const dispatch = () => {
      const due = o.arrivalMs > 0 ? Math.min(N, Math.floor(((now() - t0) / o.arrivalMs) * N) + 1) : N;
      while (started < due && !stopping) running.push(runMember(started++));
      if (started >= N || stopping) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(dispatch, 5);
    dispatch();
  });

  const allDone = Promise.all(running);
  await Promise.race([allDone.then(() => (stopping = true)), stopped]);
  await allDone;
  const end = now();
  const wall = (end - t0) / 1000;
  loopDelay.disable();
  for (const timer of timers) clearTimeout(timer);
  await sampleRoom().catch(() => undefined);
  const apiCpu = (await cpuOf()) - apiCpuBefore;
  const genCpu = process.cpuUsage(genCpuBefore);

  // ---------------------------------------------------------------- results
  const q = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return {
      n: s.length,
      p50: percentile(s, 50),
      p95: percentile(s, 95),
      p99: percentile(s, 99),
      max: s[s.length - 1] ?? NaN,
    };
  };
  const f = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
  const kindQ = Object.fromEntries(KINDS.map((k) => [k, q(stats[k].latencies)])) as Record<
    Kind,
    ReturnType<typeof q>
  >;
  const errors = errorCount();

  // Tickets of joins that were not answered (cancelled at the deadline) are read from the room.
  const answeredJoins = ticket.filter((x) => x > 0).length;
  const memberIndex = new Map(members.map((m, i) => [m.id, i]));
  const [inLine, admittedTickets, seq] = await Promise.all([
    ctx.redis.zrange(keys.line, 0, -1, 'WITHSCORES'),
    ctx.redis.hgetall(keys.tickets),
    ctx.redis.get(keys.seq),
  ]);
  const fromRoom: [string, string][] = [];
  for (let j = 0; j < inLine.length; j += 2) fromRoom.push([inLine[j]!, inLine[j + 1]!]);
  fromRoom.push(...Object.entries(admittedTickets));
  for (const [member, t] of fromRoom) {
    const i = memberIndex.get(Number(member));
    if (i === undefined) continue;
    if (ticket[i] === 0) ticket[i] = Number(t);
    else if (ticket[i] !== Number(t)) ticketChanges++;
  }
  const joined = ticket.filter((x) => x > 0).length;
  const sortedTickets = Int32Array.from(ticket.filter((x) => x > 0)).sort();
  const gapFree = sortedTickets.every((x, i) => x === i + 1) && joined === Number(seq ?? 0);

  const notices: number[] = [];
  let noHead = 0;
  let knewAdmitted = 0;
  let unaware = 0;
  let memberMinutes = 0;
  for (let i = 0; i < started; i++) {
    memberMinutes += ((waitEnd[i] || end) - joinedAt[i]!) / 60_000;
    if (learnedAt[i]) {
      knewAdmitted++;
      const h = admittedHead(ticket[i]!);
      if (h < 0) noHead++;
      else notices.push(learnedAt[i]! - headTs[h]!);
    } else if (ticket[i]! > 0 && ticket[i]! <= throughAtDeadline) unaware++;
  }
  const notice = q(notices);

  // The steady state: every join answered, the line not yet drained by a tenth.
  const peakAt = waitingAt.find(([, w]) => w === peakWaiting)?.[0] ?? t0;
  const drainedAt = waitingAt.find(([at, w]) => at > peakAt && w < 0.9 * peakWaiting)?.[0] ?? end;
  const winFrom = Math.ceil((lastJoinAnswered - t0) / 1000);
  const winTo = Math.floor((Math.min(drainedAt, deadline) - t0) / 1000);
  const sum = (a: number[], from: number, to: number) => {
    let n = 0;
    for (let s = from; s < to; s++) n += a[s] ?? 0;
    return n;
  };
  const winSeconds = winTo - winFrom;
  const steadyOffered = winSeconds > 0 ? sum(offered, winFrom, winTo) / winSeconds : NaN;
  const steadyServed = winSeconds > 0 ? sum(served, winFrom, winTo) / winSeconds : NaN;
  const waitingInWindow = waitingAt.filter(([at]) => at >= t0 + winFrom * 1000 && at < t0 + winTo * 1000);
  const meanWaitingInWindow = waitingInWindow.length
    ? waitingInWindow.reduce((n, [, w]) => n + w, 0) / waitingInWindow.length
    : NaN;
  const totalOffered = sum(offered, 0, offered.length);
  const totalServed = sum(served, 0, served.length);

  const quantiles = [0.5, 0.99];
  const serverJoin = await serverQuantiles(metricsUrls, ROUTE, quantiles, { method: 'POST' });
  const serverGet = await serverQuantiles(metricsUrls, ROUTE, quantiles, { method: 'GET', status: '200' });

  const invariants = {
    ticketsGapFree: gapFree,
    positionRises,
    ticketChanges,
    retryAfterMismatches,
    roomViolations: violations,
    unawareAdmitted: unaware,
    admittedWithoutHead: noHead,
  };
  const invariantsOk =
    invariants.ticketsGapFree &&
    positionRises === 0 &&
    ticketChanges === 0 &&
    retryAfterMismatches === 0 &&
    violations === 0 &&
    unaware === 0 &&
    noHead === 0;
  const ok = invariantsOk && errors === 0;
  const peakQueued = Math.max(...lanes.map((l) => l.peakQueued));
  const peakLongQueued = Math.max(...longLanes.map((l) => l.peakQueued));
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const line = (k: Kind) => {
    const x = kindQ[k];
    const errs = [...stats[k].errors].map(([what, n]) => `${what} x${n}`).join(', ');
    return `  ${k.padEnd(7)} ${String(x.n).padStart(8)}   p50 ${f(x.p50).padStart(8)}  p95 ${f(x.p95).padStart(8)}  p99 ${f(x.p99).padStart(8)}  max ${f(x.max).padStart(8)} ms   errors ${errs || 0}`;
  };
  const mode = o.pace ? 'pace (nextPollSeconds + long-polls)' : `fixed poll every ${o.pollMs / 1000} s`;
  console.log(`
waiting room: ${N} members, joins over ${o.arrivalMs / 1000} s, ${mode}, capacity ${o.capacity}, shopping ${o.shopMs / 1000} s, duration ${o.durationMs / 1000} s, ${o.apis} API process(es), 1 worker
  members shared ${o.sockets} keep-alive connections per API process${o.pace ? ` (long-polls on their own, up to ${LONG_POLL_SOCKETS})` : ''}; at most ${peakQueued} calls waited for a connection at once${peakLongQueued ? ` (long-polls: ${peakLongQueued})` : ''}

throughput
  overall               ${totalOffered} requests offered, ${totalServed} served in ${f(wall)} s = ${f(totalOffered / wall, 0)} offered/s, ${f(totalServed / wall, 0)} served/s
  steady state          ${winSeconds > 0 ? `${f(steadyOffered, 0)} offered/s, ${f(steadyServed, 0)} served/s over s ${winFrom}-${winTo} (all joins answered, line not yet 10% drained; ${f(meanWaitingInWindow, 0)} waiting on average)` : '- (no window: the line drained before every join was in)'}
  per member            ${f(waitingRequests / memberMinutes, 2)} requests per member per minute of waiting (${waitingRequests} joins/status/waits over ${f(memberMinutes, 0)} member-minutes)${winSeconds > 0 ? `; steady state ${f((steadyOffered * 60) / meanWaitingInWindow, 2)}` : ''}

latency by call kind (client side: queueing for a connection, the server, the generator's own lag; wait includes its hold)
  kind        calls        p50           p95           p99           max
${KINDS.map(line).join('\n')}
  server side           join p50 <= ${serverJoin.ms[0]} ms p99 <= ${serverJoin.ms[1]} ms; GET 200 (status and wait) p50 <= ${serverGet.ms[0]} ms p99 <= ${serverGet.ms[1]} ms (API histogram buckets)
  errors                ${errors}${soldOut ? `; ${soldOut} members read sold-out` : ''}

admission
  admitted and knew it  ${knewAdmitted} of ${started} joined (${joined} holding tickets); the heads put ${throughAtDeadline} admitted by the deadline, ${kept} of them still to learn it then
  admitted-notice       p50 ${f(notice.p50)}  p95 ${f(notice.p95)}  p99 ${f(notice.p99)}  max ${f(notice.max)} ms (head ts of the admission to the member's answer; ${notice.n} members)
  heads heard           ${headsHeard} (${headThrough.length} advances)

resources
  API RSS               ${mib(rssBefore)} MiB before the joins, peak ${mib(rssPeak)} MiB: ${f((rssPeak - rssBefore) / Math.max(1, peakWaiting), 0)} bytes per waiting member (peak line ${peakWaiting})
  API CPU               ${f(apiCpu)} s over ${f(wall)} s = ${f((100 * apiCpu) / wall, 0)}% of one core${o.apis > 1 ? ' (all API processes)' : ''}
  Redis                 line key ${f(peakLineBytes / Math.max(1, peakLineMembers))} bytes per waiting member (MEMORY USAGE ${peakLineBytes} bytes at ${peakLineMembers}); used_memory +${mib(redisPeak - redisBefore)} MiB at peak = ${f((redisPeak - redisBefore) / Math.max(1, waitingAtRedisPeak))} bytes per waiting member (${waitingAtRedisPeak} waiting; the whole server, other users included)
  generator             event-loop delay p50 ${f(loopDelay.percentile(50) / 1e6)} ms  p99 ${f(loopDelay.percentile(99) / 1e6)} ms  max ${f(loopDelay.max / 1e6)} ms; CPU ${f((genCpu.user + genCpu.system) / 1e6)} s = ${f((genCpu.user + genCpu.system) / 1e4 / wall, 0)}% of one core

invariants              ${invariantsOk ? 'OK' : 'VIOLATED'}
  tickets               ${invariants.ticketsGapFree ? 'distinct and gap-free' : 'NOT distinct and gap-free'}: ${joined} tickets for ${started} members who asked, the room handed out ${seq ?? 0}${answeredJoins < joined ? ` (${joined - answeredJoins} read from the room: their join was not answered by the deadline)` : ''}${ticketChanges ? `; ${ticketChanges} answers with another ticket` : ''}
  positions             ${positionRises} increases
  admission             ${violations} order or capacity violations in ${samples} atomic samples (max admitted ${maxAdmitted} of ${o.capacity})
  admitted members      ${unaware} admitted before the deadline never learned it; ${noHead} knew an admission no head reported
  Retry-After           ${retryAfterMismatches} answers whose header differs from nextPollSeconds`);

  const r = (x: number, d = 1) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);
  const result = {
    ok,
    mode: o.pace ? 'pace' : `poll${o.pollMs / 1000}`,
    members: N,
    arrivalS: o.arrivalMs / 1000,
    capacity: o.capacity,
    shopS: o.shopMs / 1000,
    durationS: o.durationMs / 1000,
    apis: o.apis,
    wallS: r(wall),
    offeredPerS: r(totalOffered / wall, 0),
    servedPerS: r(totalServed / wall, 0),
    steady: { fromS: winFrom, toS: winTo, offeredPerS: r(steadyOffered, 0), servedPerS: r(steadyServed, 0) },
    latencyMs: Object.fromEntries(
      KINDS.map((k) => [
        k,
        {
          n: kindQ[k].n,
          p50: r(kindQ[k].p50),
          p95: r(kindQ[k].p95),
          p99: r(kindQ[k].p99),
          max: r(kindQ[k].max),
        },
      ]),
    ),
    peakQueued,
    errors,
    errorsByKind: Object.fromEntries(KINDS.map((k) => [k, Object.fromEntries(stats[k].errors)])),
    noticeMs: { n: notice.n, p50: r(notice.p50), p95: r(notice.p95), p99: r(notice.p99), max: r(notice.max) },
    admitted: knewAdmitted,
    requestsPerMemberMinute: r(waitingRequests / memberMinutes, 2),
    apiRssPeakMiB: r(rssPeak / 2 ** 20),
    apiRssBytesPerMember: r((rssPeak - rssBefore) / Math.max(1, peakWaiting), 0),
    apiCpuPct: r((100 * apiCpu) / wall, 0),
    redisLineBytesPerMember: r(peakLineBytes / Math.max(1, peakLineMembers)),
    redisUsedBytesPerMember: r((redisPeak - redisBefore) / Math.max(1, waitingAtRedisPeak)),
    loopDelayP99Ms: r(loopDelay.percentile(99) / 1e6),
    invariantsOk,
    invariants,
  };
  console.log(`\nRESULT ${JSON.stringify(result)}`);
  if (!ok) process.exitCode = 1;
} finally {
  for (const timer of timers) clearTimeout(timer);
  agent.destroy();
  longAgent.destroy();
  headsRedis.disconnect();
  await stopAll(children);
  await ctx.close();
}
