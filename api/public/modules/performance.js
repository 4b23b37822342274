// @ts-check
// One performance: details (public), then the waiting room, the seat map by zone (live), hold and payment.
import { api, ApiError, currentSession, pollRequest, serverNow, sleep } from './api.js';
import { waitInLine } from './line.js';
import {
  $,
  button,
  clearError,
  el,
  formatClock,
  formatDate,
  formatPrice,
  input,
  reportError,
  showError,
  showNotice,
} from './ui.js';

/**
 * @typedef {import('./types.js').Seat} Seat
 * @typedef {import('./types.js').SeatStatus} SeatStatus
 * @typedef {import('./types.js').Hold} Hold
 * @typedef {import('./types.js').SeatRequest} SeatRequest
 * @typedef {import('./types.js').WaitingStatus} WaitingStatus
 * @typedef {import('./types.js').PerformanceDetail} PerformanceDetail
 * @typedef {{ go: (hash: string, flash?: { notice?: string, error?: string }) => void,
 *   logIn: (returnTo: string) => void }} Navigator
 * @typedef {{
 *   id: number, signal: AbortSignal, perf: PerformanceDetail, nav: Navigator,
 *   seats: Map<number, Seat>, buttons: Map<number, HTMLButtonElement>, selected: Set<number>,
 *   zoneId: number | null, hold: Hold | null, busy: boolean, admitted: boolean,
 *   lastTouch: number, touchEveryMs: number, events: EventSource | null,
 *   loading: boolean, buffered: { seatId: number, status: SeatStatus }[] }} Page
 */

const KEEP_ADMISSION_MS = 20_000;
const STATUSES = ['available', 'held', 'sold'];

/** @type {Page | null} */
let page = null;

/**
 * @param {number} id
 * @param {AbortSignal} signal
 * @param {Navigator} nav
 */
export async function showPerformance(id, signal, nav) {
  for (const part of ['waiting-room', 'seat-area', 'hold-panel', 'request-status', 'join-panel', 'sold-out'])
    $(part).hidden = true;
  $('seat-map').replaceChildren();
  $('zone-picker').replaceChildren();
  $('performance-name').textContent = 'Loading…';
  $('performance-meta').textContent = '';
  $('performance-availability').textContent = '';

  /** @type {PerformanceDetail} */
  const perf = await api('GET', `/api/performances/${id}`, undefined, { signal, auth: false });
  /** @type {Page} */
  const p = {
    id,
    signal,
    perf,
    nav,
    seats: new Map(),
    buttons: new Map(),
    selected: new Set(),
    zoneId: null,
    hold: null,
    busy: false,
    admitted: false,
    lastTouch: 0,
    touchEveryMs: KEEP_ADMISSION_MS,
    events: null,
    loading: true, // seat events wait in `buffered` until the zone's snapshot is in
    buffered: [],
  };
  page = p;
  $('performance-name').textContent = perf.name;
  $('performance-meta').textContent = `${perf.place} · ${formatDate(perf.showtime)}`;
  $('performance-availability').textContent = perf.soldOut
    ? 'Sold out'
    : `${perf.availableCount.toLocaleString()} of ${perf.seatCount.toLocaleString()} seats available`;
  document.title = `${perf.name} · Ticketing`;
  signal.addEventListener('abort', () => {
    document.title = 'Ticketing';
    p.events?.close();
    stopCountdown();
  });
  if (perf.soldOut) return showSoldOut();
  if (!currentSession()) {
    // Anyone may look; the line is for members: logging in comes with joining it.
    $('join-panel').hidden = false;
    return;
  }
  await waitForAdmission(p);
  if (!p.admitted) return;
  renderZonePicker(p);
  // Subscribe first, then read the snapshot: every change after the snapshot arrives as an event.
  await openSeatEvents(p);
  const first = perf.zones.find((z) => (z.availableCount ?? 1) > 0) ?? perf.zones[0];
  if (first) await loadZone(p, first.id);
  await restoreHold(p);
}

/** @param {Navigator} nav */
export function joinLine(nav) {
  nav.logIn(location.hash);
}

function showSoldOut() {
  $('waiting-room').hidden = true;
  $('seat-area').hidden = true;
  $('sold-out').hidden = false;
}

// ---------------------------------------------------------------- waiting room

/**
 * Stands in the line (see line.js) until admitted, then shows the seat map.
 * @param {Page} p
 */
async function waitForAdmission(p) {
  p.admitted = false;
  updateSelection(p);
  const status = await waitInLine(p.id, p.signal);
  if (status.status === 'sold-out') return showSoldOut();
  $('waiting-room').hidden = true;
  $('seat-area').hidden = false;
  p.admitted = true;
  p.lastTouch = Date.now();
  // admittedUntil tells how long the server waits for activity before giving the slot away.
  const idleMs = Date.parse(status.admittedUntil ?? '') - serverNow();
  if (idleMs > 0) p.touchEveryMs = Math.max(1000, Math.min(KEEP_ADMISSION_MS, idleMs / 3));
  updateSelection(p);
}

