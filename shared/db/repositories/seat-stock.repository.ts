import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';

export type Stock = { seatCount: number; available: number; held: number; sold: number };

export const EMPTY_STOCK: Stock = { seatCount: 0, available: 0, held: 0, sold: 0 };

/** Nothing left to sell: every seat of a performance that has seats is sold. */
export function isSoldOut(s: Stock): boolean {
  return s.seatCount > 0 && s.sold === s.seatCount;
}

/**
 * Seat counts by status, read from MySQL, where seat status changes only in a batch's commit: the
 * counts are those of the last committed batch, never a running total that a redone step could skew.
 * Served by the (performance_id, status) index.
 */
export class SeatStockRepository {
  constructor(private readonly sequelize: Sequelize) {}

  async counts(performanceIds: number[], transaction?: Transaction): Promise<Map<number, Stock>> {
    const out = new Map<number, Stock>(performanceIds.map((id) => [id, { ...EMPTY_STOCK }]));
    if (!performanceIds.length) return out;
    const rows = await this.sequelize.query<{ performanceId: number; status: string; n: number }>(
      `SELECT performance_id AS performanceId, status, COUNT(*) AS n
         FROM seats WHERE performance_id IN (?) GROUP BY performance_id, status`,
      { type: QueryTypes.SELECT, replacements: [performanceIds], transaction },
    );
    for (const r of rows) {
      const s = out.get(Number(r.performanceId))!;
      const n = Number(r.n);
      s.seatCount += n;
      if (r.status === 'available') s.available = n;
      else if (r.status === 'held') s.held = n;
      else if (r.status === 'sold') s.sold = n;
    }
    return out;
  }

  /** Seat counts per zone of one performance: zone id -> {seatCount, available}. */
  async byZone(performanceId: number): Promise<Map<number, { seatCount: number; available: number }>> {
    const rows = await this.sequelize.query<{ zoneId: number; seatCount: number; available: number }>(
      `SELECT zone_id AS zoneId, COUNT(*) AS seatCount, COALESCE(SUM(status = 'available'), 0) AS available
         FROM seats WHERE performance_id = ? GROUP BY zone_id`,
      { type: QueryTypes.SELECT, replacements: [performanceId] },
    );
    return new Map(
      rows.map((r) => [Number(r.zoneId), { seatCount: Number(r.seatCount), available: Number(r.available) }]),
    );
  }
}
