import type { RedisClient } from '../redis.js';
import { waitingStatusReads } from '../metrics.js';
import {
  answerOf,
  type RoomHead,
  type WaitingRoom,
  type WaitingStatus,
  type StockState,
} from './waiting-room.js';
import { EXACT_WINDOW, LAG_MS, positionFromHead } from './pace.js';

const MAX_TICKETS = 2_000_000;
/** How long a join that admitted holds its answer for the admission's log entry. */
const JOIN_WAIT_MS = 5000;
/** Heads older than this are of no use to `throughAt` (the lag is one second). */
const HISTORY_MS = 10_000;

type Waiter = { ticket: number; wake: () => void };

/** What one API process knows of one room from the heads it heard. */
class RoomView {
  latest: RoomHead | undefined;
  /** Heard without a gap since this Redis time: `throughAt` answers for any moment after it. */
  coveredFrom = Infinity;
  /** [ts, through] of each advance of the head, oldest first. */
  readonly history: [number, number][] = [];
  readonly tickets = new Map<number, number>();
  readonly waiters = new Set<Waiter>();

  /** The highest ticket admitted at time t, or undefined before the heard history. */
  throughAt(t: number): number | undefined {
    if (t < this.coveredFrom) return undefined;
    for (let i = this.history.length - 1; i >= 0; i--)
      if (this.history[i]![0] <= t) return this.history[i]![1];
    return undefined;
  }

  reset(): void {
    this.latest = undefined;
    this.coveredFrom = Infinity;
    this.history.length = 0;
    this.tickets.clear();
  }
}

/**
 * An API process's view of every waiting room, kept current by the heads the rooms publish (one
 * subscriber connection; no per-member Redis loop). It answers most status reads of members far
 * back without Redis (their ticket is remembered from their join or an earlier read, their
 * position follows from the head: `pace.ts`), and wakes the long-polls of members the moment a head
 * says they were admitted or the sale sold out.
 */
export class LineView {
  private readonly rooms = new Map<number, RoomView>();
  private ticketCount = 0;
  private subscribed: Promise<unknown> | undefined;

