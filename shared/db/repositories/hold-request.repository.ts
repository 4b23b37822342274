import { QueryTypes, type Sequelize } from 'sequelize';
import type { HoldStatus, RequestKind, RequestStatus } from '../models/index.js';

// The request paths that every client polls, in plain SQL: building Sequelize model instances
// was the largest CPU cost of an API process under load.

export type RequestRow = {
  id: number;
  performanceId: number;
  memberId: number;
  kind: RequestKind;
  payload: string;
  status: RequestStatus;
  reason: string | null;
  holdId: number | null;
  queueSeq: number | null;
};

const COLUMNS = `id, performance_id AS performanceId, member_id AS memberId, kind, payload, status, reason,
  hold_id AS holdId, queue_seq AS queueSeq`;

export class HoldRequestRepository {
  constructor(private readonly sequelize: Sequelize) {}

  async byId(id: number): Promise<RequestRow | undefined> {
    const [row] = await this.sequelize.query<RequestRow>(
      `SELECT ${COLUMNS} FROM hold_requests WHERE id = ?`,
      {
        type: QueryTypes.SELECT,
        replacements: [id],
      },
    );
    return row;
  }

  /** The member's request with this Idempotency-Key, with its age by MySQL's clock. */
  async byKey(
    memberId: number,
    idempotencyKey: string,
  ): Promise<(RequestRow & { ageMs: number }) | undefined> {
    const [row] = await this.sequelize.query<RequestRow & { ageMs: number }>(
      `SELECT ${COLUMNS}, TIMESTAMPDIFF(MICROSECOND, created_at, NOW(3)) DIV 1000 AS ageMs
         FROM hold_requests WHERE member_id = ? AND idempotency_key = ?`,
      { type: QueryTypes.SELECT, replacements: [memberId, idempotencyKey] },
    );
    return row && { ...row, ageMs: Number(row.ageMs) };
  }

  /**
   * Accepted requests of these performances that MySQL knows no queue sequence of, accepted
   * between `newerThanMs` and `olderThanMs` ago: those whose API process may have died before
   * their enqueue (the status index bounds the scan to that window).
   */
  async unsequenced(
    performanceIds: readonly number[],
    olderThanMs: number,
    newerThanMs: number,
    limit = 200,
  ): Promise<RequestRow[]> {
    if (!performanceIds.length) return [];
    return this.sequelize.query<RequestRow>(
      `SELECT ${COLUMNS} FROM hold_requests
        WHERE status = 'queued' AND created_at < NOW(3) - INTERVAL ? MICROSECOND
          AND created_at > NOW(3) - INTERVAL ? MICROSECOND
          AND queue_seq IS NULL AND performance_id IN (?)
        ORDER BY id LIMIT ?`,
      {
        type: QueryTypes.SELECT,
        replacements: [olderThanMs * 1000, newerThanMs * 1000, performanceIds, limit],
      },
    );
  }

  /** A hold's owner, performance and status; undefined if there is no such hold. */
  async holdHead(
    holdId: number,
  ): Promise<{ id: number; memberId: number; performanceId: number; status: HoldStatus } | undefined> {
    const [row] = await this.sequelize.query<{
      id: number;
      memberId: number;
      performanceId: number;
      status: HoldStatus;
    }>('SELECT id, member_id AS memberId, performance_id AS performanceId, status FROM holds WHERE id = ?', {
      type: QueryTypes.SELECT,
      replacements: [holdId],
    });
    return (
      row && {
        id: Number(row.id),
        memberId: Number(row.memberId),
        performanceId: Number(row.performanceId),
        status: row.status,
      }
    );
  }

