import { QueryTypes } from 'sequelize';
import type { Context } from '../../shared/context.js';
import type { BestRequest } from '../../shared/domain/best-available.js';
import { replayBestAvailable, type BestReplay } from '../../shared/testing/best-replay.js';
import { replaySale, type SaleJob } from '../../shared/testing/replay.js';

export type Invariant = { name: string; ok: boolean; detail: string };

/**
 * Expiry jobs are not recorded in MySQL: they take a queue sequence like any request. This watcher
 * reads every new job of the performance's queue while the sale runs (completed jobs are trimmed
 * later), so the replay can put each expiry at its place in the order.
 */
export class QueueWatcher {
  readonly expiries = new Map<number, number>();
  private read = 0;
  private missing: number[] = [];

  constructor(
    private readonly ctx: Context,
    private readonly performanceId: number,
  ) {}

  async poll(): Promise<void> {
    const k = this.ctx.queues.keys(this.performanceId);
    const last = Number((await this.ctx.redis.get(k.id)) ?? 0);
    const seqs = [...this.missing];
    for (let s = this.read + 1; s <= last; s++) seqs.push(s);
    this.read = Math.max(this.read, last);
    this.missing = [];
    for (let i = 0; i < seqs.length; i += 1000) {
      const chunk = seqs.slice(i, i + 1000);
      const pipe = this.ctx.redis.pipeline();
      chunk.forEach((s) => pipe.hget(`${k.job}${s}`, 'data'));
      const res = (await pipe.exec()) ?? [];
      chunk.forEach((s, j) => {
        const data = res[j]?.[1] as string | null | undefined;
        if (!data) return void this.missing.push(s);
        const job = JSON.parse(data) as { kind?: string; holdId?: number };
        if (job.kind === 'expire' && job.holdId) this.expiries.set(s, job.holdId);
      });
    }
  }

  /** Sequences whose job could not be read (none in a healthy run). */
  get unread(): number[] {
    return this.missing;
  }
}

/** What members were told, to hold against the database. */
export type Answers = {
  /** requestId -> final status and reason, as a member read it. */
  finals: Map<number, { via: string; status: string; reason?: string }>;
  /** Requests answered 202 that the member never saw final. */
  unresolved: number;
  /** Waiting-room tickets handed out (one per member that joined). */
  tickets: number[];
  positionRises: number;
};

/** The waiting room's invariants, sampled atomically from Redis (see load-waiting-room.ts). */
export class RoomSampler {
  violations = 0;
  maxAdmitted = 0;
  samples = 0;
  line = 0;
  admitted = 0;

  constructor(
    private readonly ctx: Context,
    private readonly performanceId: number,
    private readonly capacity: number,
  ) {}

  async sample(): Promise<void> {
    const {
      line: lineKey,
      admitted: admittedKey,
      tickets: ticketsKey,
    } = this.ctx.waitingRoom.keys(this.performanceId);
    const r = await this.ctx.redis
      .multi()
      .zrange(lineKey!, 0, 0, 'WITHSCORES')
      .hvals(ticketsKey!)
      .zcard(admittedKey!)
      .zcard(lineKey!)
      .exec();
    const first = r?.[0]?.[1] as string[];
    const admittedTickets = (r?.[1]?.[1] as string[]).map(Number);
    this.admitted = r?.[2]?.[1] as number;
    this.line = r?.[3]?.[1] as number;
    this.samples++;
    this.maxAdmitted = Math.max(this.maxAdmitted, this.admitted);
    if (this.admitted > this.capacity) this.violations++;
    if (first.length && admittedTickets.some((t) => t > Number(first[1]))) this.violations++;
  }
}

type Row = Record<string, unknown>;