/**
 * Admission lapsed (idle too long): back to the line, keeping the seat map and any hold.
 * @param {Page} p
 */
async function regainAdmission(p) {
  showNotice('Your turn at the seat map ran out after a period of inactivity, so you are back in line.');
  try {
    await waitForAdmission(p);
    if (!p.admitted) return;
    showNotice('');
    if (p.zoneId !== null) await loadZone(p, p.zoneId);
  } catch (err) {
    if (!p.signal.aborted) reportError(err);
  }
}

/**
 * Counts as activity, so a person who is busy on the seat map keeps the admission.
 * @param {Page} p
 */
async function keepAdmission(p) {
  if (!p.admitted || Date.now() - p.lastTouch < p.touchEveryMs) return;
  p.lastTouch = Date.now();
  try {
    /** @type {WaitingStatus} */
    const s = await api('GET', `/api/performances/${p.id}/waiting`, undefined, { signal: p.signal });
    if (s.status !== 'admitted') await regainAdmission(p);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not-in-line') await regainAdmission(p);
  }
}

// ---------------------------------------------------------------- live seat map, one zone at a time

/**
 * Resolves once the stream is open (or has failed to open: the seat map works without it).
 * @param {Page} p
 * @param {string} [lastEventId]
 * @param {number} [attempt]
 * @returns {Promise<void>}
 */
function openSeatEvents(p, lastEventId, attempt = 0) {
  const session = currentSession();
  if (p.signal.aborted || !session) return Promise.resolve();
  const live = $('live-status');
  let url = `/api/performances/${p.id}/seats/events?access_token=${encodeURIComponent(session.token)}`;
  if (lastEventId) url += `&lastEventId=${encodeURIComponent(lastEventId)}`;
  const es = new EventSource(url);
  p.events = es;
  let last = lastEventId;
  /** @param {string} state @param {string} text */
  const setLive = (state, text) => {
    live.dataset['state'] = state;
    live.textContent = text;
  };
  setLive('connecting', 'Connecting…');
  es.addEventListener('open', () => {
    attempt = 0;
    setLive('live', 'Live');
  });
  es.addEventListener('seat', (e) => {
    if (e.lastEventId) last = e.lastEventId;
    let change;
    try {
      change = JSON.parse(e.data);
    } catch {
      return; // a malformed event changes nothing
    }
    if (p.loading) p.buffered.push(change);
    else applySeatStatus(p, change.seatId, change.status);
  });
  // Too far behind for the server to replay: the seat map is read again from the current id on.
  es.addEventListener('reload', (e) => {
    if (e.lastEventId) last = e.lastEventId;
    if (p.admitted && !p.signal.aborted && p.zoneId !== null) loadZone(p, p.zoneId).catch(() => undefined);
  });
  es.addEventListener('error', () => {
    if (es.readyState === EventSource.CONNECTING) return setLive('connecting', 'Reconnecting…');
    // Closed for good (the server refused): try again from the last event seen, checking the session.
    setLive('down', 'Live updates paused');
    es.close();
    sleep(Math.min(60_000, 3000 * 2 ** attempt), p.signal)
      .then(() => api('GET', '/api/me/holds', undefined, { signal: p.signal }))
      .then(() => openSeatEvents(p, last, attempt + 1))
      .then(() => {
        // Without an event id to resume from, only a fresh snapshot is sure to be current.
        if (!last && p.admitted && !p.signal.aborted && p.zoneId !== null) return loadZone(p, p.zoneId);
      })
      .catch(() => undefined);
  });
  return new Promise((resolve) => {
    es.addEventListener('open', () => resolve(), { once: true });
    es.addEventListener('error', () => resolve(), { once: true });
    setTimeout(resolve, 5000);
  });
}

/** @param {Page} p */
function renderZonePicker(p) {
  $('zone-picker').replaceChildren(
    ...p.perf.zones.map((z) =>
      el(
        'button',
        {
          type: 'button',
          className: 'zone-option',
          'data-testid': 'zone-option',
          'data-zone-id': z.id,
          'aria-pressed': 'false',
          onclick: () => {
            loadZone(p, z.id).catch((err) => p.signal.aborted || reportError(err));
            keepAdmission(p);
          },
        },
        el('span', { className: 'zone-name', text: z.name }),
        z.availableCount === undefined
          ? null
          : el('span', {
              className: 'zone-left',
              text: z.availableCount ? `${z.availableCount} left` : 'full',
            }),
      ),
    ),
  );
}

