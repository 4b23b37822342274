import { z } from 'zod';
import type { Context } from '../context.js';
import { performanceNotFound, saleTime } from '../catalogue/catalogue.service.js';
import { SaleStateRepository, type SaleControlRow } from '../db/repositories/sale-state.repository.js';
import { oldestWaitingAgeMs, waitingJobs } from '../queues/queue-lag.js';
import { performanceTag } from '../redis.js';
import { ConflictError, UnavailableError } from '../errors.js';

export const saleControlsSchema = z
  .strictObject({
    salesOpenAt: saleTime
      .nullable()
      .optional()
      .describe('Nobody is admitted before this time (before the showtime); null opens the sale now.'),
    admissionCapacity: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe('Members admitted at once; applies within 2 s.'),
    admissionPaused: z.boolean().optional().describe('While true nobody new is admitted.'),
    holdsPaused: z
      .boolean()
      .optional()
      .describe('While true requests are accepted and queued with positions, and nothing is applied.'),
    admissionsPerMinute: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .nullable()
      .optional()
      .describe('Outflow cap: admissions within any minute never exceed it; null removes it.'),
    queueMode: z
      .enum(['fifo', 'shuffle-at-open'])
      .optional()
      .describe(
        'fifo: ticket order; shuffle-at-open: who joins before salesOpenAt is shuffled at opening. Before opening only.',
      ),
    outsideRandomness: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .nullable()
      .optional()
      .describe(
        'Optional public random value mixed into the draw (e.g. a future drand round). Before opening only.',
      ),
  })
  .refine((o) => Object.keys(o).length > 0, { message: 'name at least one control' })
  .meta({ minProperties: 1 });
export type SaleControlsPatch = z.infer<typeof saleControlsSchema>;

export type Controls = {
  salesOpenAt: string | null;
  admissionCapacity: number;
  admissionPaused: boolean;
  holdsPaused: boolean;
  queueMode: 'fifo' | 'shuffle-at-open';
  admissionsPerMinute: number | null;
};

/**
 * The operator's levers of a sale. MySQL keeps them; each change is then carried to where the hot
 * paths read it: the waiting room's gate (opening time, pause, capacity) and the performance
 * queue's BullMQ pause (requests still queue with positions; nothing is applied until resumed).
 */
export class SaleControls {
  private readonly rows: SaleStateRepository;

  constructor(private readonly ctx: Context) {
    this.rows = new SaleStateRepository(ctx.sequelize);
  }

  controlsOf(row: SaleControlRow): Controls {
    return {
      salesOpenAt: row.salesOpenAt?.toISOString() ?? null,
      admissionCapacity: row.admissionCapacity ?? this.ctx.config.admissionCapacity,
      admissionPaused: row.admissionPaused,
      holdsPaused: row.holdsPaused,
      queueMode: row.queueMode,
      admissionsPerMinute: row.admissionsPerMinute,
    };
  }

  /** Names of these performances, for the queue board (only the ones that exist). */
  async names(ids: readonly number[]): Promise<{ id: number; name: string }[]> {
    return (await this.rows.controls(ids)).map((p) => ({ id: p.id, name: p.name }));
  }

  async row(performanceId: number): Promise<SaleControlRow> {
    const [row] = await this.rows.controls([performanceId]);
    if (!row) throw performanceNotFound(performanceId);
    return row;
  }

  /**
   * Changes the controls named in `patch` and applies them; returns the performance with its
   * controls. Once MySQL has the change the answer is 200, whatever follows: concurrent changes
   * share one apply (see `applyThrough`), and one that could not be applied now is applied later.
   */
  async update(performanceId: number, patch: SaleControlsPatch) {
    const before = await this.row(performanceId);
    const { outsideRandomness, ...columns } = patch;
    // The draw's inputs are fixed once the sale opens (its pre-queue is frozen then).
    const open = before.salesOpenAt !== null && before.salesOpenAt.getTime() <= Date.now();
    if (open && (columns.queueMode !== undefined || outsideRandomness !== undefined))
      throw new ConflictError('sale-open', 'The queue mode and the draw are fixed once the sale has opened.');
    if (outsideRandomness !== undefined) {
      await this.ctx.fairness.ensure(performanceId);
      await this.ctx.fairness.rows.setOutsideRandomness(performanceId, outsideRandomness);
    }
    if (!Object.keys(columns).length) return this.current(performanceId, await this.row(performanceId));
    await this.rows.update(performanceId, {
      ...columns,
      salesOpenAt:
        columns.salesOpenAt === undefined || columns.salesOpenAt === null
          ? columns.salesOpenAt
          : new Date(columns.salesOpenAt),
    });
    let row: SaleControlRow;
    try {
      // Counted after the commit: an apply that read this count reads the row after the change.
      const change = await this.ctx.redis.incr(this.keys(performanceId).changes);
      row = await this.applyThrough(performanceId, change);
    } catch (err) {
      // Committed, not yet applied: answered all the same, applied in the background.
      this.ctx.logger.warn({ err, performanceId }, 'sale controls changed, applying them later');
      this.applySoon(performanceId);
      row = await this.row(performanceId);
    }
    return this.current(performanceId, row);
  }

  private async current(performanceId: number, row: SaleControlRow) {
    return { ...(await this.ctx.catalogue.get(performanceId)), ...this.controlsOf(row) };
  }

  /** Retries an apply that failed after its change was committed, a few times, then leaves it to the sweeper. */
  private applySoon(performanceId: number, attempt = 1): void {
    setTimeout(() => {
      this.applyLatest(performanceId).catch(() => {
        if (attempt < 5) this.applySoon(performanceId, attempt + 1);
      });
    }, 500 * attempt).unref();
  }