/** Every invariant of §4 that a sale can show, from the answers and from the database. */
export async function checkSale(
  ctx: Context,
  performanceId: number,
  o: {
    seatCount: number;
    answers: Answers;
    watcher: QueueWatcher;
    room: RoomSampler;
    countSamples: { bad: number; samples: number };
  },
): Promise<{ invariants: Invariant[]; contendedSeats: number; best: BestReplay }> {
  const q = (sql: string) =>
    ctx.sequelize.query<Row>(sql, { type: QueryTypes.SELECT, replacements: [performanceId] });
  const out: Invariant[] = [];
  const add = (name: string, ok: boolean, detail: string) => out.push({ name, ok, detail });

  const twoLive = await q(`SELECT hs.seat_id FROM hold_seats hs JOIN holds h ON h.id = hs.hold_id
    WHERE h.performance_id = ? AND h.status IN ('held', 'confirmed') GROUP BY hs.seat_id HAVING COUNT(*) > 1`);
  const soldTwice = await q(
    `SELECT seat_id FROM tickets WHERE performance_id = ? GROUP BY seat_id HAVING COUNT(*) > 1`,
  );
  const disagree = await q(`SELECT s.id FROM seats s
    LEFT JOIN hold_seats hs ON hs.seat_id = s.id AND hs.live_seat_id IS NOT NULL
    LEFT JOIN holds h ON h.id = hs.hold_id
    LEFT JOIN tickets t ON t.seat_id = s.id
    WHERE s.performance_id = ? AND (
      (s.status = 'held') <> (h.status <=> 'held') OR (s.status = 'sold') <> (t.id IS NOT NULL))`);
  add(
    'no seat in two live holds, none sold twice',
    !twoLive.length && !soldTwice.length && !disagree.length,
    `${twoLive.length} seats in two live holds, ${soldTwice.length} sold twice, ${disagree.length} seat rows disagreeing with holds and tickets`,
  );

  const requests = await q(`SELECT r.id, r.kind, r.member_id AS memberId, r.payload, r.status, r.reason,
      r.queue_seq AS seq, r.created_at AS createdAt, h.id AS createdHold
    FROM hold_requests r LEFT JOIN holds h ON h.request_id = r.id
    WHERE r.performance_id = ? ORDER BY r.queue_seq`);
  const holdRows = await q(`SELECT id, status, expires_at AS expiresAt FROM holds WHERE performance_id = ?`);
  const expiresAt = new Map(holdRows.map((h) => [Number(h['id']), new Date(h['expiresAt'] as string)]));
  // A best-available request names no seats: its hold's seats are the ones the worker picked.
  const heldSeats = new Map<number, number[]>();
  for (const r of await q(`SELECT hs.hold_id AS holdId, hs.seat_id AS seatId FROM hold_seats hs
      JOIN holds h ON h.id = hs.hold_id WHERE h.performance_id = ? ORDER BY hs.seat_id`)) {
    const id = Number(r['holdId']);
    heldSeats.set(id, [...(heldSeats.get(id) ?? []), Number(r['seatId'])]);
  }
  const jobs: SaleJob[] = requests.map((r) => {
    const payload = JSON.parse(String(r['payload'])) as {
      seatIds?: number[];
      holdId?: number;
      best?: BestRequest;
    };
    const createdHold = r['createdHold'] == null ? null : Number(r['createdHold']);
    const base = {
      seq: Number(r['seq']),
      requestId: Number(r['id']),
      memberId: Number(r['memberId']),
      status: String(r['status']),
      reason: (r['reason'] as string | null) ?? null,
    };
    return r['kind'] === 'hold'
      ? {
          ...base,
          kind: 'hold',
          seatIds: payload.best
            ? createdHold === null
              ? []
              : (heldSeats.get(createdHold) ?? [])
            : (payload.seatIds ?? []),
          holdId: createdHold,
          ...(payload.best ? { best: payload.best } : {}),
        }
      : {
          ...base,
          kind: r['kind'] as 'confirm' | 'release',
          holdId: payload.holdId ?? 0,
          createdAt: new Date(r['createdAt'] as string),
        };
  });
  for (const [seq, holdId] of o.watcher.expiries) jobs.push({ seq, kind: 'expire', holdId });
  jobs.sort((a, b) => a.seq - b.seq);
  const replay = replaySale(jobs, ctx.config.maxSeatsPerMember, expiresAt);
  const holdMismatch = holdRows.filter((h) => replay.holds.get(Number(h['id'])) !== h['status']).length;
  add(
    'for every contended seat the earliest enqueued request won',
    replay.outOfOrder === 0 && holdMismatch === 0 && o.watcher.unread.length === 0,
    `${jobs.length} jobs replayed in queue order (${o.watcher.expiries.size} expiry jobs): ${replay.outOfOrder} outcomes differ, ${holdMismatch} holds end differently; ${replay.contendedSeats} contended seats asked for by ${replay.contendedRequests} hold requests${o.watcher.unread.length ? `; ${o.watcher.unread.length} queue jobs unread` : ''}${replay.examples.length ? `; ${replay.examples.join('; ')}` : ''}`,
  );

  // Best available at each request's turn, from the same replay order and the layout as created.
  const layout = await q(`SELECT id, zone_id AS zoneId, grade_id AS gradeId, \`row\`, number FROM seats
    WHERE performance_id = ? ORDER BY id`);
  const zones = await q('SELECT id FROM zones WHERE performance_id = ? ORDER BY id');
  const best = replayBestAvailable(
    jobs,
    layout.map((s) => ({
      id: Number(s['id']),
      zoneId: Number(s['zoneId']),
      gradeId: Number(s['gradeId']),
      row: s['row'] == null ? null : String(s['row']),
      number: s['number'] == null ? null : Number(s['number']),
    })),
    zones.map((z) => Number(z['id'])),
    ctx.config.maxSeatsPerMember,
  );
  const left = best.refusedWithSeatsLeft;
  add(
    'best available: no request refused while its seats were free, each got the seats a replay picks, no avoidable single gap',
    best.refusedWhileAvailable === 0 &&
      best.wrongReason === 0 &&
      best.picksDiffer === 0 &&
      best.gapsLeft.avoidable === 0,
    `${best.requests} best-available requests replayed at their turn (${best.granted} granted, ${best.rejected} rejected): ` +
      `${best.refusedWhileAvailable} refused while seats of their zone and grade could serve them, ${best.wrongReason} with the wrong reason; ` +
      `refused rightly while some seat of their zone and grade was free: ${left.notTogether} not enough side by side, ${left.fewerThanAsked} fewer free than asked, ${left.overLimit} over the member's limit; ` +
      `${best.picksDiffer} grants differ from the picking re-run; ${best.gapsLeft.avoidable} left an avoidable single empty seat, ${best.gapsLeft.forced} one that every run of their row left; ` +
      `after the sale ${best.loneAtEnd.total} single empty seats between taken ones, ${best.loneAtEnd.byBest} made by best available` +
      (best.examples.length ? `; ${best.examples.join('; ')}` : ''),
  );

  const queued = requests.filter((r) => r['status'] === 'queued').length;
  const byId = new Map(requests.map((r) => [Number(r['id']), r]));
  let told = 0;
  const toldExamples: string[] = [];
  for (const [id, f] of o.answers.finals) {
    const r = byId.get(id);
    if (!r || r['status'] !== f.status || (f.status === 'rejected' && r['reason'] !== f.reason)) {
      told++;
      if (toldExamples.length < 5)
        toldExamples.push(
          `request ${id}: told ${f.status} (${f.via})${f.reason ? ` ${f.reason}` : ''}, recorded ${r ? `${String(r['kind'])} ${String(r['status'])}${r['reason'] ? ` ${String(r['reason'])}` : ''} (seq ${String(r['seq'])})` : 'nothing'}`,
        );
    }
  }
  const seqs = requests.map((r) => Number(r['seq']));
  const dupSeq = seqs.length - new Set(seqs).size;
  add(
    'every accepted request reached a final status',
    queued === 0 && o.answers.unresolved === 0 && told === 0 && dupSeq === 0,
    `${requests.length} requests recorded, ${queued} still queued, ${o.answers.unresolved} never seen final by their member, ${told} answers disagree with the database${toldExamples.length ? ` (${toldExamples.join('; ')})` : ''}, ${dupSeq} queue sequences reused`,
  );

  const tickets = [...o.answers.tickets].sort((a, b) => a - b);
  const gapFree = tickets.every((t, i) => t === i + 1);
  add(
    'waiting-room tickets gap-free, admission in ticket order, never above capacity',
    gapFree && o.room.violations === 0,
    `${tickets.length} tickets ${gapFree ? 'distinct and gap-free' : 'NOT gap-free'}; ${o.room.samples} atomic samples, ${o.room.violations} order or capacity violations, at most ${o.room.maxAdmitted} admitted at once`,
  );
  add(
    'no position ever rose',
    o.answers.positionRises === 0,
    `${o.answers.positionRises} rises seen across every member's reads`,
  );

  const counts = await q(`SELECT status, COUNT(*) AS n FROM seats WHERE performance_id = ? GROUP BY status`);
  const n = (s: string) => Number(counts.find((c) => c['status'] === s)?.['n'] ?? 0);
  const sum = n('available') + n('held') + n('sold');
  const payments = await q(`SELECT p.status, COUNT(*) AS n FROM payments p JOIN holds h ON h.id = p.hold_id
    WHERE h.performance_id = ? GROUP BY p.status`);
  const open = Number(payments.find((p) => p['status'] === 'authorized')?.['n'] ?? 0);
  add(
    'sold + held + available = total',
    sum === o.seatCount && o.countSamples.bad === 0,
    `${n('sold')} sold + ${n('held')} held + ${n('available')} available = ${sum} of ${o.seatCount} seats; ${o.countSamples.bad} of ${o.countSamples.samples} API samples off`,
  );
  add(
    'every payment captured or voided',
    open === 0,
    payments.map((p) => `${String(p['n'])} ${String(p['status'])}`).join(', ') || 'no payments',
  );
  return { invariants: out, contendedSeats: replay.contendedSeats, best };
}