/**
 * Reads one zone's seats (a few KB even in a stadium) and draws its rows facing the stage.
 * @param {Page} p
 * @param {number} zoneId
 */
async function loadZone(p, zoneId) {
  p.loading = true;
  p.buffered = [];
  p.zoneId = zoneId;
  for (const b of $('zone-picker').querySelectorAll('button'))
    b.setAttribute('aria-pressed', String(b.dataset['zoneId'] === String(zoneId)));
  /** @type {{ items: Seat[] }} */
  const { items } = await api('GET', `/api/performances/${p.id}/seats?zone=${zoneId}`, undefined, {
    signal: p.signal,
  });
  if (p.zoneId !== zoneId) return; // another zone was picked meanwhile
  p.lastTouch = Date.now();
  for (const s of items) p.seats.set(s.id, s);
  p.buttons = new Map();
  /** @type {Map<string, Seat[]>} */
  const rows = new Map();
  for (const s of items) {
    const row = s.row ?? '';
    if (!rows.has(row)) rows.set(row, []);
    rows.get(row)?.push(s);
  }
  const zoneName = items[0]?.zone ?? '';
  $('seat-map').replaceChildren(
    el('div', { className: 'stage', 'data-testid': 'stage', text: 'Stage' }),
    el(
      'section',
      { className: 'zone', 'data-testid': 'zone-seats', 'aria-label': `Seats of ${zoneName}` },
      el('h3', { text: zoneName }),
      ...[...rows].map(([row, seats]) =>
        el(
          'div',
          {
            className: 'seat-row',
            'data-testid': 'seat-row',
            role: 'group',
            'aria-label': row ? `Row ${row}` : zoneName,
          },
          el('span', { className: 'row-label', 'aria-hidden': 'true', text: row }),
          el('div', { className: 'row-seats' }, ...seats.map((s) => renderSeat(p, s))),
        ),
      ),
    ),
  );
  // Events that came in while the snapshot was read, in order: the last one per seat wins.
  p.loading = false;
  for (const change of p.buffered.splice(0)) applySeatStatus(p, change.seatId, change.status);
  for (const id of [...p.selected]) if (p.seats.get(id)?.status !== 'available') p.selected.delete(id);
  updateSelection(p);
}

/**
 * @param {Page} p
 * @param {Seat} s
 */
function renderSeat(p, s) {
  const b = /** @type {HTMLButtonElement} */ (
    el('button', {
      type: 'button',
      className: 'seat',
      'data-testid': `seat-${s.id}`,
      'data-seat-id': s.id,
      'data-code': s.code,
      'data-grade': s.grade,
      text: s.number === undefined ? s.code : String(s.number),
      onclick: () => toggleSeat(p, s.id),
    })
  );
  p.buttons.set(s.id, b);
  paintSeat(p, s.id);
  return b;
}

/**
 * @param {Page} p
 * @param {number} seatId
 * @param {SeatStatus} status
 */
function applySeatStatus(p, seatId, status) {
  const seat = p.seats.get(seatId);
  if (!seat || !STATUSES.includes(status)) return; // a seat of a zone not loaded
  seat.status = status;
  if (status !== 'available' && p.selected.delete(seatId)) {
    showNotice(`Seat ${seat.code} was just taken by someone else and was removed from your selection.`);
    updateSelection(p);
  }
  paintSeat(p, seatId);
}

/** @param {Page} p */
function price(p, /** @type {number} */ n) {
  return formatPrice(n, p.perf.currency);
}

/**
 * @param {Page} p
 * @param {number} seatId
 */
function paintSeat(p, seatId) {
  const seat = p.seats.get(seatId);
  const b = p.buttons.get(seatId);
  if (!seat || !b) return;
  const mine = !!p.hold && p.hold.seatIds.includes(seatId) && seat.status !== 'available';
  const selected = p.selected.has(seatId);
  b.dataset['status'] = seat.status;
  b.classList.toggle('mine', mine);
  b.classList.toggle('selected', selected);
  b.setAttribute('aria-pressed', String(selected));
  b.disabled = seat.status !== 'available';
  const state = mine ? 'held by you' : selected ? 'selected' : seat.status;
  const label = `${seat.zone}, ${seat.code}, ${seat.grade}, ${price(p, seat.price)}, ${state}`;
  b.setAttribute('aria-label', label);
  b.title = label;
}

/**
 * @param {Page} p
 * @param {number} seatId
 */
function toggleSeat(p, seatId) {
  const seat = p.seats.get(seatId);
  if (!seat || seat.status !== 'available') return;
  const max = p.perf.maxSeatsPerMember;
  clearError();
  if (p.selected.has(seatId)) p.selected.delete(seatId);
  else if (p.selected.size >= max) return showError(`You can pick up to ${max} seats at a time.`);
  else p.selected.add(seatId);
  paintSeat(p, seatId);
  updateSelection(p);
  keepAdmission(p);
}

