import { randomBytes } from 'node:crypto';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import {
  batchFootprint,
  planBatch,
  type BatchJob,
  type BatchPlan,
  type HoldRef,
  type KnownHold,
  type PaymentState,
  type RequestState,
} from '../../domain/batch.js';
import type { SeatStatus } from '../../domain/holds.js';
import type { SeatChange } from '../../seat-events/seat-events.js';
import { finalView, holdView, type RequestView } from '../../holds/views.js';

// The one place that writes a performance's seats: a run of queued jobs is applied in one
// transaction with set-based statements, behind one fence (the last queue sequence applied).

/** What a committed batch leaves to do after its commit; recorded in the same transaction. */
export type CommitWork = {
  events: SeatChange[];
  /** Requests that became final (or were found final): their long-polls wake up. */
  announce: number[];
  /**
   * What each request decided here reads like now (the long-polls answer with it). Not kept in the
   * outbox: a redo announces without views, and long-polls read MySQL instead.
   */
  views: RequestView[];
  /** Holds whose expiry must be scheduled: [holdId, epoch ms]. */
  expiries: [number, number][];
  capture: string[];
  void: string[];
  /** Members who finished buying and leave the waiting room. */
  leave: number[];
};

export type PendingWork = { lastSeq: number; work: CommitWork };

export type BatchCommit = {
  /** The fence after it: the last sequence of the batch, or the old fence if nothing was new. */
  appliedThrough: number;
  /** The jobs above the fence, as applied, with the plan that decided them. */
  applied: BatchJob[];
  plan: BatchPlan;
  work: CommitWork;
};

export class JobsOutOfOrderError extends Error {
  override name = 'JobsOutOfOrderError';
}

export type CommitOptions = {
  holdTtlSeconds: number;
  maxSeatsPerMember: number;
  /** Outbox entries whose after-commit work is done: deleted in this transaction. */
  completed: number[];
  /** This worker process: it claims the outbox entry it writes. */
  owner: string;
  /**
   * Called when the batch starts above fence + 1: true if a job in between is still waiting or
   * running (so this batch would overtake it).
   */
  pendingBetween: (from: number, to: number) => Promise<boolean>;
  /** Test hook: runs just before COMMIT. */
  beforeCommit?: () => void;
};

type Row = Record<string, unknown>;

/** DATETIME(3) literal in UTC. */
function sqlTime(d: Date): string {
  return `'${d.toISOString().replace('T', ' ').replace('Z', '')}'`;
}

function ints(ids: Iterable<number>): string {
  return [...ids].map((n) => String(Math.trunc(Number(n)))).join(',');
}

function serial(): string {
  // 20 characters of Crockford base32 (100 bits): unguessable, unique by key.
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  return Array.from(randomBytes(20), (b) => alphabet[b % 32]).join('');
}

export class SeatCommitRepository {
  constructor(private readonly sequelize: Sequelize) {}

  private esc(v: string): string {
    return this.sequelize.escape(v);
  }

  /** Runs statements in one round trip and returns one result set per statement. */
  private async many(statements: string[], transaction: Transaction): Promise<Row[][]> {
    if (!statements.length) return [];
    // Starting with SET makes Sequelize return every result set (and not treat it as an INSERT).
    const [sets] = (await this.sequelize.query(['SET @batch = NULL', ...statements].join(';\n'), {
      type: QueryTypes.RAW,
      transaction,
    })) as unknown as [Row[][]];
    return sets.slice(1);
  }