/** One second of the sale's outcomes. */
export type SaleSecond = {
  t: number;
  /** Holds granted; `holdsBest` of them to best-available requests. */
  holds: number;
  holdsBest: number;
  /** Hold requests refused, and by reason. */
  rejections: number;
  refusedBy: Record<string, number>;
  confirms: number;
  releases: number;
  expiries: number;
  sold: number;
};

/** Outcomes per whole second of the run, from the database: what the timeline charts show. */
export async function saleTimeline(
  ctx: Context,
  performanceId: number,
  t0Ms: number,
  seconds: number,
): Promise<SaleSecond[]> {
  const n = Math.ceil(seconds);
  const rows: SaleSecond[] = Array.from({ length: n }, (_, t) => ({
    t,
    holds: 0,
    holdsBest: 0,
    rejections: 0,
    refusedBy: {},
    confirms: 0,
    releases: 0,
    expiries: 0,
    sold: 0,
  }));
  const at = (d: unknown) =>
    Math.min(n - 1, Math.max(0, Math.floor((new Date(d as string).getTime() - t0Ms) / 1000)));
  const q = (sql: string) =>
    ctx.sequelize.query<Row>(sql, { type: QueryTypes.SELECT, replacements: [performanceId] });
  for (const r of await q(
    `SELECT kind, status, reason, payload, processed_at AS t FROM hold_requests
      WHERE performance_id = ? AND processed_at IS NOT NULL`,
  )) {
    const row = rows[at(r['t'])]!;
    if (r['kind'] === 'hold' && r['status'] === 'succeeded') {
      row.holds++;
      if ((JSON.parse(String(r['payload'])) as { best?: unknown }).best) row.holdsBest++;
    } else if (r['kind'] === 'hold') {
      row.rejections++;
      const reason = String(r['reason'] ?? r['status']);
      row.refusedBy[reason] = (row.refusedBy[reason] ?? 0) + 1;
    } else if (r['status'] === 'succeeded') row[r['kind'] === 'confirm' ? 'confirms' : 'releases']++;
  }
  for (const r of await q(
    `SELECT updated_at AS t FROM holds WHERE performance_id = ? AND status = 'expired'`,
  ))
    rows[at(r['t'])]!.expiries++;
  for (const r of await q(`SELECT created_at AS t FROM tickets WHERE performance_id = ?`))
    rows[at(r['t'])]!.sold++;
  return rows;
}
