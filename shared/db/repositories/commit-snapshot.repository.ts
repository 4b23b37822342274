import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { KnownHold, PaymentState, RequestState } from '../../domain/batch.js';
import type { LayoutSeat } from '../../domain/best-available.js';
import type { SeatStatus } from '../../domain/seats.js';

// The commit path's reads (SQL only): what a batch's decisions depend on, locked in the batch's
// transaction (the fence is `commit-fence.repository.ts`). It decides nothing.

/** The rows a batch touches, as plain values. */
export type SnapshotRows = {
  requests: Map<number, RequestState>;
  seats: Map<number, SeatStatus>;
  memberSeats: Map<number, number>;
  holds: Map<number, KnownHold>;
  payments: Map<string, PaymentState>;
  /** Price of every seat of a hold the batch names (tickets are sold at it). */
  prices: Map<number, number>;
};

export type Footprint = {
  requestIds: number[];
  seatIds: number[];
  holdIds: number[];
  memberIds: number[];
  authorizationIds: string[];
};

/** Below MariaDB's in_predicate_conversion_threshold (1000). */
const IN_CHUNK = 900;

export class CommitSnapshotReader {
  constructor(private readonly sequelize: Sequelize) {}

  private select<T extends object>(
    sql: string,
    replacements: Record<string, unknown>,
    transaction?: Transaction,
  ): Promise<T[]> {
    return this.sequelize.query<T>(sql, { type: QueryTypes.SELECT, replacements, transaction });
  }

  /**
   * `sql` over `ids` (its `:ids`), IN_CHUNK ids a statement: MariaDB turns a longer IN list into a
   * join on a table of values, and that plan may scan (and lock) the whole table.
   */
  private async selectIn<T extends object>(
    sql: string,
    ids: readonly unknown[],
    replacements: Record<string, unknown>,
    transaction?: Transaction,
  ): Promise<T[]> {
    const rows: T[] = [];
    for (let i = 0; i < ids.length; i += IN_CHUNK)
      rows.push(
        ...(await this.sequelize.query<T>(sql, {
          type: QueryTypes.SELECT,
          replacements: { ...replacements, ids: ids.slice(i, i + IN_CHUNK) },
          transaction,
        })),
      );
    return rows;
  }

  /** Reads (and locks where a decision depends on it) the rows of a batch's footprint. */
  async read(performanceId: number, f: Footprint, transaction: Transaction): Promise<SnapshotRows> {
    const p = performanceId;
    const none = Promise.resolve([]);
    const [requests, seats, members, holds, holdSeats, payments] = await Promise.all([
      f.requestIds.length
        ? this.selectIn<{ id: number; status: RequestState['status']; createdAt: string | Date }>(
            'SELECT id, status, created_at AS createdAt FROM hold_requests FORCE INDEX (PRIMARY) WHERE id IN (:ids) FOR UPDATE',
            f.requestIds,
            {},
            transaction,
          )
        : none,
      f.seatIds.length
        ? this.selectIn<{ id: number; status: SeatStatus }>(
            'SELECT id, status FROM seats WHERE performance_id = :p AND id IN (:ids)',
            f.seatIds,
            { p },
            transaction,
          )
        : none,
      f.memberIds.length
        ? this.selectIn<{ memberId: number; n: number }>(
            `SELECT h.member_id AS memberId, COUNT(*) AS n FROM holds h JOIN hold_seats hs ON hs.hold_id = h.id
              WHERE h.performance_id = :p AND h.member_id IN (:ids) AND h.status IN ('held', 'confirmed')
              GROUP BY h.member_id`,
            f.memberIds,
            { p },
            transaction,
          )
        : none,
      f.holdIds.length
        ? this.selectIn<{
            id: number;
            memberId: number;
            status: KnownHold['status'];
            expiresAt: string | Date;
          }>(
            `SELECT id, member_id AS memberId, status, expires_at AS expiresAt FROM holds FORCE INDEX (PRIMARY)
              WHERE performance_id = :p AND id IN (:ids) FOR UPDATE`,
            f.holdIds,
            { p },
            transaction,
          )
        : none,
      f.holdIds.length
        ? this.selectIn<{ holdId: number; seatId: number; price: number }>(
            `SELECT hs.hold_id AS holdId, hs.seat_id AS seatId, g.price FROM hold_seats hs
               JOIN seats s ON s.id = hs.seat_id JOIN seat_grades g ON g.id = s.grade_id
              WHERE hs.hold_id IN (:ids) ORDER BY hs.hold_id, hs.seat_id`,
            f.holdIds,
            {},
            transaction,
          )
        : none,
      f.authorizationIds.length
        ? this.selectIn<{ authorizationId: string; status: PaymentState }>(
            `SELECT authorization_id AS authorizationId, status FROM payments
              WHERE authorization_id IN (:ids) FOR UPDATE`,
            f.authorizationIds,
            {},
            transaction,
          )
        : none,
    ]);
    const prices = new Map<number, number>();
    const seatsOf = new Map<number, number[]>();
    for (const r of holdSeats) {
      const h = Number(r.holdId);
      const s = Number(r.seatId);
      prices.set(s, Number(r.price));
      seatsOf.set(h, [...(seatsOf.get(h) ?? []), s]);
    }
    return {
      requests: new Map(
        requests.map((r) => [Number(r.id), { status: r.status, createdAt: new Date(r.createdAt) }]),
      ),
      seats: new Map(seats.map((r) => [Number(r.id), r.status])),
      memberSeats: new Map(members.map((r) => [Number(r.memberId), Number(r.n)])),
      holds: new Map(
        holds.map((r) => {
          const id = Number(r.id);
          const hold: KnownHold = {
            id,
            memberId: Number(r.memberId),
            status: r.status,
            expiresAt: new Date(r.expiresAt),
            seatIds: seatsOf.get(id) ?? [],
          };
          return [id, hold];
        }),
      ),
      payments: new Map(payments.map((r) => [String(r.authorizationId), r.status])),
      prices,
    };
  }

  /** Every seat of a performance as the layout places it (it does not change after creation). */
  async readLayout(performanceId: number): Promise<{ seats: LayoutSeat[]; zoneIds: number[] }> {
    const seats = await this.select<LayoutSeat>(
      `SELECT id, zone_id AS zoneId, grade_id AS gradeId, \`row\`, number FROM seats
        WHERE performance_id = :p ORDER BY id`,
      { p: performanceId },
    );
    const zones = await this.select<{ id: number }>(
      'SELECT id FROM zones WHERE performance_id = :p ORDER BY id',
      { p: performanceId },
    );
    return {
      seats: seats.map((s) => ({
        id: Number(s.id),
        zoneId: Number(s.zoneId),
        gradeId: Number(s.gradeId),
        row: s.row,
        number: s.number === null ? null : Number(s.number),
      })),
      zoneIds: zones.map((z) => Number(z.id)),
    };
  }

  /** The seats of a performance that are not available, read in the batch's transaction. */
  async readTaken(performanceId: number, transaction: Transaction): Promise<Map<number, SeatStatus>> {
    const rows = await this.select<{ id: number; status: SeatStatus }>(
      "SELECT id, status FROM seats WHERE performance_id = :p AND status <> 'available'",
      { p: performanceId },
      transaction,
    );
    return new Map(rows.map((r) => [Number(r.id), r.status]));
  }
}
