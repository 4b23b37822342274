// @ts-check
// Hold, pay, release: each a queued request, run to its end while the page shows its place in the
// queue; a refresh picks up the member's live hold and any request still in flight.
import { api, ApiError, currentSession, pollRequest, serverNow } from './api.js';
import { startCountdown, stopCountdown } from './countdown.js';
import { currentPage, describeSeats, price, seatName } from './page.js';
import { loadZone, paintSeat } from './seat-map.js';
import { refreshAllowance, remaining, updateSelection } from './selection.js';
import { $, clearError, el, input, reportError, showError, showNotice } from './ui.js';

/**
 * @typedef {import('./page.js').Page} Page
 * @typedef {import('./types.js').Seat} Seat
 * @typedef {import('./types.js').Hold} Hold
 * @typedef {import('./types.js').SeatRequest} SeatRequest
 */

/** @param {string} text */
function setRequestStatus(text) {
  const s = $('request-status');
  s.textContent = text;
  s.hidden = !text;
}

/** @param {SeatRequest} r */
function describeProgress(r) {
  const what = { hold: 'hold', confirm: 'payment', release: 'release' }[r.kind] ?? 'request';
  if (r.status === 'processing') return `Your ${what} is being processed…`;
  return r.position
    ? `Your ${what} request is in the queue: position ${r.position}.`
    : `Your ${what} request is queued.`;
}

/** @type {Record<string, string>} */
const REASONS = {
  'seat-unavailable': 'One of those seats was taken just before your request. Pick other seats.',
  'no-seats-together': 'There are not that many seats together any more. Try fewer seats or another zone.',
  'limit-exceeded': 'That would take you past the number of seats one person may have for this performance.',
  'hold-expired': 'Your hold expired before it could be completed.',
  'hold-not-found': 'That hold no longer exists.',
};

/** @param {Page} p */
function pendingKey(p) {
  return `ticketing.pending.${currentSession()?.memberId}.${p.id}`;
}

/** @param {Page} p */
function refreshAllowanceQuietly(p) {
  return refreshAllowance(p).catch((err) => p.signal.aborted || reportError(err));
}

/**
 * Runs one queued request (hold, confirm, release) to its end, showing its place in the queue.
 * @param {Page} p
 * @param {() => Promise<{ requestId: number, position?: number }>} start
 * @param {SeatRequest['kind']} kind
 * @returns {Promise<SeatRequest | null>}
 */
async function runRequest(p, start, kind) {
  p.busy = true;
  updateSelection(p);
  clearError();
  try {
    const accepted = await start();
    p.lastTouch = Date.now();
    sessionStorage.setItem(pendingKey(p), JSON.stringify({ requestId: accepted.requestId, kind }));
    setRequestStatus(
      describeProgress({
        requestId: accepted.requestId,
        kind,
        status: 'queued',
        position: accepted.position ?? 0,
      }),
    );
    return await finishRequest(p, accepted.requestId);
  } catch (err) {
    setRequestStatus('');
    if (err instanceof ApiError && err.code === 'not-admitted') {
      void p.regain();
      return null;
    }
    if (!p.signal.aborted) reportError(err);
    return null;
  } finally {
    p.busy = false;
    updateSelection(p);
  }
}

/**
 * @param {Page} p
 * @param {number} requestId
 */
async function finishRequest(p, requestId) {
  const r = await pollRequest(requestId, p.signal, (progress) =>
    setRequestStatus(describeProgress(progress)),
  );
  sessionStorage.removeItem(pendingKey(p));
  setRequestStatus('');
  return r;
}

/**
 * Asks for a hold: `{ seatIds }` for the seats picked, or any other body POST …/holds takes (best available).
 * @param {Page} p
 * @param {{ seatIds: number[] } | { best: { count: number, zoneId?: number, gradeId?: number, together?: true } }} body
 */
export async function requestHold(p, body) {
  if (p.busy || p.hold) return;
  const r = await runRequest(
    p,
    () => api('POST', `/api/performances/${p.id}/holds`, body, { signal: p.signal }),
    'hold',
  );
  if (r) await afterHold(p, r, 'best' in body ? body.best.zoneId : undefined);
}

export async function holdSelected() {
  const p = currentPage();
  if (!p) return;
  const seatIds = [...p.selected];
  if (!seatIds.length) return;
  if (seatIds.length > remaining(p))
    return showError(`You can still hold ${remaining(p)} of ${p.perf.maxSeatsPerMember}.`);
  await requestHold(p, { seatIds });
}

/**
 * @param {Page} p
 * @param {SeatRequest} r
 * @param {number} [zoneHint] the block asked for, where the seats most likely are
 */
async function afterHold(p, r, zoneHint) {
  if (r.status === 'succeeded' && r.hold) {
    p.selected.clear();
    // Seats the server picked (best available) may be in a block not on screen: the map turns to it.
    await showHeldZone(p, r.hold.seatIds, zoneHint).catch((err) => p.signal.aborted || reportError(err));
    showHold(p, r.hold);
    const seats = /** @type {Seat[]} */ (r.hold.seatIds.map((id) => p.seats.get(id)).filter(Boolean));
    showNotice(
      seats.length
        ? `${describeSeats(seats)}: held for you. Pay before the timer runs out.`
        : 'Your seats are held. Pay before the timer runs out.',
    );
    $('hold-panel').scrollIntoView({ block: 'start' });
    void refreshAllowanceQuietly(p);
  } else {
    showError(REASONS[r.reason ?? ''] ?? 'The hold was rejected.');
    if (r.reason === 'limit-exceeded')
      void refreshAllowance(p).then(({ held, bought }) =>
        showError(
          `One person may have ${p.perf.maxSeatsPerMember} seats of this performance; you have ${bought} bought and ${held} held.`,
        ),
      );
    // Live events normally say which seat went; a fresh snapshot makes sure.
    if (r.reason === 'seat-unavailable' && p.zoneId !== null)
      loadZone(p, p.zoneId).catch((err) => p.signal.aborted || reportError(err));
  }
}