  /** Applies the jobs above the fence, in order, in one transaction. */
  async applyBatch(performanceId: number, jobs: BatchJob[], o: CommitOptions): Promise<BatchCommit> {
    const p = Math.trunc(performanceId);
    return this.sequelize.transaction(async (transaction) => {
      const [perfRows] = await this.many(
        [
          `SELECT applied_seq AS appliedSeq, event_seq AS eventSeq FROM performances WHERE id = ${p} FOR UPDATE`,
        ],
        transaction,
      );
      const perf = perfRows?.[0];
      if (!perf) throw new Error(`performance ${p} does not exist`);
      const fence = Number(perf['appliedSeq']);
      const done = new Set(o.completed);
      const fresh = jobs.filter((j) => j.seq > fence);
      const first = fresh[0];
      if (first && first.seq > fence + 1 && (await o.pendingBetween(fence + 1, first.seq - 1)))
        throw new JobsOutOfOrderError(
          `performance ${p}: job ${first.seq} would pass a waiting job after ${fence}`,
        );

      const now = new Date();
      const snapshot = await this.snapshot(p, fresh, now, o, transaction);
      const plan = planBatch(fresh, snapshot.state);
      const last = fresh.length ? fresh[fresh.length - 1]!.seq : fence;

      const createdHolds = new Map<number, number>();
      if (plan.newHolds.length) {
        const [, created] = await this.many(
          [
            `INSERT INTO holds (performance_id, member_id, request_id, status, expires_at, created_at, updated_at) VALUES ${plan.newHolds
              .map(
                (h) =>
                  `(${p}, ${ints([h.memberId])}, ${ints([h.requestId])}, 'held', ${sqlTime(h.expiresAt)}, ${sqlTime(now)}, ${sqlTime(now)})`,
              )
              .join(', ')}`,
            `SELECT id, request_id AS requestId FROM holds WHERE request_id IN (${ints(plan.newHolds.map((h) => h.requestId))})`,
          ],
          transaction,
        );
        for (const r of created ?? []) createdHolds.set(Number(r['requestId']), Number(r['id']));
      }
      const holdId = (ref: HoldRef | null | undefined): number | null => {
        if (!ref) return null;
        if ('id' in ref) return ref.id;
        return createdHolds.get(plan.newHolds[ref.created]!.requestId) ?? null;
      };

      const tickets = plan.tickets.map((t) => ({ ...t, serial: serial() }));
      const eventSeq = Number(perf['eventSeq']);
      const events = plan.seatChanges.map((c, i) => ({
        seq: eventSeq + i + 1,
        seatId: c.seatId,
        status: c.status,
      }));
      const work: CommitWork = {
        events,
        announce: plan.results.flatMap((r) => (r.requestId ? [r.requestId] : [])),
        views: this.views(p, fresh, plan, snapshot.state.holds, createdHolds, tickets),
        expiries: [
          ...plan.newHolds.map(
            (h) => [createdHolds.get(h.requestId)!, h.expiresAt.getTime()] as [number, number],
          ),
          ...plan.rearm.map((r) => [r.holdId, r.at.getTime()] as [number, number]),
        ],
        capture: plan.capture,
        void: plan.void,
        leave: plan.finished,
      };

      const w: string[] = [];
      const ended = [...plan.holdUpdates].filter(([, s]) => s !== 'confirmed').map(([id]) => id);
      if (ended.length) w.push(`UPDATE hold_seats SET live_seat_id = NULL WHERE hold_id IN (${ints(ended)})`);
      if (plan.newHolds.length)
        w.push(
          `INSERT INTO hold_seats (hold_id, seat_id, live_seat_id) VALUES ${plan.newHolds
            .flatMap((h) =>
              h.seatIds.map((s) => `(${ints([createdHolds.get(h.requestId)!])}, ${ints([s])}, ${ints([s])})`),
            )
            .join(', ')}`,
        );
      if (plan.holdUpdates.size)
        w.push(
          `UPDATE holds SET status = CASE id ${[...plan.holdUpdates]
            .map(([id, s]) => `WHEN ${ints([id])} THEN '${s}'`)
            .join(' ')} END, updated_at = ${sqlTime(now)} WHERE id IN (${ints(plan.holdUpdates.keys())})`,
        );
      // Each seat ends in the state of its last change.
      const finalSeats = new Map<number, { status: SeatStatus; hold: number | null }>();
      for (const c of plan.seatChanges)
        finalSeats.set(c.seatId, {
          status: c.status,
          hold: c.status === 'available' ? null : holdId(c.hold),
        });
      if (finalSeats.size) {
        const cases = (f: (v: { status: SeatStatus; hold: number | null }) => string) =>
          [...finalSeats].map(([id, v]) => `WHEN ${ints([id])} THEN ${f(v)}`).join(' ');
        w.push(
          `UPDATE seats SET status = CASE id ${cases((v) => `'${v.status}'`)} END,
             hold_id = CASE id ${cases((v) => (v.hold === null ? 'NULL' : ints([v.hold])))} END
           WHERE id IN (${ints(finalSeats.keys())})`,
        );
        w.push(
          `INSERT INTO seat_events (performance_id, seq, seat_id, status, created_at) VALUES ${events
            .map((e) => `(${p}, ${e.seq}, ${ints([e.seatId])}, '${e.status}', ${sqlTime(now)})`)
            .join(', ')}`,
        );
      }
      if (tickets.length)
        w.push(
          `INSERT INTO tickets (serial, hold_id, member_id, performance_id, seat_id, price, created_at) VALUES ${tickets
            .map(
              (t) =>
                `('${t.serial}', ${ints([t.holdId])}, ${ints([t.memberId])}, ${p}, ${ints([t.seatId])}, ${Number(snapshot.prices.get(t.seatId) ?? 0)}, ${sqlTime(now)})`,
            )
            .join(', ')}`,
        );
      const paid = [
        ...plan.capture.map((a) => [a, 'captured'] as const),
        ...plan.void.map((a) => [a, 'voided'] as const),
      ];
      if (paid.length)
        w.push(
          `UPDATE payments SET status = CASE authorization_id ${paid
            .map(([a, s]) => `WHEN ${this.esc(a)} THEN '${s}'`)
            .join(' ')} END, updated_at = ${sqlTime(now)}
           WHERE status = 'authorized' AND authorization_id IN (${paid.map(([a]) => this.esc(a)).join(',')})`,
        );
      const decided = plan.results.filter(
        (r) => r.requestId && r.outcome !== 'duplicate' && r.outcome !== 'skipped',
      );
      if (decided.length) {
        const cases = (f: (r: (typeof decided)[number]) => string) =>
          decided.map((r) => `WHEN ${ints([r.requestId!])} THEN ${f(r)}`).join(' ');
        w.push(
          `UPDATE hold_requests SET
             status = CASE id ${cases((r) => (r.outcome === 'succeeded' ? "'succeeded'" : "'rejected'"))} END,
             reason = CASE id ${cases((r) => (r.outcome === 'succeeded' ? 'NULL' : `'${r.outcome}'`))} END,
             hold_id = CASE id ${cases((r) => {
               const h = r.hold && 'created' in r.hold ? holdId(r.hold) : null;
               return h === null ? 'hold_id' : ints([h]);
             })} END,
             queue_seq = CASE id ${cases((r) => ints([r.seq]))} END,
             processed_at = ${sqlTime(now)}
           WHERE id IN (${ints(decided.map((r) => r.requestId!))})`,
        );
      }
      if (fresh.length)
        w.push(
          `UPDATE performances SET event_seq = ${eventSeq + events.length}, applied_seq = ${last} WHERE id = ${p}`,
        );
      if (done.size)
        w.push(`DELETE FROM commit_outbox WHERE performance_id = ${p} AND last_seq IN (${ints(done)})`);
      if (fresh.length)
        w.push(
          `INSERT INTO commit_outbox (performance_id, last_seq, work, created_at, claimed_by, claimed_at)
           VALUES (${p}, ${last}, ${this.esc(JSON.stringify({ ...work, views: [] }))}, ${sqlTime(now)}, ${this.esc(o.owner)}, NOW(3))`,
        );
      await this.many(w, transaction);
      o.beforeCommit?.();
      return { appliedThrough: last, applied: fresh, plan, work };
    });
  }

