import { QueryTypes, type Sequelize } from 'sequelize';

export type SaleControlRow = {
  id: number;
  name: string;
  admissionCapacity: number | null;
  salesOpenAt: Date | null;
  admissionPaused: boolean;
  holdsPaused: boolean;
  queueMode: 'fifo' | 'shuffle-at-open';
  admissionsPerMinute: number | null;
};

/** Plain rows for the operator's controls and the sale's live counts. */
export class SaleStateRepository {
  constructor(private readonly sequelize: Sequelize) {}

  async controls(ids: readonly number[]): Promise<SaleControlRow[]> {
    if (!ids.length) return [];
    const rows = await this.sequelize.query<{
      id: number;
      name: string;
      admission_capacity: number | null;
      sales_open_at: Date | null;
      admission_paused: number;
      holds_paused: number;
      queue_mode: 'fifo' | 'shuffle-at-open';
      admissions_per_minute: number | null;
    }>(
      `SELECT id, name, admission_capacity, sales_open_at, admission_paused, holds_paused, queue_mode,
              admissions_per_minute
         FROM performances WHERE id IN (?)`,
      { type: QueryTypes.SELECT, replacements: [ids] },
    );
    return rows.map((r) => ({
      id: Number(r.id),
      name: r.name,
      admissionCapacity: r.admission_capacity == null ? null : Number(r.admission_capacity),
      salesOpenAt: r.sales_open_at ? new Date(r.sales_open_at) : null,
      admissionPaused: Boolean(Number(r.admission_paused)),
      holdsPaused: Boolean(Number(r.holds_paused)),
      queueMode: r.queue_mode,
      admissionsPerMinute: r.admissions_per_minute == null ? null : Number(r.admissions_per_minute),
    }));
  }

  async update(
    id: number,
    patch: {
      salesOpenAt?: Date | null;
      admissionCapacity?: number;
      admissionPaused?: boolean;
      holdsPaused?: boolean;
      queueMode?: 'fifo' | 'shuffle-at-open';
      admissionsPerMinute?: number | null;
    },
  ): Promise<boolean> {
    const sets: string[] = [];
    const values: unknown[] = [];
    const column = {
      salesOpenAt: 'sales_open_at',
      admissionCapacity: 'admission_capacity',
      admissionPaused: 'admission_paused',
      holdsPaused: 'holds_paused',
      queueMode: 'queue_mode',
      admissionsPerMinute: 'admissions_per_minute',
    } as const;
    for (const key of Object.keys(column) as (keyof typeof column)[]) {
      if (patch[key] === undefined) continue;
      sets.push(`${column[key]} = ?`);
      const v = patch[key];
      // Replacements drop a Date's milliseconds: pass the UTC wall time as text instead.
      values.push(v instanceof Date ? v.toISOString().replace('T', ' ').replace('Z', '') : v);
    }
    const [, meta] = await this.sequelize.query(
      `UPDATE performances SET ${[...sets, 'updated_at = NOW(3)'].join(', ')} WHERE id = ?`,
      { replacements: [...values, id] },
    );
    return Number((meta as { affectedRows?: number }).affectedRows ?? 0) > 0;
  }

  async holdsByStatus(performanceId: number): Promise<Record<string, number>> {
    const rows = await this.sequelize.query<{ status: string; n: number }>(
      'SELECT status, COUNT(*) AS n FROM holds WHERE performance_id = ? GROUP BY status',
      { type: QueryTypes.SELECT, replacements: [performanceId] },
    );
    const out: Record<string, number> = { held: 0, confirmed: 0, released: 0, expired: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }

  async seatsByStatus(performanceId: number): Promise<Record<string, number>> {
    const rows = await this.sequelize.query<{ status: string; n: number }>(
      'SELECT status, COUNT(*) AS n FROM seats WHERE performance_id = ? GROUP BY status',
      { type: QueryTypes.SELECT, replacements: [performanceId] },
    );
    const out: Record<string, number> = { available: 0, held: 0, sold: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }

  /** Requests applied (succeeded or rejected) and tickets sold in the last `seconds`. */
  async recent(performanceId: number, seconds: number): Promise<{ commits: number; sales: number }> {
    const since = new Date(Date.now() - seconds * 1000);
    const [commits, sales] = await Promise.all([
      this.sequelize.query<{ n: number }>(
        // Through ix_requests_performance_status: it reads every applied request of the performance
        // (an index on processed_at would make the batches' updates deadlock with the API's inserts).
        `SELECT COUNT(*) AS n FROM hold_requests
          WHERE performance_id = ? AND status IN ('succeeded', 'rejected') AND processed_at >= ?`,
        { type: QueryTypes.SELECT, replacements: [performanceId, since] },
      ),
      this.sequelize.query<{ n: number }>(
        `SELECT COUNT(*) AS n FROM tickets
          WHERE performance_id = ? AND created_at >= ?`,
        { type: QueryTypes.SELECT, replacements: [performanceId, since] },
      ),
    ]);
    return { commits: Number(commits[0]?.n ?? 0), sales: Number(sales[0]?.n ?? 0) };
  }
}
