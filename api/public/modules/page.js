// @ts-check
// The state of the performance page that the seat map, the selection and the hold share, and how
// seats are named to people ("Block 102, row C, seats 5–6").
import { formatPrice } from './ui.js';

/**
 * @typedef {import('./types.js').Seat} Seat
 * @typedef {import('./types.js').SeatStatus} SeatStatus
 * @typedef {import('./types.js').Hold} Hold
 * @typedef {import('./types.js').PerformanceDetail} PerformanceDetail
 * @typedef {{ go: (hash: string, flash?: { notice?: string, error?: string }) => void,
 *   logIn: (returnTo: string) => void }} Navigator
 * @typedef {{
 *   id: number, signal: AbortSignal, perf: PerformanceDetail, nav: Navigator,
 *   seats: Map<number, Seat>, seatZone: Map<number, number>, buttons: Map<number, HTMLButtonElement>,
 *   selected: Set<number>, zoneId: number | null, hold: Hold | null, busy: boolean, admitted: boolean,
 *   owned: number | null,
 *   lastTouch: number, touchEveryMs: number, events: EventSource | null,
 *   loading: boolean, buffered: { seatId: number, status: SeatStatus }[], zoneLoads: number,
 *   touch: () => void, regain: () => Promise<void>, toggle: (seatId: number) => void,
 *   selectionChanged: () => void }} Page
 *   `owned`: the member's held and bought seats of this performance (null until read);
 *   `seatZone`: the zone id of every seat read so far; `zoneLoads` counts zone reads (the latest
 *   draws). The four functions are wired by performance.js, so the modules of the page do not
 *   import each other in a circle.
 */

/** @type {Page | null} */
let current = null;

/** The page on screen, if any: answers of a page already left change nothing. */
export function currentPage() {
  return current;
}

/** @param {Page | null} p */
export function setCurrentPage(p) {
  current = p;
}

/**
 * @param {Page} p
 * @param {number} n
 */
export function price(p, n) {
  return formatPrice(n, p.perf.currency);
}

/**
 * The seat's number as printed on it: its number in its row, else the digits ending its code
 * ("Floor-12" is 12), else the whole code.
 * @param {Seat} s
 * @returns {string}
 */
export function seatNumber(s) {
  if (s.number !== undefined && s.number !== null) return String(s.number);
  const m = /(\d+)$/.exec(s.code);
  return m ? String(Number(m[1])) : s.code;
}

/**
 * "Block 102, row C, seat 5" (or "Floor, seat 12" for a seat outside rows).
 * @param {Seat} s
 */
export function seatName(s) {
  return `${s.zone}${s.row ? `, row ${s.row}` : ''}, seat ${seatNumber(s)}`;
}

/**
 * Seats grouped by zone and row, runs of neighbours joined: "Block 102, row C, seats 5–6; row D, seat 1".
 * @param {Seat[]} seats
 */
export function describeSeats(seats) {
  /** @type {Map<string, { zone: string, row: string, numbers: string[] }>} */
  const groups = new Map();
  for (const s of seats) {
    const key = `${s.zone}\u0000${s.row ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { zone: s.zone, row: s.row ?? '', numbers: [] }));
    g.numbers.push(seatNumber(s));
  }
  let lastZone = '';
  return [...groups.values()]
    .map((g) => {
      const head = [g.zone === lastZone ? '' : g.zone, g.row ? `row ${g.row}` : ''].filter(Boolean);
      lastZone = g.zone;
      const runs = joinRuns(g.numbers);
      const many = g.numbers.length > 1;
      return [...head, `${many ? 'seats' : 'seat'} ${runs}`].join(', ');
    })
    .join('; ');
}

/**
 * "5–7, 9" from 5, 6, 7, 9 (numbers that are not numbers are listed as they are).
 * @param {string[]} numbers
 */
function joinRuns(numbers) {
  const nums = numbers.map(Number);
  if (nums.some((n) => !Number.isInteger(n))) return numbers.join(', ');
  nums.sort((a, b) => a - b);
  /** @type {string[]} */
  const out = [];
  for (let i = 0; i < nums.length;) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === /** @type {number} */ (nums[j]) + 1) j++;
    out.push(i === j ? String(nums[i]) : `${nums[i]}–${nums[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}
