// Best available: the worker picks a request's seats at its turn in the queue. Pure: the layout and
// the seats' statuses in, seat ids out.
//
// The ranking (contract §3):
//   1. zones in the layout's order (a zone's `rank`, when the layout gives one, comes first; then
//      the order the zones were created in);
//   2. within a zone, rows front to back (the order the rows were listed in);
//   3. within a row, the run whose middle is closest to the row's centre (ties: the lower numbers).
// The first row (in that order) with a suitable run wins. Within that row, a run that leaves a single
// empty seat between two taken ones is chosen only if every run of that row does ("the same
// quality" is the same row). With `together`, a run is consecutive seats of one row (numbers one
// apart); without it, a run together is still preferred, and failing that the seats are picked one
// at a time by the same ranking.
import type { SeatStatus } from './seats.js';

export type BestRequest = { count: number; zoneId?: number; gradeId?: number; together?: boolean };
export type PickResult =
  { ok: true; seatIds: number[] } | { ok: false; reason: 'no-seats-together' | 'seat-unavailable' };

/** A seat of the layout as the database knows it. */
export type LayoutSeat = {
  id: number;
  zoneId: number;
  gradeId: number;
  row: string | null;
  number: number | null;
};

const AVAILABLE = 0;
const HELD = 1;
const SOLD = 2;
const CODES: Record<SeatStatus, number> = { available: AVAILABLE, held: HELD, sold: SOLD };
const STATUSES: SeatStatus[] = ['available', 'held', 'sold'];

/**
 * The layout in ranking order, flat: seat i of the ranking at index i, each row a contiguous range.
 * Built once per performance (a layout does not change after the performance is created).
 */
export class SeatLayout {
  readonly ids: Int32Array;
  readonly grade: Int32Array;
  readonly number: Float64Array;
  /** Whether seat i and seat i + 1 sit side by side (same row, numbers one apart). */
  readonly joined: Uint8Array;
  /** Row r covers seats rowStart[r] .. rowStart[r + 1] - 1. */
  readonly rowStart: Int32Array;
  readonly rowZone: Int32Array;
  readonly rowCentre: Float64Array;
  readonly rowOf: Int32Array;
  /** Seat id -> ranking index: `dense[id - minId]` (-1: none) when the ids are dense, else `sparse`. */
  private readonly minId: number;
  private readonly dense: Int32Array | undefined;
  private readonly sparse = new Map<number, number>();

