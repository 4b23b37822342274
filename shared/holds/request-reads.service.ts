import { NotFoundError } from '../errors.js';
import type { HoldRequestRepository, RequestRow } from '../db/repositories/hold-request.repository.js';
import type { PerformanceQueues } from '../queues/performance-queues.js';
import type { RequestWaiter } from './request-waiter.js';
import type { HoldView, RequestView } from './views.js';

type Owner = { performanceId: number; memberId: number; seq?: number };

/** Who owns a request, on which queue and at which sequence: facts that never change, so cached. */
export class RequestOwners {
  private readonly owners = new Map<number, Owner>();

  get(requestId: number): Owner | undefined {
    return this.owners.get(requestId);
  }

  remember(requestId: number, r: Owner): void {
    if (this.owners.has(requestId)) return;
    if (this.owners.size >= 100_000) this.owners.delete(this.owners.keys().next().value!);
    this.owners.set(requestId, r);
  }
}

/**
 * The waiting side of the accept path: a request's view, read from the queue's marks and MySQL,
 * and the long-poll (`waitSeconds`, `Prefer: wait`) that answers as soon as a worker announces it
 * final. MySQL through the request repository only.
 */
export class RequestReads {
  constructor(
    private readonly rows: HoldRequestRepository,
    private readonly queues: PerformanceQueues,
    private readonly waiter: RequestWaiter,
    readonly owners: RequestOwners,
  ) {}

  async get(memberId: number, requestId: number, waitSeconds: number): Promise<RequestView> {
    const notFound = () => new NotFoundError('request-not-found', `You have no request ${requestId}.`);
    const deadline = Date.now() + waitSeconds * 1000;
    const known = this.owners.get(requestId);
    if (known && known.memberId !== memberId) throw notFound();
    // A request this process knows is answered from the announcement of its commit: at once if
    // the news came already, else when it comes (a missed one is caught by the check each second;
    // one committed before this process listened reads MySQL).
    const heard = known ? this.waiter.announced(requestId) : undefined;
    if (heard) return heard;
    for (let first = true; known?.seq !== undefined && Date.now() < deadline; first = false) {
      const wake = await this.waiter.arm(requestId, Math.min(1000, deadline - Date.now()));
      const missed = this.waiter.announced(requestId);
      if (missed) {
        wake.cancel();
        return missed;
      }
      const committed =
        this.waiter.heardCommitted(known.performanceId, known.seq) ||
        (!first && (await this.queues.standing(known.performanceId, known.seq)).final);
      if (committed) {
        wake.cancel();
        break;
      }
      const announced = await wake.done;
      if (announced) return announced;
    }
    // One read per wake-up: listen first, then read, so an announcement in between is not missed.
    for (;;) {
      const wake =
        Date.now() < deadline
          ? await this.waiter.arm(requestId, Math.min(1000, deadline - Date.now()))
          : undefined;
      const request = await this.rows.byId(requestId);
      if (!request || request.memberId !== memberId) {
        wake?.cancel();
        throw notFound();
      }
      this.owners.remember(request.id, {
        performanceId: request.performanceId,
        memberId: request.memberId,
        ...(request.queueSeq != null ? { seq: request.queueSeq } : {}),
      });
      if (request.status !== 'queued' || !wake) {
        wake?.cancel();
        return this.view(request);
      }
      // The worker's announcement carries the final view: no second read of MySQL.
      const announced = await wake.done;
      if (announced) return announced;
    }
  }

  async view(r: RequestRow): Promise<RequestView> {
    const v: RequestView = { requestId: r.id, kind: r.kind, status: r.status };
    const seq = this.owners.get(r.id)?.seq ?? r.queueSeq;
    if (r.status === 'queued' && seq != null) {
      const standing = await this.queues.standing(r.performanceId, seq);
      if (standing.processing) v.status = 'processing';
      else if (standing.position !== undefined) v.position = standing.position;
    } else if (r.reason) v.reason = r.reason;
    if (r.holdId != null) {
      const [hold] = await this.rows.holds({ id: r.holdId });
      if (hold) v.hold = hold;
    }
    if (r.kind === 'confirm' && r.status === 'succeeded' && r.holdId != null) {
      v.tickets = await this.rows.ticketsOfHold(r.holdId);
    }
    return v;
  }

  holdViews(memberId: number): Promise<HoldView[]> {
    return this.rows.holds({ memberId });
  }

  tickets(memberId: number) {
    return this.rows.ticketsOfMember(memberId);
  }
}
