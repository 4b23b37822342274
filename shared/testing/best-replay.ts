// Best available, checked after a sale: the sale replayed in queue order (the state follows the
// recorded outcomes, as in replay.ts), and at each best-available request's turn
//   - a rejection for want of seats is checked against the seats free then: it is wrong if the
//     request could have been served (`together`: `count` side-by-side free seats of its zone and
//     grade in one row; otherwise `count` free seats of its zone and grade), or if its reason names
//     the wrong want (`no-seats-together` while fewer than `count` were free; `seat-unavailable`
//     while `count` were free but not side by side);
//   - a grant's seats are the ones the picking gives when re-run on that state;
//   - a grant that leaves one empty seat between two taken ones in its row is checked
//     independently of the picking: the rule allows it only when every run of that row would.
// And who made each single empty seat between two taken ones that is left at the end.
import { SeatLayout, SeatStock, type LayoutSeat } from '../domain/best-available.js';
import type { SaleJob } from './replay.js';

/** Why a single empty seat between two taken ones came to be: the job that made it so. */
type LoneCause = { by: 'best' | 'seats' | 'release' | 'expire'; avoidable: boolean };

export type BestReplay = {
  /** Best-available hold requests replayed, granted, rejected. */
  requests: number;
  granted: number;
  rejected: number;
  /** Rejected for want of seats while the request could have been served at its turn. Must be 0. */
  refusedWhileAvailable: number;
  /** Rejected with the other want's reason (see above). Must be 0. */
  wrongReason: number;
  /** Grants whose seats differ from the picking re-run on the state at their turn. Must be 0. */
  picksDiffer: number;
  /**
   * Rejections while some seat of the request's zone and grade was free, all legitimate: no
   * `count` side by side (`notTogether`), fewer than `count` free (`fewerThanAsked`), or
   * the seats were there but the member's limit was not (`overLimit`).
   */
  refusedWithSeatsLeft: { notTogether: number; fewerThanAsked: number; overLimit: number };
  /**
   * Grants that left a single empty seat between two taken seats of their row: `avoidable` (another
   * run of that row would not have: breaks the rule, must be 0) or `forced` (every run would have).
   */
  gapsLeft: { avoidable: number; forced: number };
  /** Single empty seats between two taken ones after the sale, and those a best-available grant made. */
  loneAtEnd: { total: number; byBest: number; byBestAvoidable: number };
  /** The first few wrong ones, to print. */
  examples: string[];
};

const PICK_FAILED = new Set(['seat-unavailable', 'no-seats-together']);

/**
 * `jobs` in queue order (hold jobs of best-available requests carry `best` and, when granted, the
 * hold's seats); `seats` and `zoneIds` (in the layout's order) as the performance was created.
 */