/**
 * Shows the block of the held seats on the map, reading blocks in turn until the seats are known.
 * @param {Page} p
 * @param {number[]} seatIds
 * @param {number} [zoneHint]
 */
async function showHeldZone(p, seatIds, zoneHint) {
  const known = seatIds.map((id) => p.seatZone.get(id)).find((z) => z !== undefined);
  if (known !== undefined) {
    if (known !== p.zoneId) await loadZone(p, known);
    return;
  }
  const zones = p.perf.zones.map((z) => z.id).filter((id) => id !== p.zoneId);
  if (zoneHint !== undefined) zones.sort((a, b) => Number(b === zoneHint) - Number(a === zoneHint));
  for (const id of zones) {
    await loadZone(p, id);
    if (seatIds.some((id) => p.seats.has(id)) || p.signal.aborted) return;
  }
}

/** @param {SubmitEvent} event */
export async function payForHold(event) {
  event.preventDefault();
  const p = currentPage();
  if (!p?.hold || p.busy) return;
  const token = input('payment-token').value.trim();
  if (!token) {
    showError('Enter a card token.');
    return input('payment-token').focus();
  }
  const method = /** @type {HTMLSelectElement} */ ($('payment-method')).value;
  const holdId = p.hold.id;
  const r = await runRequest(
    p,
    () => api('POST', `/api/holds/${holdId}/confirm`, { payment: { method, token } }, { signal: p.signal }),
    'confirm',
  );
  if (r) afterConfirm(p, r);
}

/**
 * @param {Page} p
 * @param {SeatRequest} r
 */
function afterConfirm(p, r) {
  if (r.status === 'succeeded') {
    const n = r.tickets?.length ?? 0;
    clearHold(p);
    p.nav.go('#/tickets', { notice: `Payment complete: ${n} ticket${n === 1 ? '' : 's'} issued.` });
  } else {
    showError(
      `${REASONS[r.reason ?? ''] ?? 'The payment could not be completed.'} Your payment was not charged.`,
    );
    if (r.reason === 'hold-expired' || r.reason === 'hold-not-found') clearHold(p);
  }
}

export async function releaseHold() {
  const p = currentPage();
  if (!p?.hold || p.busy) return;
  const holdId = p.hold.id;
  const r = await runRequest(
    p,
    () => api('DELETE', `/api/holds/${holdId}`, undefined, { signal: p.signal }),
    'release',
  );
  if (r) afterRelease(p, r);
}

/**
 * @param {Page} p
 * @param {SeatRequest} r
 */
function afterRelease(p, r) {
  if (r.status === 'succeeded' || r.reason === 'hold-expired' || r.reason === 'hold-not-found') {
    clearHold(p);
    showNotice('Your seats were released.');
  } else showError(REASONS[r.reason ?? ''] ?? 'The seats could not be released.');
}

/**
 * After a refresh: the member's live hold and any request still in flight come back.
 * @param {Page} p
 */
export async function restoreHold(p) {
  /** @type {{ items: Hold[] }} */
  const { items } = await api('GET', '/api/me/holds', undefined, { signal: p.signal });
  const live = items.filter(
    (h) => h.performanceId === p.id && h.status === 'held' && Date.parse(h.expiresAt) > serverNow(),
  );
  const last = live[live.length - 1];
  if (last) {
    await showHeldZone(p, last.seatIds);
    showHold(p, last);
  }
  const pending = JSON.parse(sessionStorage.getItem(pendingKey(p)) ?? 'null');
  if (!pending) return;
  p.busy = true;
  updateSelection(p);
  try {
    const r = await finishRequest(p, pending.requestId);
    if (pending.kind === 'hold') await afterHold(p, r);
    else if (pending.kind === 'confirm') afterConfirm(p, r);
    else afterRelease(p, r);
  } catch (err) {
    sessionStorage.removeItem(pendingKey(p));
    if (!p.signal.aborted && !(err instanceof ApiError && err.status === 404)) reportError(err);
  } finally {
    p.busy = false;
    updateSelection(p);
  }
}

/**
 * @param {Page} p
 * @param {Hold} hold
 */
function showHold(p, hold) {
  p.hold = hold;
  const seats = /** @type {Seat[]} */ (hold.seatIds.map((id) => p.seats.get(id)).filter(Boolean));
  $('hold-seats').replaceChildren(
    ...seats.map((s) =>
      el(
        'li',
        { 'data-testid': 'hold-seat' },
        el('span', { text: `${seatName(s)} (${s.grade})` }),
        el('span', { text: price(p, s.price) }),
      ),
    ),
  );
  $('hold-total').textContent = price(
    p,
    seats.reduce((sum, s) => sum + s.price, 0),
  );
  $('hold-panel').hidden = false;
  for (const id of hold.seatIds) paintSeat(p, id);
  updateSelection(p);
  startCountdown(Date.parse(hold.expiresAt), {
    // A person paying is active: keep the admission while the hold lasts.
    onTick: () => p.touch(),
    onExpired: () => {
      clearHold(p);
      showError('Your hold expired and the seats were released. Pick seats again.');
    },
  });
}

/** @param {Page} p */
export function clearHold(p) {
  const ids = p.hold?.seatIds ?? [];
  p.hold = null;
  stopCountdown();
  $('hold-panel').hidden = true;
  input('payment-token').value = '';
  for (const id of ids) paintSeat(p, id);
  updateSelection(p);
  void refreshAllowanceQuietly(p);
}
