import type { Context } from '../shared/context.js';
import { onScrape, queueDepth, queueLag, saleControls, waitingRoomMembers } from '../shared/metrics.js';
import { oldestWaitingAgeMs } from '../shared/queues/queue-lag.js';
import { SaleStateRepository } from '../shared/db/repositories/sale-state.repository.js';

/** Queue depth and waiting-room sizes, read when Prometheus scrapes. */
export function registerWorkerGauges(ctx: Context, performanceIds: () => number[]): () => void {
  const offQueue = onScrape(queueDepth, async () => {
    queueDepth.reset();
    for (const id of performanceIds()) {
      const q = await ctx.queues.get(id);
      const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
      for (const [state, n] of Object.entries(counts))
        queueDepth.set({ performance_id: String(id), state }, n);
    }
  });
  const offRoom = onScrape(waitingRoomMembers, async () => {
    waitingRoomMembers.reset();
    for (const id of await ctx.waitingRoom.activePerformanceIds()) {
      const s = await ctx.waitingRoom.sizes(id);
      waitingRoomMembers.set({ performance_id: String(id), state: 'waiting' }, s.waiting);
      waitingRoomMembers.set({ performance_id: String(id), state: 'admitted' }, s.admitted);
    }
  });
  const offLag = onScrape(queueLag, async () => {
    queueLag.reset();
    for (const id of performanceIds()) {
      const ms = await oldestWaitingAgeMs(ctx.redis, ctx.queues.keys(id));
      queueLag.set({ performance_id: String(id) }, ms / 1000);
    }
  });
  const rows = new SaleStateRepository(ctx.sequelize);
  const offControls = onScrape(saleControls, async () => {
    saleControls.reset();
    const now = Date.now();
    for (const c of await rows.controls(performanceIds())) {
      const set = (control: string, v: number) =>
        saleControls.set({ performance_id: String(c.id), control }, v);
      set('admission_capacity', c.admissionCapacity ?? ctx.config.admissionCapacity);
      set('admission_paused', Number(c.admissionPaused));
      set('holds_paused', Number(c.holdsPaused));
      set('admission_open', Number(!c.admissionPaused && (c.salesOpenAt?.getTime() ?? 0) <= now));
    }
  });
  return () => {
    offQueue();
    offRoom();
    offLag();
    offControls();
  };
}