  constructor(
    private readonly room: WaitingRoom,
    private readonly subscriber: RedisClient,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.room.headChannel()) return;
      try {
        this.hear(JSON.parse(message) as RoomHead);
      } catch {
        // not a head
      }
    });
    // Heads published while the connection was down are lost: what was heard before no longer
    // covers the present, so reads go to Redis until the view has a second of history again.
    subscriber.on('ready', () => {
      for (const v of this.rooms.values()) {
        v.coveredFrom = Infinity;
        v.history.length = 0;
      }
    });
  }

  async listen(): Promise<void> {
    this.subscribed ??= this.subscriber.subscribe(this.room.headChannel()).catch((err: unknown) => {
      this.subscribed = undefined;
      throw err;
    });
    await this.subscribed;
  }

  private view(performanceId: number): RoomView {
    let v = this.rooms.get(performanceId);
    if (!v) {
      v = new RoomView();
      this.rooms.set(performanceId, v);
    }
    return v;
  }

  /** A head heard on the channel (in the order the room wrote them). */
  hear(h: RoomHead): void {
    const v = this.view(h.performanceId);
    const last = v.latest;
    // A head behind the last one means Redis lost the room (tickets start again): forget it all.
    if (last && (h.through < last.through || h.seq < last.seq)) {
      this.ticketCount -= v.tickets.size;
      v.reset();
    }
    if (v.coveredFrom === Infinity) {
      v.coveredFrom = h.ts;
      v.history.push([h.ts, h.through]);
    } else if (h.through > (v.history[v.history.length - 1]?.[1] ?? -1)) {
      v.history.push([h.ts, h.through]);
    }
    while (v.history.length > 1 && v.history[1]![0] < h.ts - HISTORY_MS) {
      v.history.shift();
      v.coveredFrom = v.history[0]![0];
    }
    v.latest = h;
    if (h.left !== undefined && v.tickets.delete(h.left)) this.ticketCount--;
    // An admission counts once it is in the log: the head that says so wakes its long-poll.
    for (const w of v.waiters) if (w.ticket <= h.logged || h.stock === 'sold-out') w.wake();
  }

  /** Remembers a member's ticket (from a join or an exact read). */
  remember(performanceId: number, memberId: number, ticket: number): void {
    const v = this.view(performanceId);
    if (v.tickets.has(memberId)) return;
    if (this.ticketCount >= MAX_TICKETS) {
      for (const r of this.rooms.values()) r.tickets.clear();
      this.ticketCount = 0;
    }
    v.tickets.set(memberId, ticket);
    this.ticketCount++;
  }

  forget(performanceId: number, memberId: number): void {
    if (this.rooms.get(performanceId)?.tickets.delete(memberId)) this.ticketCount--;
  }

  /**
   * The member's status from what this process heard, without Redis, or undefined when only Redis
   * can say: the member is unknown here, near the front, possibly admitted, or the view is not
   * current (no head heard within the lag: a head may be on its way).
   */
  local(
    performanceId: number,
    memberId: number,
    capacity: number,
    now = Date.now(),
  ): WaitingStatus | undefined {
    const v = this.rooms.get(performanceId);
    const h = v?.latest;
    const ticket = v?.tickets.get(memberId);
    if (!v || !h || ticket === undefined || ticket > h.seq || ticket <= h.through) return undefined;
    if (h.stock === 'sold-out')
      return answerOf('sold-out', ticket, 0, h, capacity, this.room.idleSeconds, now);
    if (h.ts < now - LAG_MS) return undefined;
    // Far enough back that no admission since the last head can have reached it.
    if (ticket - h.through <= Math.max(EXACT_WINDOW, 2 * (h.capacity || capacity))) return undefined;
    const lagged = v.throughAt(now - LAG_MS);
    if (lagged === undefined) return undefined;
    const position = positionFromHead(ticket, lagged);
    if (position <= EXACT_WINDOW) return undefined;
    return answerOf('waiting', ticket, position, h, capacity, this.room.idleSeconds, now);
  }

  /** The member's status: from this process's view when it can, else one Redis round trip. */
  async status(performanceId: number, memberId: number, capacity: number): Promise<WaitingStatus | null> {
    const local = this.local(performanceId, memberId, capacity);
    if (local) {
      waitingStatusReads.inc({ answered_from: 'view' });
      return local;
    }
    waitingStatusReads.inc({ answered_from: 'redis' });
    const raw = await this.room.status(performanceId, memberId);
    if (!('status' in raw)) {
      this.forget(performanceId, memberId);
      return null;
    }
    if (raw.status !== 'sold-out' && !raw.prequeue) this.remember(performanceId, memberId, raw.ticket);
    return this.room.toStatus(raw, capacity);
  }

  async join(
    performanceId: number,
    memberId: number,
    capacity: number,
    countStock: () => Promise<StockState>,
  ): Promise<WaitingStatus> {
    let raw = await this.room.join(performanceId, memberId, capacity, countStock);
    if (raw.status !== 'sold-out' && !raw.prequeue) this.remember(performanceId, memberId, raw.ticket);
    // The join admitted the member; the admission counts once the log's writer has written it. The
    // room did not wait for that (nor does any other admission); this answer does, as a long-poll
    // would, for the head that says so (within JOIN_WAIT_MS, else: next, ask again now).
    if (raw.pending) {
      await this.waitForTurn(performanceId, raw.ticket, JOIN_WAIT_MS);
      const again = await this.room.status(performanceId, memberId);
      if ('status' in again) raw = again;
    }
    return this.room.toStatus(raw, capacity);
  }

  async leave(performanceId: number, memberId: number): Promise<boolean> {
    this.forget(performanceId, memberId);
    return this.room.leave(performanceId, memberId);
  }

  /**
   * Resolves when a head says the ticket was admitted or the sale sold out, after `ms`, or when
   * `signal` aborts (the client went away), whichever comes first.
   */
  async waitForTurn(performanceId: number, ticket: number, ms: number, signal?: AbortSignal): Promise<void> {
    await this.listen().catch(() => undefined);
    const v = this.view(performanceId);
    if (v.latest && (ticket <= v.latest.logged || v.latest.stock === 'sold-out')) return;
    await new Promise<void>((resolve) => {
      const w: Waiter = { ticket, wake: () => done() };
      const timer = setTimeout(() => done(), ms);
      const done = () => {
        clearTimeout(timer);
        v.waiters.delete(w);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      v.waiters.add(w);
      signal?.addEventListener('abort', done);
    });
  }

  /** Long-polls open in this process (for the gauge). */
  waiting(): number {
    let n = 0;
    for (const v of this.rooms.values()) n += v.waiters.size;
    return n;
  }
}
