import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { QueryTypes } from 'sequelize';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { signAccessToken } from '../../shared/auth/tokens.js';
import { ensureAdmin } from '../../shared/auth/identity.service.js';
import { parseConfig, type Config } from '../../shared/config.js';
import { createContext, type Context } from '../../shared/context.js';
import { migrate } from '../../shared/db/migrate.js';
import { Seat } from '../../shared/db/models/index.js';
import { seedMembers } from '../../shared/testing/seed.js';
import { HttpClient } from '../lib/http-client.js';
import { benchDeployment, startProcess, stopAll } from '../lib/processes.js';
import { checkSale, QueueWatcher, RoomSampler, saleTimeline } from './checks.js';
import { kendallTau, largestDisplacement, seatsByArrivalDecile } from './fairness.js';
import { verifyFairness } from '../lib/fairness-verifier.js';
import { performanceBodyOf, stadiumLayout } from './layout.js';
import { Members, type Sale } from './members.js';
import { Recorder, round } from './recorder.js';
import { renderReport, type SaleSample, type Summary } from './report.js';

export type OnsaleOptions = {
  members: number;
  seats: number;
  hotShare: number;
  bestShare: number;
  pollSeconds: number;
  durationSeconds: number;
  rampSeconds: number;
  apis: number;
  workers: number;
  out: string;
  url?: string;
  capacity: number;
  holdTtlSeconds: number;
  declineRate: number;
  queueMode: 'fifo' | 'shuffle-at-open';
  /** shuffle-at-open: the share of the arrivals before the opening (the pre-queue). */
  preQueueShare: number;
  command: string;
};

