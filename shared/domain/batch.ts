// Deciding a run of queued seat jobs at once, exactly as applying them one at a time in queue order
// would: each job sees the changes of the jobs before it. Pure: the worker loads a snapshot, this
// decides, and one repository writes the plan in a few set-based statements.
import type { BestRequest, SeatStock } from './best-available.js';
import {
  decideConfirm,
  decideHold,
  decideRelease,
  holdExpiry,
  shouldExpire,
  type HoldStatus,
  type RejectReason,
} from './holds.js';
import type { SeatChange, SeatStatus } from './seats.js';

export type { SeatChange, SeatStatus };

export type BatchJob =
  /** A hold of the seats named, or (`best`, with `seatIds` empty) of the seats picked at its turn. */
  | {
      seq: number;
      kind: 'hold';
      requestId: number;
      memberId: number;
      seatIds: number[];
      best?: BestRequest;
    }
  | { seq: number; kind: 'release'; requestId: number; memberId: number; holdId: number }
  | {
      seq: number;
      kind: 'confirm';
      requestId: number;
      memberId: number;
      holdId: number;
      authorizationId: string;
    }
  | { seq: number; kind: 'expire'; holdId: number }
  /** A job whose payload does not parse: it takes its place in the order and changes nothing. */
  | { seq: number; kind: 'poison' };

export type RequestState = { status: 'queued' | 'succeeded' | 'rejected'; createdAt: Date };
export type KnownHold = {
  id: number;
  memberId: number;
  status: HoldStatus;
  expiresAt: Date;
  seatIds: number[];
};
export type PaymentState = 'authorized' | 'captured' | 'voided';

/** What MySQL holds before the batch, for the rows the batch touches (locked by the caller). */
export type BatchSnapshot = {
  now: Date;
  holdTtlSeconds: number;
  maxSeatsPerMember: number;
  requests: ReadonlyMap<number, RequestState>;
  /** Status of every seat of this performance that a job asks for or a known hold owns. */
  seats: ReadonlyMap<number, SeatStatus>;
  /** Held + sold seats of the performance per member of a hold job. */
  memberSeats: ReadonlyMap<number, number>;
  /** Holds of this performance that a job names. */
  holds: ReadonlyMap<number, KnownHold>;
  payments: ReadonlyMap<string, PaymentState>;
  /**
   * Every seat of the performance with its status, when a job asks for best available (agrees with
   * `seats` where both know a seat). Not changed: the planner works on a copy.
   */
  stock?: SeatStock;
};

export type JobOutcome = 'succeeded' | RejectReason | 'duplicate' | 'skipped' | 'poison';

/** A hold is an existing one (`id`) or one this batch creates (`created`, an index into `newHolds`). */
export type HoldRef = { id: number } | { created: number };

export type JobResult = {
  seq: number;
  kind: BatchJob['kind'];
  requestId?: number;
  outcome: JobOutcome;
  hold?: HoldRef;
};

export type BatchPlan = {
  results: JobResult[];
  newHolds: { requestId: number; memberId: number; seatIds: number[]; expiresAt: Date }[];
  /** Final status of existing holds that change. */
  holdUpdates: Map<number, 'released' | 'expired' | 'confirmed'>;
  /** Every seat change in order: each becomes one seat event. */
  seatChanges: { seatId: number; status: SeatStatus; hold: HoldRef | null }[];
  tickets: { holdId: number; memberId: number; seatId: number }[];
  /** Authorisations to capture and to void, in MySQL and at the gateway. */
  capture: string[];
  void: string[];
  /** Early expiry jobs (clock skew) re-arm for the hold's expiry. */
  rearm: { holdId: number; at: Date }[];
  /** Members who finished buying (they leave the waiting room). */
  finished: number[];
};