  /** The final view of every request the batch decided, as a read right after the commit gives it. */
  private views(
    p: number,
    jobs: BatchJob[],
    plan: BatchPlan,
    known: ReadonlyMap<number, KnownHold>,
    createdHolds: Map<number, number>,
    tickets: { holdId: number; seatId: number; serial: string }[],
  ): RequestView[] {
    const bySeq = new Map(jobs.map((j) => [j.seq, j]));
    const views: RequestView[] = [];
    for (const r of plan.results) {
      const job = bySeq.get(r.seq);
      if (!job || job.kind === 'poison' || job.kind === 'expire' || !r.requestId) continue;
      if (r.outcome === 'duplicate' || r.outcome === 'skipped' || r.outcome === 'poison') continue;
      const status = r.outcome === 'succeeded' ? 'succeeded' : 'rejected';
      let hold: RequestView['hold'];
      if (job.kind === 'hold') {
        const created = r.hold && 'created' in r.hold ? plan.newHolds[r.hold.created] : undefined;
        const id = created ? createdHolds.get(created.requestId) : undefined;
        if (created && id)
          hold = holdView({
            id,
            performanceId: p,
            seatIds: created.seatIds,
            status: 'held',
            expiresAt: created.expiresAt,
          });
      } else {
        const h = known.get(job.holdId);
        // A hold this performance does not know: the API's read answers instead.
        if (!h) continue;
        const now = plan.holdUpdates.get(h.id) ?? h.status;
        hold = holdView({ ...h, performanceId: p, status: now });
      }
      const own =
        job.kind === 'confirm' && status === 'succeeded'
          ? tickets.filter((t) => t.holdId === job.holdId)
          : undefined;
      views.push(
        finalView({
          requestId: r.requestId,
          kind: job.kind,
          status,
          reason: status === 'rejected' ? r.outcome : null,
          hold,
          tickets: own?.map((t) => ({ serial: t.serial, seatId: t.seatId })),
        }),
      );
    }
    return views;
  }

