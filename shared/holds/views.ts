// What clients read about their requests and holds (contract §3), built in one place: from MySQL
// rows by the API, and from a committed batch by the worker that announces it.
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