/** Decides every job in queue order against the snapshot and the changes of the jobs before it. */
export function planBatch(jobs: readonly BatchJob[], s: BatchSnapshot): BatchPlan {
  const seats = new Map(s.seats);
  const stock = s.stock?.clone();
  const statusOf = (id: number) => seats.get(id) ?? stock?.status(id);
  const memberSeats = new Map(s.memberSeats);
  const holds = new Map([...s.holds].map(([id, h]) => [id, { ...h }]));
  const payments = new Map(s.payments);
  const decided = new Set<number>();
  const plan: BatchPlan = {
    results: [],
    newHolds: [],
    holdUpdates: new Map(),
    seatChanges: [],
    tickets: [],
    capture: [],
    void: [],
    rearm: [],
    finished: [],
  };
  const setSeats = (ids: number[], status: SeatStatus, hold: HoldRef | null) => {
    for (const seatId of ids) {
      seats.set(seatId, status);
      stock?.set(seatId, status);
      plan.seatChanges.push({ seatId, status, hold });
    }
  };
  const endHold = (h: KnownHold, status: 'released' | 'expired') => {
    h.status = status;
    plan.holdUpdates.set(h.id, status);
    setSeats(h.seatIds, 'available', null);
    memberSeats.set(h.memberId, (memberSeats.get(h.memberId) ?? 0) - h.seatIds.length);
  };
  const voidPayment = (authorizationId: string) => {
    if (payments.get(authorizationId) === 'authorized') payments.set(authorizationId, 'voided');
    plan.void.push(authorizationId);
  };

  for (const job of jobs) {
    if (job.kind === 'poison') {
      plan.results.push({ seq: job.seq, kind: job.kind, outcome: 'poison' });
      continue;
    }
    if (job.kind === 'expire') {
      const h = holds.get(job.holdId);
      if (h && shouldExpire(h, s.now)) {
        endHold(h, 'expired');
        plan.results.push({ seq: job.seq, kind: job.kind, outcome: 'succeeded', hold: { id: h.id } });
      } else {
        // Early (clock skew) or already ended: an early job re-arms itself, anything else is done.
        if (h?.status === 'held') plan.rearm.push({ holdId: h.id, at: h.expiresAt });
        plan.results.push({ seq: job.seq, kind: job.kind, outcome: 'skipped' });
      }
      continue;
    }
    const base = { seq: job.seq, kind: job.kind, requestId: job.requestId };
    const request = s.requests.get(job.requestId);
    // A request decided earlier in this batch (two jobs of one request: a re-queue that raced its
    // original) is as final as one decided in an earlier batch.
    if (!request || request.status !== 'queued' || decided.has(job.requestId)) {
      // Gone (nothing to answer) or applied already (the job ran twice): change nothing. A confirm
      // whose request is gone must not leave its authorisation open.
      if (!request && job.kind === 'confirm') voidPayment(job.authorizationId);
      plan.results.push({ ...base, outcome: request ? 'duplicate' : 'skipped' });
      continue;
    }
    decided.add(job.requestId);
    if (job.kind === 'hold') {
      let seatIds = job.seatIds;
      if (job.best) {
        // Picked now, against every change of the jobs before it: as if it ran alone at its turn.
        const picked = stock ? stock.pick(job.best) : ({ ok: false, reason: 'seat-unavailable' } as const);
        if (!picked.ok) {
          plan.results.push({ ...base, outcome: picked.reason });
          continue;
        }
        seatIds = picked.seatIds;
      }
      const asked = seatIds.flatMap((id) => {
        const status = statusOf(id);
        return status ? [{ status }] : [];
      });
      const already = memberSeats.get(job.memberId) ?? 0;
      const d = decideHold(asked, seatIds.length, already, s.maxSeatsPerMember);
      if (!d.ok) {
        plan.results.push({ ...base, outcome: d.reason });
        continue;
      }
      const ref = { created: plan.newHolds.length };
      plan.newHolds.push({
        requestId: job.requestId,
        memberId: job.memberId,
        seatIds,
        expiresAt: holdExpiry(s.now, s.holdTtlSeconds),
      });
      setSeats(seatIds, 'held', ref);
      memberSeats.set(job.memberId, already + seatIds.length);
      plan.results.push({ ...base, outcome: 'succeeded', hold: ref });
      continue;
    }
    const h = holds.get(job.holdId);
    if (job.kind === 'release') {
      const d = decideRelease(h ?? null, job.memberId);
      if (!d.ok || !h) {
        plan.results.push({ ...base, outcome: d.ok ? 'hold-not-found' : d.reason, hold: { id: job.holdId } });
        continue;
      }
      endHold(h, 'released');
      plan.results.push({ ...base, outcome: 'succeeded', hold: { id: h.id } });
      continue;
    }
    const d = decideConfirm(h ?? null, job.memberId, request.createdAt);
    if (!d.ok || !h || payments.get(job.authorizationId) !== 'authorized') {
      voidPayment(job.authorizationId);
      plan.results.push({ ...base, outcome: d.ok ? 'hold-not-found' : d.reason, hold: { id: job.holdId } });
      continue;
    }
    h.status = 'confirmed';
    plan.holdUpdates.set(h.id, 'confirmed');
    setSeats(h.seatIds, 'sold', { id: h.id });
    for (const seatId of h.seatIds) plan.tickets.push({ holdId: h.id, memberId: h.memberId, seatId });
    payments.set(job.authorizationId, 'captured');
    plan.capture.push(job.authorizationId);
    plan.finished.push(h.memberId);
    plan.results.push({ ...base, outcome: 'succeeded', hold: { id: h.id } });
  }
  return plan;
}

/** A job of the batch asks for best available: the planner needs the venue's layout and seat map. */
export function asksBest(jobs: readonly BatchJob[]): boolean {
  return jobs.some((j) => j.kind === 'hold' && Boolean(j.best));
}

/** The seat ids and hold ids a batch must load (and lock) before it can be planned. */
export function batchFootprint(jobs: readonly BatchJob[]): {
  requestIds: number[];
  seatIds: number[];
  holdIds: number[];
  memberIds: number[];
  authorizationIds: string[];
  /** A job asks for best available: the planner needs the whole seat map (`stock`). */
  best: boolean;
} {
  const requestIds = new Set<number>();
  const seatIds = new Set<number>();
  const holdIds = new Set<number>();
  const memberIds = new Set<number>();
  const authorizationIds = new Set<string>();
  for (const j of jobs) {
    if (j.kind === 'poison') continue;
    if (j.kind !== 'expire') requestIds.add(j.requestId);
    if (j.kind === 'hold') {
      j.seatIds.forEach((id) => seatIds.add(id));
      memberIds.add(j.memberId);
    } else holdIds.add(j.holdId);
    if (j.kind === 'confirm') authorizationIds.add(j.authorizationId);
  }
  return {
    requestIds: [...requestIds],
    seatIds: [...seatIds],
    holdIds: [...holdIds],
    memberIds: [...memberIds],
    authorizationIds: [...authorizationIds],
    best: asksBest(jobs),
  };
}

/**
 * What a committed batch leaves to do after its commit, recorded in the same transaction (the
 * outbox) so that a worker that dies after the commit leaves it to another.
 */
export type CommitWork = {
  events: SeatChange[];
  /** Requests that became final (or were found final): their long-polls wake up. */
  announce: number[];
  /** Holds whose expiry must be scheduled: [holdId, epoch ms]. */
  expiries: [number, number][];
  capture: string[];
  void: string[];
  /** Members who finished buying and leave the waiting room. */
  leave: number[];
};