export function replayBestAvailable(
  jobs: readonly SaleJob[],
  seats: readonly LayoutSeat[],
  zoneIds: readonly number[],
  maxSeatsPerMember: number,
): BestReplay {
  const out: BestReplay = {
    requests: 0,
    granted: 0,
    rejected: 0,
    refusedWhileAvailable: 0,
    wrongReason: 0,
    picksDiffer: 0,
    refusedWithSeatsLeft: { notTogether: 0, fewerThanAsked: 0, overLimit: 0 },
    gapsLeft: { avoidable: 0, forced: 0 },
    loneAtEnd: { total: 0, byBest: 0, byBestAvoidable: 0 },
    examples: [],
  };
  const example = (text: string) => {
    if (out.examples.length < 5) out.examples.push(text);
  };

  // The rows, built here from the seats (not from the picking's layout): seat ids in number order.
  const bySeat = new Map(seats.map((s) => [s.id, s]));
  const rows = new Map<string, LayoutSeat[]>();
  for (const s of seats) {
    if (s.row === null || s.number === null) continue;
    const key = `${s.zoneId}:${s.row}`;
    rows.set(key, [...(rows.get(key) ?? []), s]);
  }
  const left = new Map<number, number>();
  const right = new Map<number, number>();
  const rowOf = new Map<number, number[]>();
  // Every seat, each row's in number order: a run of side-by-side seats is a stretch of this list.
  const inRowOrder: number[] = seats.filter((s) => s.row === null || s.number === null).map((s) => s.id);
  for (const r of rows.values()) {
    r.sort((a, b) => a.number! - b.number!);
    const ids = r.map((s) => s.id);
    inRowOrder.push(...ids);
    r.forEach((s, i) => {
      rowOf.set(s.id, ids);
      const next = r[i + 1];
      if (next && next.number === s.number! + 1) {
        right.set(s.id, next.id);
        left.set(next.id, s.id);
      }
    });
  }

  const taken = new Set<number>();
  const isTaken = (id: number) => taken.has(id);
  // One empty seat whose two neighbours in its row are both taken.
  const lone = (id: number, t: (id: number) => boolean = isTaken) => {
    const l = left.get(id);
    const r = right.get(id);
    return !t(id) && l !== undefined && r !== undefined && t(l) && t(r);
  };
  const loneCause = new Map<number, LoneCause>();
  const stock = SeatStock.of(
    new SeatLayout(seats, new Map(zoneIds.map((z, i) => [z, i]))),
    () => 'available',
  );
  const holds = new Map<number, { memberId: number; seatIds: number[]; status: string }>();
  const owned = new Map<number, number>();

  /** Seats change; the lone seats around them are found again, a new one remembers its cause. */
  const change = (ids: readonly number[], take: boolean, cause: LoneCause) => {
    for (const id of ids) {
      if (take) taken.add(id);
      else taken.delete(id);
    }
    const near = new Set<number>();
    for (const id of ids) for (const n of [id, left.get(id), right.get(id)]) if (n !== undefined) near.add(n);
    for (const id of near) {
      if (!lone(id)) loneCause.delete(id);
      else if (!loneCause.has(id)) loneCause.set(id, cause);
    }
  };

  for (const job of jobs) {
    if (job.kind === 'expire') {
      const h = holds.get(job.holdId);
      if (h?.status === 'held') {
        h.status = 'expired';
        endHold(h);
        change(h.seatIds, false, { by: 'expire', avoidable: false });
      }
      continue;
    }
    const got = job.status === 'succeeded' ? 'succeeded' : (job.reason ?? job.status);
    if (job.kind !== 'hold') {
      const h = holds.get(job.holdId);
      if (got !== 'succeeded' || !h) continue;
      if (job.kind === 'confirm') {
        h.status = 'confirmed';
        h.seatIds.forEach((s) => stock.set(s, 'sold'));
      } else {
        h.status = 'released';
        endHold(h);
        change(h.seatIds, false, { by: 'release', avoidable: false });
      }
      continue;
    }
    let cause: LoneCause = { by: 'seats', avoidable: false };
    if (job.best) {
      const req = job.best;
      const count = Math.max(1, Math.trunc(req.count));
      const together = !!req.together && count > 1;
      const fits = (id: number) => {
        const s = bySeat.get(id)!;
        return (
          !taken.has(id) &&
          (req.zoneId === undefined || s.zoneId === req.zoneId) &&
          (req.gradeId === undefined || s.gradeId === req.gradeId)
        );
      };
      let free = 0;
      let longest = 0;
      // `run`: the length of the run of fitting seats that ends at `id`.
      for (let i = 0, run = 0, prev: number | undefined; i < inRowOrder.length; i++) {
        const id = inRowOrder[i]!;
        run = fits(id) ? (run > 0 && left.get(id) === prev ? run + 1 : 1) : 0;
        prev = id;
        if (run) free++;
        longest = Math.max(longest, run);
      }
      const servable = together ? longest >= count : free >= count;
      const n = owned.get(job.memberId) ?? 0;
      const what = `job ${job.seq} (best ${JSON.stringify(req)})`;
      out.requests++;
      if (got !== 'succeeded') {
        out.rejected++;
        if (PICK_FAILED.has(got)) {
          const expected = together && free >= count ? 'no-seats-together' : 'seat-unavailable';
          if (servable) {
            out.refusedWhileAvailable++;
            example(`${what}: ${got} while ${free} seats fitted (${longest} side by side)`);
          } else if (got !== expected) {
            out.wrongReason++;
            example(`${what}: ${got}, expected ${expected} (${free} fitting seats, ${longest} side by side)`);
          } else if (free > 0) {
            if (got === 'no-seats-together') out.refusedWithSeatsLeft.notTogether++;
            else out.refusedWithSeatsLeft.fewerThanAsked++;
          }
        } else if (got === 'limit-exceeded') {
          // Picked first, then the limit: a refusal for the limit needs both.
          if (!servable) {
            out.wrongReason++;
            example(`${what}: limit-exceeded, but no ${count} seats fitted`);
          } else if (n + count <= maxSeatsPerMember) {
            out.refusedWhileAvailable++;
            example(`${what}: limit-exceeded with ${n} of ${maxSeatsPerMember} seats`);
          } else out.refusedWithSeatsLeft.overLimit++;
        }
        continue;
      }
      out.granted++;
      const repick = stock.pick(req);
      const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b).join(',');
      if (!repick.ok || sorted(repick.seatIds) !== sorted(job.seatIds)) {
        out.picksDiffer++;
        example(
          `${what}: held ${job.seatIds.join(',')}, the picking gives ${repick.ok ? repick.seatIds.join(',') : repick.reason}`,
        );
      }
      // The rule, seat group by seat group (a run of one row, or apart: each seat in the order picked).
      const order =
        repick.ok && sorted(repick.seatIds) === sorted(job.seatIds) ? repick.seatIds : job.seatIds;
      const groups = isRun(order) ? [order] : order.map((id) => [id]);
      const trial = new Set<number>();
      let avoidable = false;
      let forced = false;
      for (const g of groups) {
        const leaves = (run: readonly number[]) => {
          const t = (id: number) => taken.has(id) || trial.has(id) || run.includes(id);
          const first = run[0]!;
          const last = run[run.length - 1]!;
          return [left.get(first), right.get(last)].some((x) => x !== undefined && lone(x, t));
        };
        if (leaves(g)) {
          const row = rowOf.get(g[0]!) ?? [];
          const ok = (id: number) => !trial.has(id) && fits(id);
          const other = row.some((_, i) => {
            const run = row.slice(i, i + g.length);
            return run.length === g.length && run.every(ok) && isRun(run) && !leaves(run);
          });
          if (other) {
            avoidable = true;
            example(
              `${what}: held ${g.join(',')}, leaving a single seat that another run of its row does not`,
            );
          } else forced = true;
        }
        g.forEach((id) => trial.add(id));
      }
      if (avoidable) out.gapsLeft.avoidable++;
      else if (forced) out.gapsLeft.forced++;
      cause = { by: 'best', avoidable };
    }
    if (got === 'succeeded' && job.holdId !== null) {
      holds.set(job.holdId, { memberId: job.memberId, seatIds: job.seatIds, status: 'held' });
      owned.set(job.memberId, (owned.get(job.memberId) ?? 0) + job.seatIds.length);
      job.seatIds.forEach((s) => stock.set(s, 'held'));
      change(job.seatIds, true, cause);
    }
  }
  out.loneAtEnd.total = loneCause.size;
  for (const c of loneCause.values())
    if (c.by === 'best') {
      out.loneAtEnd.byBest++;
      if (c.avoidable) out.loneAtEnd.byBestAvoidable++;
    }
  return out;

  function endHold(h: { memberId: number; seatIds: number[] }) {
    owned.set(h.memberId, (owned.get(h.memberId) ?? 0) - h.seatIds.length);
    h.seatIds.forEach((s) => stock.set(s, 'available'));
  }

  /** Seats side by side in one row, in order. */
  function isRun(ids: readonly number[]): boolean {
    return ids.every((id, i) => i === 0 || left.get(id) === ids[i - 1]);
  }
}