  constructor(seats: readonly LayoutSeat[], zoneRank: ReadonlyMap<number, number> = new Map()) {
    // Rows keyed by zone and name; a seat without a row is a row of its own.
    const rows = new Map<string, LayoutSeat[]>();
    // Read ORDER BY id, as a rule: sorted again only if not.
    let sorted = true;
    for (let k = 1; k < seats.length && sorted; k++) sorted = seats[k - 1]!.id < seats[k]!.id;
    for (const s of sorted ? seats : [...seats].sort((a, b) => a.id - b.id)) {
      const key = s.row === null ? `${s.zoneId}#${s.id}` : `${s.zoneId}:${s.row}`;
      let r = rows.get(key);
      if (!r) rows.set(key, (r = []));
      r.push(s);
    }
    const zoneOrder = (z: number) => zoneRank.get(z) ?? Number.MAX_SAFE_INTEGER;
    // Map iteration keeps the rows' first appearance (by seat id): the order they were listed in.
    const byNumber = (a: LayoutSeat, b: LayoutSeat) => (a.number ?? 0) - (b.number ?? 0) || a.id - b.id;
    const ordered = [...rows.values()]
      .map((r, i) => ({ seats: inOrder(r, byNumber) ? r : r.sort(byNumber), i }))
      .sort(
        (a, b) =>
          zoneOrder(a.seats[0]!.zoneId) - zoneOrder(b.seats[0]!.zoneId) ||
          a.seats[0]!.zoneId - b.seats[0]!.zoneId ||
          a.i - b.i,
      );
    const n = seats.length;
    let minId = Infinity;
    let maxId = -Infinity;
    for (const s of seats) {
      if (s.id < minId) minId = s.id;
      if (s.id > maxId) maxId = s.id;
    }
    this.minId = n ? minId : 0;
    this.dense = n && maxId - minId < 4 * n + 1024 ? new Int32Array(maxId - minId + 1).fill(-1) : undefined;
    this.ids = new Int32Array(n);
    this.grade = new Int32Array(n);
    this.number = new Float64Array(n);
    this.joined = new Uint8Array(n);
    this.rowOf = new Int32Array(n);
    this.rowStart = new Int32Array(ordered.length + 1);
    this.rowZone = new Int32Array(ordered.length);
    this.rowCentre = new Float64Array(ordered.length);
    let i = 0;
    ordered.forEach((r, ri) => {
      this.rowStart[ri] = i;
      this.rowZone[ri] = r.seats[0]!.zoneId;
      const first = r.seats[0]!.number ?? 0;
      const last = r.seats[r.seats.length - 1]!.number ?? 0;
      this.rowCentre[ri] = (first + last) / 2;
      r.seats.forEach((s, k) => {
        this.ids[i] = s.id;
        this.grade[i] = s.gradeId;
        this.number[i] = s.number ?? 0;
        this.rowOf[i] = ri;
        const next = r.seats[k + 1];
        this.joined[i] =
          next && s.number !== null && next.number !== null && next.number === s.number + 1 ? 1 : 0;
        if (this.dense) this.dense[s.id - this.minId] = i;
        else this.sparse.set(s.id, i);
        i++;
      });
    });
    this.rowStart[ordered.length] = i;
  }

  get rows(): number {
    return this.rowZone.length;
  }

  /** The ranking index of a seat id, or undefined if it is not of this layout. */
  indexOf(seatId: number): number | undefined {
    if (!this.dense) return this.sparse.get(seatId);
    const i = this.dense[seatId - this.minId];
    return i === undefined || i < 0 ? undefined : i;
  }
}

function inOrder<T>(xs: readonly T[], compare: (a: T, b: T) => number): boolean {
  for (let k = 1; k < xs.length; k++) if (compare(xs[k - 1]!, xs[k]!) > 0) return false;
  return true;
}

/** The statuses of a layout's seats, changed as a batch plans, with each row's free count. */
export class SeatStock {
  private constructor(
    readonly layout: SeatLayout,
    private readonly state: Uint8Array,
    private readonly free: Int32Array,
  ) {}

  static of(layout: SeatLayout, statusOf: (seatId: number) => SeatStatus | undefined): SeatStock {
    const state = new Uint8Array(layout.ids.length);
    const free = new Int32Array(layout.rows);
    for (let i = 0; i < state.length; i++) {
      const c = CODES[statusOf(layout.ids[i]!) ?? 'sold'];
      state[i] = c;
      if (c === AVAILABLE) free[layout.rowOf[i]!]!++;
    }
    return new SeatStock(layout, state, free);
  }

  /** An independent copy: planning changes the copy, the original stays as committed. */
  clone(): SeatStock {
    return new SeatStock(this.layout, this.state.slice(), this.free.slice());
  }

  status(seatId: number): SeatStatus | undefined {
    const i = this.layout.indexOf(seatId);
    return i === undefined ? undefined : STATUSES[this.state[i]!];
  }

  set(seatId: number, status: SeatStatus): void {
    const i = this.layout.indexOf(seatId);
    if (i === undefined) return;
    const before = this.state[i]!;
    const after = CODES[status];
    this.state[i] = after;
    const r = this.layout.rowOf[i]!;
    if (before === AVAILABLE && after !== AVAILABLE) this.free[r]!--;
    if (before !== AVAILABLE && after === AVAILABLE) this.free[r]!++;
  }

