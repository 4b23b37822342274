import type { RedisClient } from '../redis.js';
import type { QueueKeys } from './names.js';

/**
 * The age of a performance queue's oldest waiting job (ms; 0 when none waits). BullMQ pushes new
 * jobs at the head of the wait list and workers take from its tail, so the tail is the oldest; a
 * paused queue keeps its jobs there, so the lag grows while holds are paused.
 */
export async function oldestWaitingAgeMs(
  redis: RedisClient,
  keys: QueueKeys,
  now = Date.now(),
): Promise<number> {
  const [id] = await redis.lrange(keys.wait, -1, -1);
  if (!id) return 0;
  const ts = Number(await redis.hget(`${keys.job}${id}`, 'timestamp'));
  return Number.isFinite(ts) && ts > 0 ? Math.max(0, now - ts) : 0;
}

/** Jobs waiting in the queue (not counting the running one). */
export async function waitingJobs(redis: RedisClient, keys: QueueKeys): Promise<number> {
  return redis.llen(keys.wait);
}
