import type { Context } from '../context.js';
import { createRedis } from '../redis.js';

/**
 * The admission log's writer, run by the workers. A room whose list of admissions to log goes from
 * empty to not empty says so on the log's wake channel (room.lua), and that starts a write of the
 * room's pending admissions (coalesced per room: `Fairness.drain`); a write that leaves admissions
 * behind (they arrived while it wrote) starts the next itself. So the writer hears one message per
 * run of admissions, not every room's every head. The request that admitted does not wait for it
 * (the API's CPU stays with the line), and the member's long-poll hears the head the write
 * publishes, milliseconds later. A wake missed (the subscriber reconnecting) is made up by the
 * ticker, which writes whatever is pending every tick.
 */
export function startAdmissionLogWriter(ctx: Context): () => Promise<void> {
  const subscriber = createRedis(ctx.config, 'blocking', 'log-writer');
  subscriber.on('error', (err) => ctx.logger.debug({ err }, 'log writer subscriber error'));
  const channel = ctx.waitingRoom.logWakeChannel();
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    const performanceId = Number(message);
    if (!Number.isSafeInteger(performanceId)) return;
    ctx.fairness
      .drain(performanceId)
      .catch((err: unknown) => ctx.logger.warn({ err, performanceId }, 'admission log write failed'));
  });
  subscriber
    .subscribe(channel)
    .catch((err: unknown) =>
      ctx.logger.warn({ err }, 'log writer: wakes not heard (the ticker writes the log)'),
    );
  return async () => {
    subscriber.disconnect();
  };
}