/** Runs the whole sale; resolves true when every invariant held. */
export async function runOnsale(o: OnsaleOptions, children: ChildProcess[]): Promise<boolean> {
  const phases: { name: string; start: number; end: number }[] = [];
  let phase = 'setup';
  const rec = new Recorder();
  const enter = (name: string) => {
    const now = rec.now();
    const last = phases[phases.length - 1];
    if (last) last.end = now;
    phases.push({ name, start: now, end: now });
    phase = name;
  };
  enter('setup');

  let config: Config;
  let ctx: Context;
  let bases: string[];
  if (o.url) {
    config = parseConfig(process.env);
    await migrate(config);
    ctx = createContext(config, 'onsale');
    bases = [o.url.replace(/\/$/, '')];
  } else {
    const d = await benchDeployment('onsale', {
      HOLD_TTL_SECONDS: String(o.holdTtlSeconds),
      PAYMENT_DECLINE_RATE: String(o.declineRate),
      PAYMENT_LATENCY_MS: '50',
      RATE_LIMIT_MEMBER_PER_SECOND: '0',
      ADMISSION_IDLE_SECONDS: '30',
      SWEEP_INTERVAL_SECONDS: '5',
    });
    config = d.config;
    ctx = d.ctx;
    bases = [];
    console.log(`starting ${o.apis} API and ${o.workers} worker process(es) …`);
    for (let i = 0; i < o.apis; i++) {
      const api = await startProcess('api', d.env);
      children.push(api.child);
      bases.push(api.url!.replace(/\/$/, ''));
    }
    for (let i = 0; i < o.workers; i++) children.push((await startProcess('workers', d.env)).child);
  }
  const http = new HttpClient(1024);
  // Long-polls hold their connection for up to LINE_WAIT_MAX_SECONDS: on connections of their own.
  const longPolls = new HttpClient(4096);
  const timers: NodeJS.Timeout[] = [];
  try {
    // The performance, through the API as an admin would; a build whose body limit is below the
    // seat list's size gets it straight through the catalogue (same validation).
    const adminToken = await signAccessToken(
      config.jwtSecret,
      { memberId: await ensureAdmin(config), role: 'ADMIN' },
      7200,
    );
    const body = performanceBodyOf(stadiumLayout(o.seats), {
      name: `On-sale simulation ${new Date().toISOString()}`,
      admissionCapacity: o.capacity,
    });
    const created = await http.send('POST', `${bases[0]}/api/performances`, { token: adminToken, body });
    let performanceId: number;
    if (created.status === 201) performanceId = (JSON.parse(created.body) as { id: number }).id;
    else if (created.status === 413) performanceId = (await ctx.catalogue.create(body)).id;
    else throw new Error(`creating the performance: ${created.status} ${created.body}`);
    const perf = JSON.parse(
      (await http.send('GET', `${bases[0]}/api/performances/${performanceId}`)).body,
    ) as {
      zones: { id: number; name: string }[];
    };
    const seatRows = await Seat.findAll({
      where: { performanceId },
      attributes: ['id', 'zoneId'],
      order: [['id', 'ASC']],
    });
    const hotCount = Math.max(4, Math.min(50, Math.round(o.seats * 0.01)));
    const hotSeats = new Set(
      seatRows
        .filter((s) => s.zoneId === perf.zones[0]!.id)
        .slice(0, hotCount)
        .map((s) => s.id),
    );
    console.log(
      `performance ${performanceId}: ${o.seats} seats in ${perf.zones.length} zones, ${hotSeats.size} hot seats; seeding ${o.members} members …`,
    );
    const people = await seedMembers(o.members, 'password-1234');
    const tokens = await Promise.all(
      people.map((m) => signAccessToken(config.jwtSecret, { memberId: m.id, role: 'USER' }, 7200)),
    );

    // shuffle-at-open: the sale opens once the pre-queue's share of the arrivals is in (the ramp
    // starts a few seconds from now, after the members are seeded).
    const opensInMs = o.queueMode === 'shuffle-at-open' ? 3000 + o.rampSeconds * 1000 * o.preQueueShare : 0;
    if (opensInMs) {
      const patched = await http.send('PATCH', `${bases[0]}/api/performances/${performanceId}`, {
        token: adminToken,
        body: { queueMode: 'shuffle-at-open', salesOpenAt: new Date(Date.now() + opensInMs).toISOString() },
      });
      if (patched.status !== 200)
        throw new Error(`setting the queue mode: ${patched.status} ${patched.body}`);
      await sleep(3000 - 50);
    }
    const watcher = new QueueWatcher(ctx, performanceId);
    const room = new RoomSampler(ctx, performanceId, o.capacity);
    const countSamples = { bad: 0, samples: 0 };
    const samples: SaleSample[] = [];
    const start = Date.now();
    const t0Ms = start - rec.now() * 1000;
    const sale: Sale = {
      performanceId,
      zones: perf.zones,
      hotSeats,
      hotShare: o.hotShare,
      bestShare: o.bestShare,
      pollMs: o.pollSeconds * 1000,
      deadline: start + o.durationSeconds * 1000,
      // Within the admission's idle time (30 s), so a waiting member stays admitted.
      patienceMs: Math.min(2 * config.holdTtlSeconds, 25) * 1000,
      noneAvailable: false,
      soldOut: false,
    };
    const crowd = new Members(http, rec, sale, longPolls);
    const c = crowd.counters;
    let soldOutAt: number | undefined;
    let firstSale: number | undefined;

    // The room's invariants, sampled atomically every 100 ms; the queue's jobs read every 500 ms.
    timers.push(setInterval(() => void room.sample().catch(() => undefined), 100));
    timers.push(setInterval(() => void watcher.poll().catch(() => undefined), 500));
    const k = ctx.queues.keys(performanceId);
    let lastRequests = 0;
    const monitor = async () => {
      const counts = await ctx.sequelize.query<{ status: string; n: number }>(
        'SELECT status, COUNT(*) AS n FROM seats WHERE performance_id = ? GROUP BY status',
        { type: QueryTypes.SELECT, replacements: [performanceId] },
      );
      const n = (s: string) => Number(counts.find((x) => x.status === s)?.n ?? 0);
      const [last, applied] = (await ctx.redis.mget(k.id, k.applied)).map((x) => Number(x ?? 0));
      const next = await ctx.redis.hget(`${k.job}${applied! + 1}`, 'timestamp');
      const depth = Math.max(0, last! - applied!);
      const requests = rec.totals().requests;
      const s: SaleSample = {
        t: round(rec.now()),
        sold: n('sold'),
        held: n('held'),
        available: n('available'),
        queueDepth: depth,
        queueLagMs: depth && next ? Math.max(0, Date.now() - Number(next)) : 0,
        line: room.line,
        admitted: room.admitted,
        requestsPerSecond: requests - lastRequests,
      };
      lastRequests = requests;
      samples.push(s);
      // What the API reports, where this build reports it, must add up too.
      const view = await http.send('GET', `${bases[0]}/api/performances/${performanceId}`);
      const p = JSON.parse(view.body) as { availableCount?: number; heldCount?: number; soldCount?: number };
      countSamples.samples++;
      if (s.sold + s.held + s.available !== o.seats) countSamples.bad++;
      else if (
        p.availableCount !== undefined &&
        p.availableCount + (p.heldCount ?? 0) + (p.soldCount ?? 0) !== o.seats
      )
        countSamples.bad++;
      if (s.sold && firstSale === undefined) firstSale = s.t;
      sale.noneAvailable = s.available === 0;
      if (s.sold === o.seats && !sale.soldOut) {
        sale.soldOut = true;
        soldOutAt = rec.now();
      }
      return s;
    };
    const live = process.stdout.isTTY;
    let tick = 0;
    timers.push(
      setInterval(() => {
        void monitor()
          .then((s) => {
            const { errors } = rec.totals();
            const line = `[${s.t.toFixed(0).padStart(4)} s] ${phase.padEnd(5)} arrived ${c.arrived}/${o.members}  in line ${s.line}  admitted ${s.admitted} (total ${c.admitted})  ${s.requestsPerSecond} req/s  errors ${errors}  seats sold ${s.sold} held ${s.held} free ${s.available}  queue ${s.queueDepth}`;
            if (live) process.stdout.write(`\r${line}\x1b[K`);
            else if (tick++ % 5 === 0) console.log(line);
          })
          .catch(() => undefined);
      }, 1000),
    );

    enter('ramp');
    console.log(
      `on sale: ${o.members} members arriving over ${o.rampSeconds} s, ${o.pollSeconds ? `polling every ${o.pollSeconds} s` : 'following nextPollSeconds and long-polls'}, capacity ${o.capacity}, hold TTL ${config.holdTtlSeconds} s, at most ${o.durationSeconds} s`,
    );
    const runs = people.map((_, i) =>
      crowd.run(i, bases[i % bases.length]!, tokens[i]!, start + (o.rampSeconds * 1000 * i) / o.members),
    );
    await sleep(o.rampSeconds * 1000);
    enter('sale');
    await Promise.all(runs);
    enter('drain');
    if (live) process.stdout.write('\n');
    console.log('members done; waiting for the queue to drain and the last holds to expire …');
    // Bounded: every accepted request final and every hold ended (expiries due within the TTL).
    const drainUntil = Date.now() + (config.holdTtlSeconds + 30) * 1000;
    while (Date.now() < drainUntil) {
      const s = samples[samples.length - 1];
      const [{ queued }] = (await ctx.sequelize.query<{ queued: number }>(
        `SELECT COUNT(*) AS queued FROM hold_requests WHERE performance_id = ? AND status = 'queued'`,
        { type: QueryTypes.SELECT, replacements: [performanceId] },
      )) as [{ queued: number }];
      if (Number(queued) === 0 && s && s.held === 0 && s.queueDepth === 0 && s.t > rec.now() - 1.5) break;
      await sleep(500);
    }
    enter('checks');
    timers.forEach(clearInterval);
    await watcher.poll();
    await room.sample();
    const final = await monitor();
    const seconds = rec.now();
    const { invariants, contendedSeats, best } = await checkSale(ctx, performanceId, {
      seatCount: o.seats,
      answers: crowd.answers,
      watcher,
      room,
      countSamples,
    });
    // Fairness: admission order (the log) against arrival order, seats per arrival decile, verify.
    const arrived = crowd.arrivals.map((i) => people[i]!.id);
    const [logged] = (await ctx.sequelize.query(
      'SELECT member_id FROM admission_log WHERE performance_id = ? ORDER BY n',
      { replacements: [performanceId] },
    )) as [{ member_id: number }[], unknown];
    const firstAdmission = [...new Set(logged.map((r) => Number(r.member_id)))];
    const [won] = (await ctx.sequelize.query(
      'SELECT member_id, COUNT(*) AS n FROM tickets WHERE performance_id = ? GROUP BY member_id',
      { replacements: [performanceId] },
    )) as [{ member_id: number; n: number }[], unknown];
    const inBoth = new Set(arrived);
    const admittedOrder = firstAdmission.filter((id) => inBoth.has(id));
    const admittedSet = new Set(admittedOrder);
    const verdict = await verifyFairness(bases[0]!, performanceId);
    // shuffle-at-open: the order within the pre-queue (the drawn roster) and after it, apart.
    const [roster] = (await ctx.sequelize.query(
      'SELECT member_id FROM fairness_roster WHERE performance_id = ?',
      { replacements: [performanceId] },
    )) as [{ member_id: number }[], unknown];
    const preQueued = new Set(roster.map((r) => Number(r.member_id)));
    const tauAmong = (keep: (id: number) => boolean) => {
      const admitted = admittedOrder.filter(keep);
      return {
        members: admitted.length,
        kendallTau: round(
          kendallTau(
            admitted,
            arrived.filter((id) => admittedSet.has(id) && keep(id)),
          ),
          3,
        ),
      };
    };
    const fairness = {
      ...(o.queueMode === 'shuffle-at-open'
        ? {
            preQueue: tauAmong((id) => preQueued.has(id)),
            afterPreQueue: tauAmong((id) => !preQueued.has(id)),
          }
        : {}),
      kendallTau: round(
        kendallTau(
          admittedOrder,
          arrived.filter((id) => admittedSet.has(id)),
        ),
        3,
      ),
      largestDisplacement: largestDisplacement(
        admittedOrder,
        arrived.filter((id) => admittedSet.has(id)),
      ),
      seatsShareByArrivalDecile: seatsByArrivalDecile(
        arrived,
        new Map(won.map((r) => [Number(r.member_id), Number(r.n)])),
      ),
      logEntries: verdict.entries,
      verified: verdict.ok,
      verify: verdict.lines,
    };
    invariants.push({
      name: 'fairness verifies (§4.8)',
      ok: verdict.ok && verdict.entries >= c.admitted,
      detail: `${verdict.entries} log entries for ${c.admitted} admissions; ${verdict.lines[verdict.lines.length - 1] ?? ''}`,
    });
    const perSecond = await saleTimeline(ctx, performanceId, t0Ms, seconds);
    const admissions = perSecond.map(() => 0);
    for (const at of c.admissions) {
      const i = Math.floor((at - t0Ms) / 1000);
      if (admissions[i] !== undefined) admissions[i]++;
    }
    phases[phases.length - 1]!.end = seconds;
    const sellSeconds = (soldOutAt ?? seconds) - (firstSale ?? 0);
    const summary: Summary = {
      command: o.command,
      startedAt: new Date(start).toISOString(),
      seconds: round(seconds),
      options: { ...o },
      service: o.url
        ? { url: o.url }
        : {
            apis: o.apis,
            workers: o.workers,
            holdTtlSeconds: config.holdTtlSeconds,
            declineRate: o.declineRate,
          },
      performance: {
        id: performanceId,
        seats: o.seats,
        zones: perf.zones.length,
        hotSeats: hotSeats.size,
        contendedSeats,
      },
      members: {
        total: o.members,
        arrived: c.arrived,
        joined: c.joined,
        admitted: c.admitted,
        bought: c.bought,
        seatsBought: c.seatsBought,
        declined: c.declined,
        released: c.released,
        letExpire: c.letExpire,
        gaveUp: c.gaveUp,
        leftSoldOut: c.leftSoldOut,
        timedOut: c.timedOut,
        lostPlace: c.lostPlace,
      },
      holds: c.holdOutcomes,
      best,
      endpoints: rec.endpoints(seconds),
      phases: phases.map((p) => ({
        name: p.name,
        startSeconds: round(p.start),
        endSeconds: round(p.end),
        ...rec.between(p.start, p.name === 'checks' ? Infinity : p.end),
      })),
      sale: {
        soldOut: final.sold === o.seats,
        timeToSellOutSeconds: soldOutAt !== undefined ? round(soldOutAt) : null,
        sold: final.sold,
        held: final.held,
        available: final.available,
        seatsSoldPerSecond: round(final.sold / Math.max(1, sellSeconds)),
        peakSeatsSoldPerSecond: Math.max(0, ...perSecond.map((r) => r.sold)),
        maxQueueDepth: Math.max(0, ...samples.map((s) => s.queueDepth)),
        maxQueueLagMs: Math.max(0, ...samples.map((s) => s.queueLagMs)),
        maxLine: Math.max(0, ...samples.map((s) => s.line)),
        timeline: samples,
        perSecond: perSecond.map((r, i) => ({ ...r, admissions: admissions[i] ?? 0 })),
      },
      endpointTimeline: rec.timeline(seconds),
      fairness,
      invariants,
      ok: invariants.every((i) => i.ok),
    };
    const dir = resolve(o.out);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'summary.json'), JSON.stringify(summary, null, 2));
    await writeFile(join(dir, 'report.html'), renderReport(summary));
    console.log(printSummary(summary, dir));
    return summary.ok;
  } finally {
    timers.forEach(clearInterval);
    http.close();
    longPolls.close();
    await stopAll(children);
    await ctx.close();
  }
}

