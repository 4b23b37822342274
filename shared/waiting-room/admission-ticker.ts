import type { Context } from '../context.js';
import { SeatStockRepository } from '../db/repositories/seat-stock.repository.js';

/**
 * Admits waiting members on a timer, so the next member gets in within 2 s whether or not anybody
 * polls, and publishes every room's head each tick (API processes answer far-back members from it).
 * Admission follows the seats: each tick reads, in MySQL, what the rooms' performances have left to
 * sell (seat status changes only in a batch's commit, so the reading is exact as of the last commit
 * and needs no counter kept in step with batches, redone after-commit work or restored queues).
 * Each tick also draws a shuffle-at-open room's frozen roster (and ticks right at its opening) and
 * writes the rooms' admissions to the admission log: an admission counts once it is there.
 */
export function startAdmissionTicker(ctx: Context): () => void {
  const stock = new SeatStockRepository(ctx.sequelize);
  let running = false;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = true;
    ctx.waitingRoom
      .tick(
        (ids) => stock.states(ids),
        async (performanceId, r) => {
          try {
            // A frozen roster awaits its draw (admission begins once it is applied), or a draw
            // applied before a worker stopped awaits its record in MySQL.
            const roster = r.frozen ?? r.unrevealed;
            if (roster) await ctx.fairness.draw(performanceId, roster);
            if (r.unlogged > 0 || r.admittedNow > 0 || r.frozen) await ctx.fairness.drain(performanceId);
            // A pre-queue: what its draw needs is computed ahead, as it fills.
            if (r.opensIn !== undefined) await ctx.fairness.prepare(performanceId);
            // A pre-queue opening before the next tick: tick at the opening itself.
            if (r.opensIn !== undefined && r.opensIn >= 0 && r.opensIn < ctx.config.admissionTickMs)
              setTimeout(tick, r.opensIn + 1);
          } catch (err) {
            ctx.logger.warn({ err, performanceId }, 'draw or admission log write failed');
          }
        },
      )
      .catch((err: unknown) => ctx.logger.warn({ err }, 'admission tick failed'))
      .finally(() => (running = false));
  };
  const timer = setInterval(tick, ctx.config.admissionTickMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