  /** Reads (and locks) what the batch's decisions depend on, in one round trip. */
  private async snapshot(
    p: number,
    jobs: BatchJob[],
    now: Date,
    o: CommitOptions,
    transaction: Transaction,
  ): Promise<{
    state: Parameters<typeof planBatch>[1];
    prices: Map<number, number>;
  }> {
    const f = batchFootprint(jobs);
    const reads: [string, string][] = [];
    if (f.requestIds.length)
      reads.push([
        'requests',
        `SELECT id, status, created_at AS createdAt FROM hold_requests WHERE id IN (${ints(f.requestIds)}) FOR UPDATE`,
      ]);
    if (f.seatIds.length)
      reads.push([
        'seats',
        `SELECT id, status FROM seats WHERE performance_id = ${p} AND id IN (${ints(f.seatIds)})`,
      ]);
    if (f.memberIds.length)
      reads.push([
        'members',
        `SELECT h.member_id AS memberId, COUNT(*) AS n FROM holds h JOIN hold_seats hs ON hs.hold_id = h.id
          WHERE h.performance_id = ${p} AND h.member_id IN (${ints(f.memberIds)}) AND h.status IN ('held', 'confirmed')
          GROUP BY h.member_id`,
      ]);
    if (f.holdIds.length) {
      reads.push([
        'holds',
        `SELECT id, member_id AS memberId, status, expires_at AS expiresAt FROM holds
          WHERE performance_id = ${p} AND id IN (${ints(f.holdIds)}) FOR UPDATE`,
      ]);
      reads.push([
        'holdSeats',
        `SELECT hs.hold_id AS holdId, hs.seat_id AS seatId, g.price FROM hold_seats hs
           JOIN seats s ON s.id = hs.seat_id JOIN seat_grades g ON g.id = s.grade_id
          WHERE hs.hold_id IN (${ints(f.holdIds)}) ORDER BY hs.hold_id, hs.seat_id`,
      ]);
    }
    if (f.authorizationIds.length)
      reads.push([
        'payments',
        `SELECT authorization_id AS authorizationId, status FROM payments
          WHERE authorization_id IN (${f.authorizationIds.map((a) => this.esc(a)).join(',')}) FOR UPDATE`,
      ]);
    const sets = await this.many(
      reads.map(([, sql]) => sql),
      transaction,
    );
    const by = new Map(reads.map(([name], i) => [name, sets[i] ?? []]));
    const rows = (name: string) => by.get(name) ?? [];

    const requests = new Map<number, RequestState>(
      rows('requests').map((r) => [
        Number(r['id']),
        { status: r['status'] as RequestState['status'], createdAt: new Date(r['createdAt'] as string) },
      ]),
    );
    const seats = new Map<number, SeatStatus>(
      rows('seats').map((r) => [Number(r['id']), r['status'] as SeatStatus]),
    );
    const memberSeats = new Map<number, number>(
      rows('members').map((r) => [Number(r['memberId']), Number(r['n'])]),
    );
    const prices = new Map<number, number>();
    const seatsOf = new Map<number, number[]>();
    for (const r of rows('holdSeats')) {
      const h = Number(r['holdId']);
      const s = Number(r['seatId']);
      prices.set(s, Number(r['price']));
      seatsOf.set(h, [...(seatsOf.get(h) ?? []), s]);
    }
    const holds = new Map<number, KnownHold>(
      rows('holds').map((r) => {
        const id = Number(r['id']);
        return [
          id,
          {
            id,
            memberId: Number(r['memberId']),
            status: r['status'] as KnownHold['status'],
            expiresAt: new Date(r['expiresAt'] as string),
            seatIds: seatsOf.get(id) ?? [],
          },
        ];
      }),
    );
    const payments = new Map<string, PaymentState>(
      rows('payments').map((r) => [String(r['authorizationId']), r['status'] as PaymentState]),
    );
    return {
      state: {
        now,
        holdTtlSeconds: o.holdTtlSeconds,
        maxSeatsPerMember: o.maxSeatsPerMember,
        requests,
        seats,
        memberSeats,
        holds,
        payments,
      },
      prices,
    };
  }

