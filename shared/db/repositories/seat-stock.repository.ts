import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { StockState } from '../../domain/seats.js';

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

  /**
   * The waiting room's view of each performance: three index dives on (performance_id, status) each,
   * however many seats it has (no count), so it can run on every tick and after every batch.
   */
  async states(performanceIds: number[]): Promise<Map<number, StockState>> {
    const out = new Map<number, StockState>();
    for (const id of performanceIds) {
      const [row] = await this.sequelize.query<{
        available: number | null;
        unsold: number | null;
        any: number | null;
      }>(
        `SELECT (SELECT 1 FROM seats WHERE performance_id = ? AND status = 'available' LIMIT 1) AS available,
                (SELECT 1 FROM seats WHERE performance_id = ? AND status IN ('available', 'held') LIMIT 1) AS unsold,
                (SELECT 1 FROM seats WHERE performance_id = ? LIMIT 1) AS \`any\``,
        { type: QueryTypes.SELECT, replacements: [id, id, id] },
      );
      out.set(id, row?.available ? 'open' : row?.unsold || !row?.any ? 'none' : 'sold-out');
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
