// BullMQ alone, as a baseline for bench:holds: one worker process with a processor that does
// nothing, on a queue with global concurrency 1, the same Redis and the same job options as ours.
// NOOP_QUEUE, NOOP_PREFIX, REDIS_URL; prints "noop worker ready".
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const connection = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: null,
});
const worker = new Worker(process.env['NOOP_QUEUE']!, async () => ({ outcome: 'noop' }), {
  connection,
  prefix: process.env['NOOP_PREFIX']!,
  concurrency: 1,
  lockDuration: 30_000,
  stalledInterval: 30_000,
  maxStalledCount: 1_000_000,
});
await worker.waitUntilReady();
console.log('noop worker ready');
process.on('SIGTERM', () => {
  void worker.close().then(() => connection.disconnect());
});
