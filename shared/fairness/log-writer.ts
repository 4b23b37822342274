import type { Context } from '../context.js';
import { createRedis } from '../redis.js';
import type { RoomHead } from '../waiting-room/waiting-room.js';

/**
 * The admission log's writer, run by the workers: a room's admitting scripts publish its head, and
 * a head that shows admissions beyond the logged ones (`through > logged`) starts a write of that
 * room's pending admissions (coalesced per room: `Fairness.drain`). The request that admitted
 * does not wait for it (the API's CPU stays with the line), and the member's long-poll hears the
 * head the write publishes, milliseconds later. A head missed (the subscriber reconnecting) is
 * made up by the ticker, which writes whatever is pending every tick.
 */
export function startAdmissionLogWriter(ctx: Context): () => Promise<void> {
  const subscriber = createRedis(ctx.config, 'blocking', 'log-writer');
  subscriber.on('error', (err) => ctx.logger.debug({ err }, 'log writer subscriber error'));
  const channel = ctx.waitingRoom.headChannel();
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    let h: RoomHead;
    try {
      h = JSON.parse(message) as RoomHead;
    } catch {
      return;
    }
    if (!(h.through > h.logged)) return;
    ctx.fairness
      .drain(h.performanceId)
      .catch((err: unknown) =>
        ctx.logger.warn({ err, performanceId: h.performanceId }, 'admission log write failed'),
      );
  });
  subscriber
    .subscribe(channel)
    .catch((err: unknown) =>
      ctx.logger.warn({ err }, 'log writer: heads not heard (the ticker writes the log)'),
    );
  return async () => {
    subscriber.disconnect();
  };
}