  /** The seats best available gives `req` now, or why there are none. Changes nothing. */
  pick(req: BestRequest): PickResult {
    const count = Math.max(1, Math.trunc(req.count));
    const run = this.bestRun(req, count);
    if (run) return { ok: true, seatIds: run };
    if (req.together && count > 1)
      return this.eligibleFree(req) >= count
        ? { ok: false, reason: 'no-seats-together' }
        : { ok: false, reason: 'seat-unavailable' };
    if (this.eligibleFree(req) < count) return { ok: false, reason: 'seat-unavailable' };
    // Apart: one seat at a time by the same ranking, each pick seeing the ones before it.
    const trial = this.clone();
    const picked: number[] = [];
    for (let k = 0; k < count; k++) {
      const one = trial.bestRun(req, 1);
      if (!one) return { ok: false, reason: 'seat-unavailable' };
      trial.set(one[0]!, 'held');
      picked.push(one[0]!);
    }
    return { ok: true, seatIds: picked };
  }

  private eligible(i: number, req: BestRequest): boolean {
    return this.state[i] === AVAILABLE && (req.gradeId === undefined || this.layout.grade[i] === req.gradeId);
  }

  private eligibleFree(req: BestRequest): number {
    const L = this.layout;
    let n = 0;
    for (let r = 0; r < L.rows; r++) {
      if (req.zoneId !== undefined && L.rowZone[r] !== req.zoneId) continue;
      if (!this.free[r]) continue;
      for (let i = L.rowStart[r]!; i < L.rowStart[r + 1]!; i++) if (this.eligible(i, req)) n++;
    }
    return n;
  }

  /**
   * Seat a - 1 or b + 1 is empty and would sit alone between two taken seats of its row once
   * [a, b] is taken. Plain code, no closures: it runs for every candidate run of every pick.
   */
  private leavesSingle(a: number, b: number, start: number, end: number): boolean {
    const J = this.layout.joined;
    const S = this.state;
    return (
      (a - 2 >= start &&
        J[a - 1] === 1 &&
        J[a - 2] === 1 &&
        S[a - 1] === AVAILABLE &&
        S[a - 2] !== AVAILABLE) ||
      (b + 2 < end && J[b] === 1 && J[b + 1] === 1 && S[b + 1] === AVAILABLE && S[b + 2] !== AVAILABLE)
    );
  }

  /** The best run of `count` side-by-side eligible seats, by the ranking; undefined if none. */
  private bestRun(req: BestRequest, count: number): number[] | undefined {
    const L = this.layout;
    for (let r = 0; r < L.rows; r++) {
      if (req.zoneId !== undefined && L.rowZone[r] !== req.zoneId) continue;
      if (this.free[r]! < count) continue;
      const start = L.rowStart[r]!;
      const end = L.rowStart[r + 1]!;
      // The best run so far: its first seat (-1: none), distance to the centre, whether it leaves a lone seat.
      let bestA = -1;
      let bestD = 0;
      let bestGap = false;
      let length = 0;
      for (let i = start; i < end; i++) {
        length = this.eligible(i, req) ? (length > 0 && L.joined[i - 1] === 1 ? length + 1 : 1) : 0;
        if (length < count) continue;
        const a = i - count + 1;
        const d = Math.abs((L.number[a]! + L.number[i]!) / 2 - L.rowCentre[r]!);
        // Better: no lone seat left over one that leaves one, then closer to the centre; ties keep
        // the lower numbers (found first). A run no closer than a best that leaves none cannot win.
        if (bestA >= 0 && !bestGap && d >= bestD) continue;
        const gap = this.leavesSingle(a, i, start, end);
        if (bestA < 0 || (bestGap && !gap) || (bestGap === gap && d < bestD)) {
          bestA = a;
          bestD = d;
          bestGap = gap;
        }
      }
      if (bestA >= 0) return Array.from(L.ids.subarray(bestA, bestA + count));
    }
    return undefined;
  }
}