  /** Inserts a queued request; a duplicate Idempotency-Key surfaces as Sequelize's UniqueConstraintError. */
  async insert(r: {
    performanceId: number;
    memberId: number;
    kind: RequestKind;
    idempotencyKey: string | null;
    payload: string;
    holdId: number | null;
  }): Promise<number> {
    // InnoDB may pick this insert as a deadlock victim against a batch updating requests of the
    // same performance (gap locks on the status indexes); the statement was rolled back whole, so it
    // is simply tried again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.insertOnce(r);
      } catch (err) {
        if (attempt >= 20 || !/Deadlock found|ER_LOCK_DEADLOCK/.test(String((err as Error)?.message)))
          throw err;
        // Since the fence has its own row, inserts no longer queue behind a batch on the performance
        // row, so a burst meets batches head-on: back off with jitter (at most ~1.5 s in all).
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(100, 5 * attempt) * (0.5 + Math.random())),
        );
      }
    }
  }

  private async insertOnce(r: Parameters<HoldRequestRepository['insert']>[0]): Promise<number> {
    const [id] = await this.sequelize.query(
      `INSERT INTO hold_requests (performance_id, member_id, kind, idempotency_key, payload, status, hold_id, created_at)
       VALUES (?, ?, ?, ?, ?, 'queued', ?, NOW(3))`,
      {
        type: QueryTypes.INSERT,
        replacements: [r.performanceId, r.memberId, r.kind, r.idempotencyKey, r.payload, r.holdId],
      },
    );
    return Number(id);
  }

  /** Records queue sequences of many requests in one statement. */
  async setQueueSeqs(pairs: readonly [id: number, seq: number][]): Promise<void> {
    if (!pairs.length) return;
    const ints = (n: number) => String(Math.trunc(n));
    await this.sequelize.query(
      `UPDATE hold_requests FORCE INDEX (PRIMARY) SET queue_seq = CASE id ${pairs.map(([id, seq]) => `WHEN ${ints(id)} THEN ${ints(seq)}`).join(' ')} END
        WHERE id IN (${pairs.map(([id]) => ints(id)).join(',')})`,
      { type: QueryTypes.UPDATE },
    );
  }

  /** A performance's accepted, unfinished requests, in queue order as far as MySQL knows it. */
  async queued(performanceId: number, olderThanMs = 0, limit = 100_000): Promise<RequestRow[]> {
    return this.sequelize.query<RequestRow>(
      `SELECT ${COLUMNS} FROM hold_requests
        WHERE performance_id = ? AND status = 'queued' AND created_at < NOW(3) - INTERVAL ? MICROSECOND
        ORDER BY queue_seq IS NULL, queue_seq, id LIMIT ?`,
      { type: QueryTypes.SELECT, replacements: [performanceId, olderThanMs * 1000, limit] },
    );
  }

  async delete(id: number): Promise<void> {
    await this.sequelize.query('DELETE FROM hold_requests WHERE id = ?', {
      type: QueryTypes.DELETE,
      replacements: [id],
    });
  }

  /** Holds with their seat ids, by hold id or by member, oldest first. */
  async holds(where: { id: number } | { memberId: number }) {
    const [column, value] = 'id' in where ? ['h.id', where.id] : ['h.member_id', where.memberId];
    const rows = await this.sequelize.query<{
      id: number;
      performanceId: number;
      status: HoldStatus;
      expiresAt: Date;
      seatIds: string;
    }>(
      `SELECT h.id, h.performance_id AS performanceId, h.status, h.expires_at AS expiresAt,
              GROUP_CONCAT(hs.seat_id ORDER BY hs.seat_id) AS seatIds
         FROM holds h JOIN hold_seats hs ON hs.hold_id = h.id
        WHERE ${column} = ? GROUP BY h.id ORDER BY h.id`,
      { type: QueryTypes.SELECT, replacements: [value] },
    );
    return rows.map((h) => ({
      id: Number(h.id),
      performanceId: Number(h.performanceId),
      seatIds: String(h.seatIds).split(',').map(Number),
      status: h.status,
      expiresAt: new Date(h.expiresAt).toISOString(),
    }));
  }

  /** The member's tickets, oldest first; zone: in a stadium a seat code (A-1) means nothing without its block. */
  async ticketsOfMember(memberId: number) {
    const rows = await this.sequelize.query<{
      serial: string;
      seatId: number;
      performanceId: number;
      seatCode: string;
      zone: string;
      price: number;
    }>(
      `SELECT t.serial, t.seat_id AS seatId, t.performance_id AS performanceId, s.code AS seatCode, z.name AS zone,
              t.price
         FROM tickets t JOIN seats s ON s.id = t.seat_id JOIN zones z ON z.id = s.zone_id
        WHERE t.member_id = ? ORDER BY t.id`,
      { type: QueryTypes.SELECT, replacements: [memberId] },
    );
    return rows.map((r) => ({
      ...r,
      seatId: Number(r.seatId),
      performanceId: Number(r.performanceId),
      price: Number(r.price),
    }));
  }

  async ticketsOfHold(holdId: number): Promise<{ serial: string; seatId: number }[]> {
    const rows = await this.sequelize.query<{ serial: string; seatId: number }>(
      'SELECT serial, seat_id AS seatId FROM tickets WHERE hold_id = ? ORDER BY seat_id',
      { type: QueryTypes.SELECT, replacements: [holdId] },
    );
    return rows.map((t) => ({ serial: t.serial, seatId: Number(t.seatId) }));
  }
}
