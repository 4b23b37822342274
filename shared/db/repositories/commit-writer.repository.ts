import { randomBytes } from 'node:crypto';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { BatchPlan, HoldRef, JobResult } from '../../domain/batch.js';
import type { SeatChange, SeatStatus } from '../../domain/seats.js';

// The commit path's writes (SQL only): a batch's plan in a few set-based statements, in the batch's
// transaction. Every value is a replacement (`?`), never part of the SQL text. Statements naming
// rows by id force the primary key: with a long id list on a small table the optimizer may scan an
// index instead, and a locking scan's next-key locks deadlock the API's inserts (issue 17).

export type WrittenPlan = {
  /** Request id → id of the hold the batch created for it. */
  createdHolds: Map<number, number>;
  events: SeatChange[];
  tickets: { holdId: number; memberId: number; seatId: number; serial: string }[];
};

/** A DATETIME(3) value in UTC (a Date replacement would lose its milliseconds). */
export function sqlTime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

function serial(): string {
  // 20 characters of Crockford base32 (100 bits): unguessable, unique by key.
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  return Array.from(randomBytes(20), (b) => alphabet[b % 32]).join('');
}

/** `(?, ?, …), (?, ?, …)` for `rows` rows of `width` values. */
function tuples(rows: number, width: number): string {
  const one = `(${Array(width).fill('?').join(', ')})`;
  return Array(rows).fill(one).join(', ');
}

/** `CASE id WHEN ? THEN ? … END` over pairs, and the flat replacements it needs. */
function caseOf(column: string, pairs: [unknown, unknown][]): [string, unknown[]] {
  return [`CASE ${column} ${pairs.map(() => 'WHEN ? THEN ?').join(' ')} END`, pairs.flat()];
}

export class CommitWriter {
  constructor(private readonly sequelize: Sequelize) {}

  private async run(sql: string, replacements: unknown[], transaction: Transaction): Promise<void> {
    await this.sequelize.query(sql, { type: QueryTypes.RAW, replacements, transaction });
  }