function printSummary(s: Summary, dir: string): string {
  const m = s.members;
  const pad = (x: string, n: number) => x.padEnd(n);
  const rows = Object.entries(s.endpoints).map(
    ([name, e]) =>
      `    ${pad(name, 8)} ${String(e.count).padStart(7)} ${e.ratePerSecond.toFixed(1).padStart(8)}/s  p50 ${e.p50.toFixed(1).padStart(7)}  p95 ${e.p95.toFixed(1).padStart(7)}  p99 ${e.p99.toFixed(1).padStart(7)}  max ${e.max.toFixed(0).padStart(6)} ms  errors ${e.errors}`,
  );
  return [
    '',
    `on-sale simulation: ${s.command}`,
    `  ${s.performance.seats} seats in ${s.performance.zones} zones (${s.performance.hotSeats} hot, ${s.performance.contendedSeats} contended), ${m.total} members, ${s.seconds} s`,
    `  members   ${m.joined} joined, ${m.admitted} admitted, ${m.bought} bought ${m.seatsBought} seats, ${m.declined} payments declined, ${m.released} released, ${m.letExpire} let a hold expire, ${m.gaveUp} found nothing, ${m.leftSoldOut} left sold out, ${m.timedOut} timed out, ${m.lostPlace} lost their admission`,
    ...(s.holds
      ? (['seats', 'best'] as const).map((kind) => {
          const h = s.holds![kind];
          const rejected = Object.values(h.rejected).reduce((a, b) => a + b, 0);
          const reasons = Object.entries(h.rejected)
            .sort((a, b) => b[1] - a[1])
            .map(([r, n]) => `${r} ${n}`)
            .join(', ');
          return `  ${kind === 'seats' ? 'holds (seats named)' : 'holds (best available)'}  ${h.succeeded} granted, ${rejected} rejected${reasons ? ` (${reasons})` : ''}, ${h.unanswered} not seen final`;
        })
      : []),
    ...(s.best?.requests
      ? [
          `  best available, replayed at each request's turn: ${s.best.requests} requests, ${s.best.refusedWhileAvailable} refused while seats of their zone and grade could serve them (target 0), ${s.best.wrongReason} wrong reasons, ${s.best.picksDiffer} picks differ from the replay's`,
          `    refused rightly while some seat of their zone and grade was free: ${s.best.refusedWithSeatsLeft.notTogether} not enough side by side, ${s.best.refusedWithSeatsLeft.fewerThanAsked} fewer free than asked, ${s.best.refusedWithSeatsLeft.overLimit} over the limit`,
          `    single empty seat between taken ones: ${s.best.gapsLeft.avoidable} grants left an avoidable one, ${s.best.gapsLeft.forced} one every run of their row left; after the sale ${s.best.loneAtEnd.total} such seats, ${s.best.loneAtEnd.byBest} made by best available (target 0)`,
        ]
      : []),
    `  sale      ${s.sale.soldOut ? `sold out at ${s.sale.timeToSellOutSeconds} s` : 'not sold out'}: ${s.sale.sold} sold, ${s.sale.held} held, ${s.sale.available} available; ${s.sale.seatsSoldPerSecond} seats/s (peak ${s.sale.peakSeatsSoldPerSecond}/s); queue depth max ${s.sale.maxQueueDepth}, lag max ${s.sale.maxQueueLagMs} ms; line max ${s.sale.maxLine}`,
    '  endpoints   requests     rate      latency (ms, client side)',
    ...rows,
    ...(s.fairness
      ? [
          `  fairness  Kendall's tau ${s.fairness.kendallTau} (arrival vs admission), largest displacement ${s.fairness.largestDisplacement}, seats by arrival decile ${s.fairness.seatsShareByArrivalDecile.join(' ')}; verify: ${s.fairness.verified ? 'VERIFIED' : 'BROKEN'} (${s.fairness.logEntries} entries)`,
          ...(s.fairness.preQueue && s.fairness.afterPreQueue
            ? [
                `            shuffle-at-open: Kendall's tau within the pre-queue ${s.fairness.preQueue.kendallTau} (${s.fairness.preQueue.members} admitted members, drawn), after it ${s.fairness.afterPreQueue.kendallTau} (${s.fairness.afterPreQueue.members}, in arrival order)`,
              ]
            : []),
        ]
      : []),
    `  phases    ${s.phases.map((p) => `${p.name} ${p.startSeconds}-${p.endSeconds} s (${p.requests} requests, ${p.errors} errors)`).join('; ')}`,
    '  invariants',
    ...s.invariants.map((i) => `    ${i.ok ? 'OK      ' : 'BROKEN  '} ${i.name}: ${i.detail}`),
    `  ${s.ok ? 'all invariants held' : 'AN INVARIANT BROKE'}; ${join(dir, 'summary.json')}, ${join(dir, 'report.html')}`,
  ].join('\n');
}
