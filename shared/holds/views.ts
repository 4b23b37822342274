// What clients read about their requests and holds (contract §3), built in one place: from MySQL
// rows by the API, and from a committed batch by the worker that announces it.
import type { BatchJob, BatchPlan, KnownHold } from '../domain/batch.js';
import type { HoldStatus } from '../domain/holds.js';

export type HoldView = {
  id: number;
  performanceId: number;
  seatIds: number[];
  status: HoldStatus;
  expiresAt: string;
};

export type RequestView = {
  requestId: number;
  kind: 'hold' | 'confirm' | 'release';
  status: 'queued' | 'processing' | 'succeeded' | 'rejected';
  position?: number;
  hold?: HoldView;
  tickets?: { serial: string; seatId: number }[];
  reason?: string;
};

export function holdView(h: {
  id: number;
  performanceId: number;
  seatIds: readonly number[];
  status: HoldStatus;
  expiresAt: Date;
}): HoldView {
  return {
    id: h.id,
    performanceId: h.performanceId,
    seatIds: [...h.seatIds].sort((a, b) => a - b),
    status: h.status,
    expiresAt: h.expiresAt.toISOString(),
  };
}

/** A final request's view (the hold as it stood when the request was applied). */
export function finalView(r: {
  requestId: number;
  kind: RequestView['kind'];
  status: 'succeeded' | 'rejected';
  reason?: string | null;
  hold?: HoldView;
  tickets?: { serial: string; seatId: number }[];
}): RequestView {
  const v: RequestView = { requestId: r.requestId, kind: r.kind, status: r.status };
  if (r.status === 'rejected' && r.reason) v.reason = r.reason;
  if (r.hold) v.hold = r.hold;
  if (r.tickets) v.tickets = [...r.tickets].sort((a, b) => a.seatId - b.seatId);
  return v;
}

/**
 * The final view of every request a committed batch decided, as a read right after the commit gives
 * it: the long-polls answer with these without reading MySQL.
 */
export function batchViews(
  performanceId: number,
  jobs: readonly BatchJob[],
  plan: BatchPlan,
  known: ReadonlyMap<number, KnownHold>,
  createdHolds: ReadonlyMap<number, number>,
  tickets: readonly { holdId: number; seatId: number; serial: string }[],
): RequestView[] {
  const bySeq = new Map(jobs.map((j) => [j.seq, j]));
  const views: RequestView[] = [];
  for (const r of plan.results) {
    const job = bySeq.get(r.seq);
    if (!job || job.kind === 'poison' || job.kind === 'expire' || !r.requestId) continue;
    if (r.outcome === 'duplicate' || r.outcome === 'skipped' || r.outcome === 'poison') continue;
    const status = r.outcome === 'succeeded' ? 'succeeded' : 'rejected';
    let hold: RequestView['hold'];
    if (job.kind === 'hold') {
      const created = r.hold && 'created' in r.hold ? plan.newHolds[r.hold.created] : undefined;
      const id = created ? createdHolds.get(created.requestId) : undefined;
      if (created && id)
        hold = holdView({
          id,
          performanceId,
          seatIds: created.seatIds,
          status: 'held',
          expiresAt: created.expiresAt,
        });
    } else {
      const h = known.get(job.holdId);
      // A hold this performance does not know: the API's read answers instead.
      if (!h) continue;
      const now = plan.holdUpdates.get(h.id) ?? h.status;
      hold = holdView({ ...h, performanceId, status: now });
    }
    const own =
      job.kind === 'confirm' && status === 'succeeded'
        ? tickets.filter((t) => t.holdId === job.holdId)
        : undefined;
    views.push(
      finalView({
        requestId: r.requestId,
        kind: job.kind,
        status,
        reason: status === 'rejected' ? r.outcome : null,
        hold,
        tickets: own?.map((t) => ({ serial: t.serial, seatId: t.seatId })),
      }),
    );
  }
  return views;
}