  /**
   * Writes a batch's plan: its new holds, seats, seat events, tickets, payments, requests' outcomes
   * and the performance's sequences (the fence moves to `lastSeq`).
   */
  async write(
    performanceId: number,
    plan: BatchPlan,
    o: { lastSeq: number; eventSeq: number; now: Date; prices: ReadonlyMap<number, number> },
    transaction: Transaction,
  ): Promise<WrittenPlan> {
    const p = performanceId;
    const now = sqlTime(o.now);
    const createdHolds = new Map<number, number>();
    if (plan.newHolds.length) {
      await this.run(
        `INSERT INTO holds (performance_id, member_id, request_id, status, expires_at, created_at, updated_at)
         VALUES ${tuples(plan.newHolds.length, 7)}`,
        plan.newHolds.flatMap((h) => [p, h.memberId, h.requestId, 'held', sqlTime(h.expiresAt), now, now]),
        transaction,
      );
      const created = await this.sequelize.query<{ id: number; requestId: number }>(
        'SELECT id, request_id AS requestId FROM holds WHERE request_id IN (?)',
        { type: QueryTypes.SELECT, replacements: [plan.newHolds.map((h) => h.requestId)], transaction },
      );
      for (const r of created) createdHolds.set(Number(r.requestId), Number(r.id));
    }
    const holdId = (ref: HoldRef | null | undefined): number | null => {
      if (!ref) return null;
      if ('id' in ref) return ref.id;
      return createdHolds.get(plan.newHolds[ref.created]!.requestId) ?? null;
    };
    const tickets = plan.tickets.map((t) => ({ ...t, serial: serial() }));
    const events: SeatChange[] = plan.seatChanges.map((c, i) => ({
      seq: o.eventSeq + i + 1,
      seatId: c.seatId,
      status: c.status,
    }));

    const ended = [...plan.holdUpdates].filter(([, s]) => s !== 'confirmed').map(([id]) => id);
    if (ended.length)
      await this.run('UPDATE hold_seats SET live_seat_id = NULL WHERE hold_id IN (?)', [ended], transaction);
    const holdSeats = plan.newHolds.flatMap((h) =>
      h.seatIds.map((s) => [createdHolds.get(h.requestId)!, s, s]),
    );
    if (holdSeats.length)
      await this.run(
        `INSERT INTO hold_seats (hold_id, seat_id, live_seat_id) VALUES ${tuples(holdSeats.length, 3)}`,
        holdSeats.flat(),
        transaction,
      );
    if (plan.holdUpdates.size) {
      const [status, values] = caseOf('id', [...plan.holdUpdates]);
      await this.run(
        `UPDATE holds FORCE INDEX (PRIMARY) SET status = ${status}, updated_at = ? WHERE id IN (?)`,
        [...values, now, [...plan.holdUpdates.keys()]],
        transaction,
      );
    }
    // Each seat ends in the state of its last change.
    const finalSeats = new Map<number, { status: SeatStatus; hold: number | null }>();
    for (const c of plan.seatChanges)
      finalSeats.set(c.seatId, { status: c.status, hold: c.status === 'available' ? null : holdId(c.hold) });
    if (finalSeats.size) {
      const [status, sv] = caseOf(
        'id',
        [...finalSeats].map(([id, v]) => [id, v.status]),
      );
      const [hold, hv] = caseOf(
        'id',
        [...finalSeats].map(([id, v]) => [id, v.hold]),
      );
      await this.run(
        `UPDATE seats FORCE INDEX (PRIMARY) SET status = ${status}, hold_id = ${hold} WHERE id IN (?)`,
        [...sv, ...hv, [...finalSeats.keys()]],
        transaction,
      );
      await this.run(
        `INSERT INTO seat_events (performance_id, seq, seat_id, status, created_at) VALUES ${tuples(events.length, 5)}`,
        events.flatMap((e) => [p, e.seq, e.seatId, e.status, now]),
        transaction,
      );
    }
    if (tickets.length)
      await this.run(
        `INSERT INTO tickets (serial, hold_id, member_id, performance_id, seat_id, price, created_at)
         VALUES ${tuples(tickets.length, 7)}`,
        tickets.flatMap((t) => [
          t.serial,
          t.holdId,
          t.memberId,
          p,
          t.seatId,
          o.prices.get(t.seatId) ?? 0,
          now,
        ]),
        transaction,
      );
    const paid: [string, string][] = [
      ...plan.capture.map((a): [string, string] => [a, 'captured']),
      ...plan.void.map((a): [string, string] => [a, 'voided']),
    ];
    if (paid.length) {
      const [status, values] = caseOf('authorization_id', paid);
      await this.run(
        `UPDATE payments SET status = ${status}, updated_at = ?
          WHERE status = 'authorized' AND authorization_id IN (?)`,
        [...values, now, paid.map(([a]) => a)],
        transaction,
      );
    }
    const decided = plan.results.filter(
      (r): r is JobResult & { requestId: number } =>
        !!r.requestId && r.outcome !== 'duplicate' && r.outcome !== 'skipped',
    );
    if (decided.length) {
      const [status, s1] = caseOf(
        'id',
        decided.map((r) => [r.requestId, r.outcome === 'succeeded' ? 'succeeded' : 'rejected']),
      );
      const [reason, s2] = caseOf(
        'id',
        decided.map((r) => [r.requestId, r.outcome === 'succeeded' ? null : r.outcome]),
      );
      // A request that did not create a hold keeps the hold it names.
      const creating = decided.flatMap((r) => {
        const h = r.hold && 'created' in r.hold ? holdId(r.hold) : null;
        return h === null ? [] : [[r.requestId, h] as [number, number]];
      });
      const [hold, s3] = creating.length ? caseOf('id', creating) : ['NULL', []];
      const [seq, s4] = caseOf(
        'id',
        decided.map((r) => [r.requestId, r.seq]),
      );
      await this.run(
        `UPDATE hold_requests FORCE INDEX (PRIMARY) SET status = ${status}, reason = ${reason},
           hold_id = ${creating.length ? `COALESCE(${hold}, hold_id)` : 'hold_id'},
           queue_seq = ${seq}, processed_at = ? WHERE id IN (?)`,
        [...s1, ...s2, ...s3, ...s4, now, decided.map((r) => r.requestId)],
        transaction,
      );
    }
    // The fence row (locked at the batch's start): `commit_fences`, never the performance row.
    await this.run(
      'UPDATE commit_fences SET event_seq = ?, applied_seq = ? WHERE performance_id = ?',
      [o.eventSeq + events.length, o.lastSeq, p],
      transaction,
    );
    return { createdHolds, events, tickets };
  }
}
