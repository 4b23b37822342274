import { QueryTypes, Transaction, type Sequelize } from 'sequelize';
import type { Stock } from '../db/repositories/seat-stock.repository.js';

// The seat counts of a performance, kept per process by following its seat events instead of
// counting its seats on every read (150–450 ms on a 100,000-seat venue). Every change of a seat's
// status commits together with its event, numbered in commit order (commit-writer.repository.ts),
// so the counts at event N plus the events after N are the counts now. A read is served from the
// tally when it has reached the event sequence the caller read with the performance's row;
// otherwise the events since are applied first (a few rows, by primary key; concurrent readers
// share one catch-up). The counts are those of the commit the row read saw: no lag beyond that.
/** Further behind than this many events, counting again is cheaper than applying them. */
const MAX_EVENTS_APPLIED = 50_000;
/** Tallies kept per process; the least recently read goes first. */
const MAX_TALLIES = 64;

const STATUS = ['available', 'held', 'sold'] as const;
type Status = (typeof STATUS)[number];
const code = (s: Status): number => STATUS.indexOf(s);

export type ZoneCounts = { seatCount: number; available: number };

class Tally {
  /** Status counts, indexed like STATUS. */
  readonly counts = [0, 0, 0];
  readonly zoneSeats: number[];
  readonly zoneAvailable: number[];

  constructor(
    public seq: number,
    /** Seat ids in ascending order, and for each its status code and its zone's index. */
    private readonly ids: Float64Array,
    private readonly status: Uint8Array,
    private readonly zoneOf: Uint32Array,
    readonly zoneIds: number[],
  ) {
    this.zoneSeats = zoneIds.map(() => 0);
    this.zoneAvailable = zoneIds.map(() => 0);
    for (let i = 0; i < ids.length; i++) {
      this.counts[status[i]!]!++;
      this.zoneSeats[zoneOf[i]!]!++;
      if (status[i] === 0) this.zoneAvailable[zoneOf[i]!]!++;
    }
  }

  private indexOf(seatId: number): number {
    let lo = 0;
    let hi = this.ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.ids[mid]!;
      if (v === seatId) return mid;
      if (v < seatId) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Applies one event; false when it names a seat this tally does not know (then count again). */
  apply(seq: number, seatId: number, to: Status): boolean {
    const i = this.indexOf(seatId);
    if (i < 0) return false;
    const from = this.status[i]!;
    const next = code(to);
    if (from !== next) {
      this.counts[from]!--;
      this.counts[next]!++;
      const z = this.zoneOf[i]!;
      if (from === 0) this.zoneAvailable[z]!--;
      if (next === 0) this.zoneAvailable[z]!++;
      this.status[i] = next;
    }
    this.seq = seq;
    return true;
  }

  stock(): Stock {
    const [available, held, sold] = this.counts as [number, number, number];
    return { seatCount: this.ids.length, available, held, sold };
  }

  zones(): Map<number, ZoneCounts> {
    return new Map(
      this.zoneIds.map((id, i) => [id, { seatCount: this.zoneSeats[i]!, available: this.zoneAvailable[i]! }]),
    );
  }
}

export class SeatTallies {
  private readonly tallies = new Map<number, Tally>();
  private readonly inFlight = new Map<number, Promise<Tally>>();
  /** Full counts taken by this process (tests and the benchmark read it). */
  countings = 0;

  constructor(private readonly sequelize: Sequelize) {}

  /**
   * The counts of a performance whose event sequence is `eventSeq` (read by the caller with the
   * performance's row): exact when the tally has reached it, else at most MAX_LAG_MS behind.
   */
  async counts(
    performanceId: number,
    eventSeq: number,
  ): Promise<{ stock: Stock; zones: Map<number, ZoneCounts> }> {
    const tally = await this.current(performanceId, eventSeq);
    return { stock: tally.stock(), zones: tally.zones() };
  }

  private async current(performanceId: number, eventSeq: number): Promise<Tally> {
    for (let attempt = 0; ; attempt++) {
      const t = this.tallies.get(performanceId);
      if (t) {
        // Most recently read last: the first key is the one to evict.
        this.tallies.delete(performanceId);
        this.tallies.set(performanceId, t);
        // At or past the sequence the caller read (another reader may have caught up since).
        if (t.seq >= eventSeq || attempt === 3) return t;
      }
      let p = this.inFlight.get(performanceId);
      if (!p) {
        p = this.refresh(performanceId, t, eventSeq).finally(() => this.inFlight.delete(performanceId));
        this.inFlight.set(performanceId, p);
      }
      // A catch-up that started before this caller's read may stop short of its sequence: again.
      const done = await p;
      if (done.seq >= eventSeq) return done;
    }
  }

  private async refresh(performanceId: number, t: Tally | undefined, eventSeq: number): Promise<Tally> {
    // A tally far behind, or an event of a seat it does not know (a reset deployment): count again.
    if (t && eventSeq - t.seq <= MAX_EVENTS_APPLIED && (await this.catchUp(performanceId, t))) return t;
    const fresh = await this.count(performanceId);
    this.tallies.delete(performanceId);
    this.tallies.set(performanceId, fresh);
    while (this.tallies.size > MAX_TALLIES) this.tallies.delete(this.tallies.keys().next().value!);
    return fresh;
  }

  /** Applies the events after the tally's; false if one of them is not of a known seat. */
  private async catchUp(performanceId: number, t: Tally): Promise<boolean> {
    for (;;) {
      const events = await this.sequelize.query<{ seq: number; seatId: number; status: Status }>(
        `SELECT seq, seat_id AS seatId, status FROM seat_events
          WHERE performance_id = ? AND seq > ? ORDER BY seq LIMIT 5000`,
        { type: QueryTypes.SELECT, replacements: [performanceId, t.seq] },
      );
      for (const e of events) if (!t.apply(Number(e.seq), Number(e.seatId), e.status)) return false;
      if (events.length < 5000) break;
    }
    return true;
  }

  /** Every seat's status and zone at one event sequence, read in one snapshot. */
  private async count(performanceId: number): Promise<Tally> {
    this.countings++;
    return this.sequelize.transaction(
      { isolationLevel: Transaction.ISOLATION_LEVELS.REPEATABLE_READ },
      async (transaction) => {
        const [p] = await this.sequelize.query<{ eventSeq: number }>(
          'SELECT event_seq AS eventSeq FROM performances WHERE id = ?',
          { type: QueryTypes.SELECT, replacements: [performanceId], transaction },
        );
        const zones = await this.sequelize.query<{ id: number }>(
          'SELECT id FROM zones WHERE performance_id = ? ORDER BY id',
          { type: QueryTypes.SELECT, replacements: [performanceId], transaction },
        );
        const seats = await this.sequelize.query<{ id: number; zoneId: number; status: Status }>(
          'SELECT id, zone_id AS zoneId, status FROM seats WHERE performance_id = ? ORDER BY id',
          { type: QueryTypes.SELECT, replacements: [performanceId], transaction },
        );
        const zoneIds = zones.map((z) => Number(z.id));
        const zoneIndex = new Map(zoneIds.map((id, i) => [id, i]));
        const ids = new Float64Array(seats.length);
        const status = new Uint8Array(seats.length);
        const zoneOf = new Uint32Array(seats.length);
        seats.forEach((s, i) => {
          ids[i] = Number(s.id);
          status[i] = code(s.status);
          zoneOf[i] = zoneIndex.get(Number(s.zoneId)) ?? 0;
        });
        return new Tally(Number(p?.eventSeq ?? 0), ids, status, zoneOf, zoneIds);
      },
    );
  }
}