  /** The sale controls' Redis key layout (one performance's keys share its hash tag). */
  private keys(performanceId: number) {
    const base = `${this.ctx.config.keyPrefix}:${performanceTag(performanceId)}`;
    return {
      /** One apply at a time per performance. */
      lock: `${base}:controls-lock`,
      /** How many changes MySQL has committed (counted right after each commit). */
      changes: `${base}:controls-changes`,
      /** The count of changes the last apply read before it read the row: those it carried. */
      applied: `${base}:controls-applied`,
    };
  }

  /**
   * Returns once an apply that read the row after change number `change` has finished: this
   * process's own, or another's that already carried it (of 400 concurrent changes, a handful of
   * applies carry them all, instead of 400 in a row behind one lock).
   */
  private async applyThrough(performanceId: number, change: number): Promise<SaleControlRow> {
    const k = this.keys(performanceId);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (Number(await this.ctx.redis.get(k.applied)) >= change) return this.row(performanceId);
      const row = await this.applyOnce(performanceId);
      if (row) return row;
      if (Date.now() > deadline) throw new UnavailableError('The sale controls are busy; retry shortly.');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Reads the change count, then the row, and applies it, under the lock; undefined if busy. */
  private applyOnce(performanceId: number): Promise<SaleControlRow | undefined> {
    const k = this.keys(performanceId);
    return this.withLock(performanceId, async () => {
      const through = Number(await this.ctx.redis.get(k.changes));
      const latest = await this.row(performanceId);
      await this.apply(latest);
      await this.ctx.redis.set(k.applied, String(through));
      return latest;
    });
  }

  /** Runs `fn` holding the performance's apply lock; undefined if another process holds it. */
  private async withLock<T>(performanceId: number, fn: () => Promise<T>): Promise<T | undefined> {
    const lock = this.keys(performanceId).lock;
    const token = `${process.pid}:${Math.random()}`;
    if (!(await this.ctx.redis.set(lock, token, 'PX', 10_000, 'NX'))) return undefined;
    try {
      return await fn();
    } finally {
      if ((await this.ctx.redis.get(lock)) === token) await this.ctx.redis.del(lock);
    }
  }

  /** Writes the controls to Redis. Idempotent: the sweeper re-applies them after Redis lost data. */
  async apply(row: SaleControlRow): Promise<void> {
    const c = this.controlsOf(row);
    await this.ctx.waitingRoom.setGate(row.id, {
      opensAt: row.salesOpenAt,
      paused: c.admissionPaused,
      capacity: c.admissionCapacity,
      shuffle: c.queueMode === 'shuffle-at-open',
      perMinute: c.admissionsPerMinute,
    });
    const queue = await this.ctx.queues.get(row.id);
    const paused = (await this.ctx.redis.hexists(this.ctx.queues.keys(row.id).meta, 'paused')) === 1;
    if (c.holdsPaused && !paused) await queue.pause();
    else if (!c.holdsPaused && paused) await queue.resume();
  }

  /** True if Redis lost the controls' copy, or a committed change was never applied (the sweeper applies it). */
  async unapplied(performanceId: number): Promise<boolean> {
    const k = this.keys(performanceId);
    const [gate, changes, applied] = await Promise.all([
      this.ctx.redis.exists(this.ctx.waitingRoom.keys(performanceId).gate),
      this.ctx.redis.get(k.changes),
      this.ctx.redis.get(k.applied),
    ]);
    return !gate || Number(changes) > Number(applied);
  }

  async applyAll(performanceIds: readonly number[]): Promise<void> {
    for (const id of performanceIds) await this.applyLatest(id);
  }

  /**
   * Reads the controls from MySQL and applies them, one process at a time per performance: of two
   * changes made side by side, the one applied last read both, so Redis never keeps the older.
   */
  async applyLatest(performanceId: number): Promise<SaleControlRow> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const row = await this.applyOnce(performanceId);
      if (row) return row;
      if (Date.now() > deadline) throw new UnavailableError('The sale controls are busy; retry shortly.');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The sale's live state for the admin page. */
  async live(performanceId: number) {
    const row = await this.row(performanceId);
    const keys = this.ctx.queues.keys(performanceId);
    const [room, admittedLastMinute, holds, seats, recent, depth, lagMs, queuePaused] = await Promise.all([
      this.ctx.waitingRoom.sizes(performanceId),
      this.ctx.waitingRoom.lastMinuteAdmissions(performanceId),
      this.rows.holdsByStatus(performanceId),
      this.rows.seatsByStatus(performanceId),
      this.rows.recent(performanceId, 60),
      waitingJobs(this.ctx.redis, keys),
      oldestWaitingAgeMs(this.ctx.redis, keys),
      this.ctx.redis.hexists(keys.meta, 'paused'),
    ]);
    const opensAt = row.salesOpenAt?.getTime() ?? 0;
    return {
      id: row.id,
      name: row.name,
      at: new Date().toISOString(),
      line: { waiting: room.waiting, admitted: room.admitted },
      holds,
      seats,
      queue: { waiting: depth, oldestWaitingSeconds: lagMs / 1000, paused: queuePaused === 1 },
      lastMinute: { admissions: admittedLastMinute, commits: recent.commits, sales: recent.sales },
      controls: this.controlsOf(row),
      admissionOpen: !row.admissionPaused && opensAt <= Date.now(),
    };
  }
}
