// @ts-check
// The seats a person picks, within their allowance: a member may have MAX_SEATS_PER_MEMBER seats of
// a performance, held and bought together, and the page stops the selection there, before any request.
import { api, serverNow } from './api.js';
import { currentPage, describeSeats, price } from './page.js';
import { paintSeat } from './seat-map.js';
import { $, button, clearError, el, showError } from './ui.js';

/**
 * @typedef {import('./page.js').Page} Page
 * @typedef {import('./types.js').Seat} Seat
 * @typedef {import('./types.js').Hold} Hold
 * @typedef {import('./types.js').Ticket} Ticket
 */

/**
 * Seats the member may still add: the allowance minus what they hold and bought (unknown: the allowance).
 * @param {Page} p
 */
export function remaining(p) {
  return Math.max(0, p.perf.maxSeatsPerMember - (p.owned ?? 0));
}

/**
 * Reads the member's holds and tickets: their seats of this performance count against the allowance.
 * @param {Page} p
 */
export async function refreshAllowance(p) {
  /** @type {[{ items: Hold[] }, { items: Ticket[] }]} */
  const [holds, tickets] = await Promise.all([
    api('GET', '/api/me/holds', undefined, { signal: p.signal }),
    api('GET', '/api/me/tickets', undefined, { signal: p.signal }),
  ]);
  const held = holds.items
    .filter((h) => h.performanceId === p.id && h.status === 'held' && Date.parse(h.expiresAt) > serverNow())
    .reduce((n, h) => n + h.seatIds.length, 0);
  const bought = tickets.items.filter((t) => t.performanceId === p.id).length;
  p.owned = held + bought;
  // A selection made before the figures came in may be over the allowance now.
  for (const id of [...p.selected].slice(remaining(p))) p.selected.delete(id);
  for (const id of p.buttons.keys()) paintSeat(p, id);
  updateSelection(p);
  return { held, bought };
}

/** @param {Page} p */
function allowanceText(p) {
  const max = p.perf.maxSeatsPerMember;
  if (p.owned === null) return `Up to ${max} seats per person for this performance.`;
  const left = remaining(p);
  const have = p.owned ? ` You already have ${p.owned} (held or bought).` : '';
  if (!left) return `You have all ${max} seats one person may have for this performance.`;
  return `You can still hold ${left} of ${max}.${have}`;
}

/**
 * @param {Page} p
 * @param {number} seatId
 */
export function toggleSeat(p, seatId) {
  const seat = p.seats.get(seatId);
  if (!seat || seat.status !== 'available') return;
  clearError();
  if (p.selected.has(seatId)) p.selected.delete(seatId);
  else if (p.hold) return showError('Pay for or release your held seats before picking others.');
  else if (p.selected.size >= remaining(p)) {
    const max = p.perf.maxSeatsPerMember;
    return showError(
      remaining(p)
        ? `You can still hold ${remaining(p)} of ${max}: unselect a seat to pick another.`
        : `You already have ${p.owned} of the ${max} seats one person may have for this performance.`,
    );
  } else p.selected.add(seatId);
  paintSeat(p, seatId);
  updateSelection(p);
  p.touch();
}

/** @param {Page} p */
export function updateSelection(p) {
  if (p !== currentPage()) return; // a request of a page already left
  const chosen = /** @type {Seat[]} */ ([...p.selected].map((id) => p.seats.get(id)).filter(Boolean));
  const total = chosen.reduce((sum, s) => sum + s.price, 0);
  const left = remaining(p);
  const held = /** @type {Seat[]} */ ((p.hold?.seatIds ?? []).map((id) => p.seats.get(id)).filter(Boolean));
  $('selection-summary').textContent = chosen.length
    ? describeSeats(chosen)
    : p.hold
      ? held.length
        ? `Held for you: ${describeSeats(held)}. Pay for or release them before picking others.`
        : 'Pay for or release your held seats before picking others.'
      : left
        ? `Pick up to ${left} available seat${left === 1 ? '' : 's'}.`
        : 'You cannot hold more seats of this performance.';
  $('allowance').textContent = allowanceText(p);
  $('allowance').dataset['left'] = String(left);
  $('selection-total').textContent = chosen.length ? price(p, total) : '';
  const hold = button('hold-button');
  hold.textContent = chosen.length
    ? `Hold ${chosen.length} seat${chosen.length > 1 ? 's' : ''}`
    : 'Hold seats';
  hold.disabled = !chosen.length || chosen.length > left || p.busy || !!p.hold || !p.admitted;
  updateBestForm(p, left);
  button('pay-button').disabled = p.busy || !p.hold;
  button('release-button').disabled = p.busy || !p.hold;
}

/**
 * The best-available form asks for 1 up to the seats the member may still add.
 * @param {Page} p
 * @param {number} left
 */
function updateBestForm(p, left) {
  const count = /** @type {HTMLSelectElement} */ ($('best-count'));
  if (count.options.length !== left) {
    const was = Number(count.value) || 2;
    count.replaceChildren(
      ...Array.from({ length: left }, (_, i) => el('option', { value: i + 1, text: String(i + 1) })),
    );
    if (left) count.value = String(Math.min(was, left));
  }
  count.disabled = !left;
  button('best-submit').disabled = !left || p.busy || !!p.hold || !p.admitted;
}