  /**
   * Takes over after-commit work left behind: every entry of these performances claimed longer ago
   * than `timeoutMs` (its worker died, or its steps kept failing) is claimed for `owner` in one
   * atomic update, so that one worker does it. Returns the entries `owner` holds and has not
   * `handled` (finished, or still working on).
   */
  async claimStale(
    performanceIds: number[],
    owner: string,
    timeoutMs: number,
    handled: (performanceId: number, lastSeq: number) => boolean,
  ): Promise<(PendingWork & { performanceId: number })[]> {
    if (!performanceIds.length) return [];
    const ids = ints(performanceIds);
    // A plain read first (usually nothing, or only this worker's own fresh entries): the claiming
    // update, which locks, runs only when some entry is stale.
    const rows = await this.sequelize.query<{
      performanceId: number;
      lastSeq: number;
      claimedBy: string;
      stale: number;
    }>(
      `SELECT performance_id AS performanceId, last_seq AS lastSeq, claimed_by AS claimedBy,
              claimed_at < NOW(3) - INTERVAL ? MICROSECOND AS stale
         FROM commit_outbox WHERE performance_id IN (${ids})`,
      { type: QueryTypes.SELECT, replacements: [Math.trunc(timeoutMs * 1000)] },
    );
    const open = (r: { performanceId: number; lastSeq: number }) =>
      !handled(Number(r.performanceId), Number(r.lastSeq));
    const stale = rows.filter((r) => Number(r.stale) === 1 && (r.claimedBy !== owner || open(r)));
    if (!stale.length) return [];
    await this.sequelize.query(
      `UPDATE commit_outbox SET claimed_by = ?, claimed_at = NOW(3)
        WHERE performance_id IN (${ids}) AND claimed_at < NOW(3) - INTERVAL ? MICROSECOND`,
      { type: QueryTypes.UPDATE, replacements: [owner, Math.trunc(timeoutMs * 1000)] },
    );
    // What this worker claimed just now (not its own fresh entries, which it is about to do).
    const key = (r: { performanceId: number; lastSeq: number }) => `${r.performanceId}:${r.lastSeq}`;
    const wanted = new Set(stale.map(key));
    const mine = await this.sequelize.query<{ performanceId: number; lastSeq: number; work: string }>(
      `SELECT performance_id AS performanceId, last_seq AS lastSeq, work FROM commit_outbox
        WHERE performance_id IN (${ids}) AND claimed_by = ? ORDER BY performance_id, last_seq`,
      { type: QueryTypes.SELECT, replacements: [owner] },
    );
    return mine
      .filter((r) => wanted.has(key({ performanceId: Number(r.performanceId), lastSeq: Number(r.lastSeq) })))
      .map((r) => ({ performanceId: Number(r.performanceId), lastSeq: Number(r.lastSeq), work: r.work }))
      .filter((r) => !handled(r.performanceId, r.lastSeq))
      .map((r) => ({ ...r, work: JSON.parse(r.work) as CommitWork }));
  }

  async deleteWork(performanceId: number, lastSeqs: number[]): Promise<void> {
    if (!lastSeqs.length) return;
    await this.sequelize.query(
      `DELETE FROM commit_outbox WHERE performance_id = ? AND last_seq IN (${ints(lastSeqs)})`,
      { type: QueryTypes.DELETE, replacements: [performanceId] },
    );
  }

  async fence(performanceId: number): Promise<number> {
    const [row] = await this.sequelize.query<{ appliedSeq: number }>(
      'SELECT applied_seq AS appliedSeq FROM performances WHERE id = ?',
      { type: QueryTypes.SELECT, replacements: [performanceId] },
    );
    return Number(row?.appliedSeq ?? 0);
  }
}