/** @param {Page} p */
function updateSelection(p) {
  if (p !== page) return; // a request of a page already left
  const chosen = /** @type {Seat[]} */ ([...p.selected].map((id) => p.seats.get(id)).filter(Boolean));
  const total = chosen.reduce((sum, s) => sum + s.price, 0);
  $('selection-summary').textContent = chosen.length
    ? chosen.map((s) => `${s.zone} ${s.code}`).join(', ')
    : p.hold
      ? 'Pay for or release your held seats before picking others.'
      : `Pick up to ${p.perf.maxSeatsPerMember} available seats.`;
  $('selection-total').textContent = chosen.length ? price(p, total) : '';
  const hold = button('hold-button');
  hold.textContent = chosen.length
    ? `Hold ${chosen.length} seat${chosen.length > 1 ? 's' : ''}`
    : 'Hold seats';
  hold.disabled = !chosen.length || p.busy || !!p.hold || !p.admitted;
  button('pay-button').disabled = p.busy || !p.hold;
  button('release-button').disabled = p.busy || !p.hold;
}

// ---------------------------------------------------------------- hold, pay, release

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
  'limit-exceeded': 'That would take you past the number of seats one person may have for this performance.',
  'hold-expired': 'Your hold expired before it could be completed.',
  'hold-not-found': 'That hold no longer exists.',
};

/** @param {Page} p */
function pendingKey(p) {
  return `ticketing.pending.${currentSession()?.memberId}.${p.id}`;
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
      regainAdmission(p);
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

export async function holdSelected() {
  const p = page;
  if (!p) return;
  const seatIds = [...p.selected];
  if (!seatIds.length || p.busy) return;
  const r = await runRequest(
    p,
    () => api('POST', `/api/performances/${p.id}/holds`, { seatIds }, { signal: p.signal }),
    'hold',
  );
  if (r) afterHold(p, r);
}

/**
 * @param {Page} p
 * @param {SeatRequest} r
 */
function afterHold(p, r) {
  if (r.status === 'succeeded' && r.hold) {
    p.selected.clear();
    showHold(p, r.hold);
    showNotice('Your seats are held. Pay before the timer runs out.');
    $('hold-panel').scrollIntoView({ block: 'start' });
  } else {
    showError(REASONS[r.reason ?? ''] ?? 'The hold was rejected.');
    // Live events normally say which seat went; a fresh snapshot makes sure.
    if (r.reason === 'seat-unavailable' && p.zoneId !== null)
      loadZone(p, p.zoneId).catch((err) => p.signal.aborted || reportError(err));
  }
}

/** @param {SubmitEvent} event */
export async function payForHold(event) {
  event.preventDefault();
  const p = page;
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
  const p = page;
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
async function restoreHold(p) {
  /** @type {{ items: Hold[] }} */
  const { items } = await api('GET', '/api/me/holds', undefined, { signal: p.signal });
  const live = items.filter(
    (h) => h.performanceId === p.id && h.status === 'held' && Date.parse(h.expiresAt) > serverNow(),
  );
  const last = live[live.length - 1];
  if (last) showHold(p, last);
  const pending = JSON.parse(sessionStorage.getItem(pendingKey(p)) ?? 'null');
  if (!pending) return;
  p.busy = true;
  updateSelection(p);
  try {
    const r = await finishRequest(p, pending.requestId);
    if (pending.kind === 'hold') afterHold(p, r);
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

// ---------------------------------------------------------------- the hold and its countdown

/** @type {ReturnType<typeof setInterval> | null} */
let countdown = null;

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
        el('span', { text: `${s.zone} · ${s.code} (${s.grade})` }),
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
  startCountdown(p, Date.parse(hold.expiresAt));
}

/** @param {Page} p */
function clearHold(p) {
  const ids = p.hold?.seatIds ?? [];
  p.hold = null;
  stopCountdown();
  $('hold-panel').hidden = true;
  input('payment-token').value = '';
  for (const id of ids) paintSeat(p, id);
  updateSelection(p);
}

/**
 * @param {Page} p
 * @param {number} expiresAt
 */
function startCountdown(p, expiresAt) {
  stopCountdown();
  const out = $('hold-countdown');
  const tick = () => {
    const left = expiresAt - serverNow();
    out.textContent = formatClock(left);
    out.parentElement?.classList.toggle('urgent', left < 60_000);
    if (left <= 0) {
      stopCountdown();
      clearHold(p);
      showError('Your hold expired and the seats were released. Pick seats again.');
    }
  };
  tick();
  countdown = setInterval(() => {
    tick();
    // A person paying is active: keep the admission while the hold lasts.
    keepAdmission(p);
  }, 1000);
}

function stopCountdown() {
  if (countdown) clearInterval(countdown);
  countdown = null;
}
