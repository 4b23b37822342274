// @ts-check
// The live seat map: one zone at a time, its seats kept current by the seat events (SSE), and the
// availability counters (the performance's and each zone's) following the same events.
import { api, currentSession, sleep } from './api.js';
import { price, seatName, seatNumber } from './page.js';
import { $, el, reportError, showNotice } from './ui.js';

/**
 * @typedef {import('./page.js').Page} Page
 * @typedef {import('./types.js').Seat} Seat
 * @typedef {import('./types.js').SeatStatus} SeatStatus
 */

const STATUSES = ['available', 'held', 'sold'];
/** A change in a zone not read yet is counted from the server's figures, read at most this often. */
const RECOUNT_MS = 1500;
/** Seats narrower than this are hard to hit (a finger needs more than a mouse): below it the row scrolls instead of shrinking. */
const MIN_SEAT_PX = { touch: 28, mouse: 20 };
const MAX_SEAT_PX = 34;

/**
 * Resolves once the stream is open (or has failed to open: the seat map works without it).
 * @param {Page} p
 * @param {string} [lastEventId]
 * @param {number} [attempt]
 * @returns {Promise<void>}
 */
export function openSeatEvents(p, lastEventId, attempt = 0) {
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
    scheduleRecount(p);
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

// ---------------------------------------------------------------- counters

/** @param {Page} p */
export function renderCounters(p) {
  const { perf } = p;
  $('performance-availability').textContent = perf.soldOut
    ? 'Sold out'
    : `${perf.availableCount.toLocaleString()} of ${perf.seatCount.toLocaleString()} seats available`;
  for (const b of $('zone-picker').querySelectorAll('button')) {
    const zone = perf.zones.find((z) => String(z.id) === b.dataset['zoneId']);
    const left = b.querySelector('.zone-left');
    if (zone?.availableCount !== undefined && left)
      left.textContent = zone.availableCount ? `${zone.availableCount.toLocaleString()} left` : 'full';
  }
}

/** @type {WeakMap<Page, ReturnType<typeof setTimeout>>} */
const recounts = new WeakMap();

/**
 * The server's counts, read once after a burst of changes the page cannot place (a seat of a zone
 * never read): they also correct any drift of the counts kept from events.
 * @param {Page} p
 */
function scheduleRecount(p) {
  if (recounts.has(p) || p.signal.aborted) return;
  recounts.set(
    p,
    setTimeout(() => {
      recounts.delete(p);
      api('GET', `/api/performances/${p.id}`, undefined, { signal: p.signal, auth: false })
        .then((/** @type {import('./types.js').PerformanceDetail} */ fresh) => {
          p.perf.availableCount = fresh.availableCount;
          p.perf.seatCount = fresh.seatCount;
          p.perf.soldOut = fresh.soldOut;
          p.perf.zones = fresh.zones;
          renderCounters(p);
        })
        .catch(() => undefined);
    }, RECOUNT_MS),
  );
}

/**
 * Moves the counters by one seat's change. Seats only go available → held → sold or held →
 * available, so the performance's count follows from the new status alone; a zone's needs the
 * seat's zone, known for the zones read.
 * @param {Page} p
 * @param {number} seatId
 * @param {SeatStatus | undefined} before
 * @param {SeatStatus} after
 */
function countChange(p, seatId, before, after) {
  // An unknown seat's status before: held before it turns sold or available, available before held.
  const was = before === undefined ? after === 'held' : before === 'available';
  const is = after === 'available';
  if (was === is) return;
  const delta = is ? 1 : -1;
  p.perf.availableCount = Math.max(0, p.perf.availableCount + delta);
  const zoneId = p.seatZone.get(seatId);
  const zone = zoneId === undefined ? undefined : p.perf.zones.find((z) => z.id === zoneId);
  if (zone && zone.availableCount !== undefined)
    zone.availableCount = Math.max(0, zone.availableCount + delta);
  else scheduleRecount(p);
  renderCounters(p);
}

// ---------------------------------------------------------------- zones and seats

/** @param {Page} p */
export function renderZonePicker(p) {
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
            p.touch();
          },
        },
        el('span', { className: 'zone-name', text: z.name }),
        z.availableCount === undefined
          ? null
          : el('span', { className: 'zone-left', 'data-testid': 'zone-left' }),
      ),
    ),
  );
  renderCounters(p);
}

/**
 * Reads one zone's seats (a few KB even in a stadium) and draws its rows facing the stage.
 * @param {Page} p
 * @param {number} zoneId
 */
export async function loadZone(p, zoneId) {
  const load = ++p.zoneLoads;
  p.loading = true;
  p.buffered = [];
  p.zoneId = zoneId;
  for (const b of $('zone-picker').querySelectorAll('button'))
    b.setAttribute('aria-pressed', String(b.dataset['zoneId'] === String(zoneId)));
  /** @type {{ items: Seat[] }} */
  const { items } = await api('GET', `/api/performances/${p.id}/seats?zone=${zoneId}`, undefined, {
    signal: p.signal,
  });
  if (p.zoneLoads !== load) return; // read again or another zone picked meanwhile: the latest draws
  p.lastTouch = Date.now();
  for (const s of items) {
    p.seats.set(s.id, s);
    p.seatZone.set(s.id, zoneId);
  }
  // The snapshot is the zone's truth: its counter starts from it.
  const zone = p.perf.zones.find((z) => z.id === zoneId);
  if (zone) zone.availableCount = items.filter((s) => s.status === 'available').length;
  p.buttons = new Map();
  /** @type {Map<string, Seat[]>} */
  const rows = new Map();
  for (const s of items) {
    const row = s.row ?? '';
    if (!rows.has(row)) rows.set(row, []);
    rows.get(row)?.push(s);
  }
  const zoneName = items[0]?.zone ?? '';
  const widest = Math.max(0, ...[...rows.values()].map((r) => r.length));
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
            'aria-label': row ? `${zoneName}, row ${row}` : zoneName,
          },
          row ? el('span', { className: 'row-label', 'aria-hidden': 'true', text: row }) : null,
          el('div', { className: 'row-seats' }, ...seats.map((s) => renderSeat(p, s))),
        ),
      ),
    ),
  );
  $('seat-map').dataset['widest'] = String(widest);
  fitRows();
  // Events that came in while the snapshot was read, in order: the last one per seat wins.
  p.loading = false;
  for (const change of p.buffered.splice(0)) applySeatStatus(p, change.seatId, change.status);
  for (const id of [...p.selected]) if (p.seats.get(id)?.status !== 'available') p.selected.delete(id);
  renderCounters(p);
  p.selectionChanged();
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
      text: seatNumber(s),
      onclick: () => p.toggle(s.id),
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
export function applySeatStatus(p, seatId, status) {
  if (!STATUSES.includes(status)) return;
  const seat = p.seats.get(seatId);
  countChange(p, seatId, seat?.status, status);
  if (!seat) return; // a seat of a zone not loaded
  seat.status = status;
  if (status !== 'available' && p.selected.delete(seatId)) {
    showNotice(`${seatName(seat)} was just taken by someone else and was removed from your selection.`);
    p.selectionChanged();
  }
  paintSeat(p, seatId);
}

/**
 * @param {Page} p
 * @param {number} seatId
 */
export function paintSeat(p, seatId) {
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
  const label = `Seat ${seatNumber(seat)}, ${seat.grade}, ${price(p, seat.price)}, ${state}`;
  b.setAttribute('aria-label', label);
  b.title = `${seatName(seat)}: ${seat.grade}, ${price(p, seat.price)}, ${state}`;
}

// ---------------------------------------------------------------- fitting rows to the screen

/**
 * Shrinks the seats so the widest row fits, down to a size a finger can still hit; past that the
 * map scrolls sideways and says so (the cue and its arrows).
 */
export function fitRows() {
  const map = $('seat-map');
  const widest = Number(map.dataset['widest'] ?? 0);
  if (!widest || !map.clientWidth) return updateScrollCue();
  // Per seat: its width plus the gap; the row label and the map's padding come off first.
  const room = map.clientWidth - 40;
  const size = Math.floor(room / widest) - 3;
  const min = window.matchMedia('(pointer: coarse)').matches ? MIN_SEAT_PX.touch : MIN_SEAT_PX.mouse;
  map.style.setProperty('--seat-size', `${Math.max(min, Math.min(MAX_SEAT_PX, size))}px`);
  updateScrollCue();
}

export function updateScrollCue() {
  const map = $('seat-map');
  const cue = $('seat-scroll-cue');
  const hidden = map.scrollWidth - map.clientWidth;
  if (hidden <= 1) {
    cue.hidden = true;
    map.dataset['more'] = '';
    return;
  }
  const atStart = map.scrollLeft <= 1;
  const atEnd = map.scrollLeft >= hidden - 1;
  map.dataset['more'] = atStart ? 'right' : atEnd ? 'left' : 'both';
  cue.hidden = false;
  $('seat-scroll-text').textContent = atEnd
    ? 'These are the last seats of the row: scroll back for the first ones.'
    : `The rows are wider than the screen: scroll sideways for the other seats (${map.dataset['widest']} in the widest row).`;
  /** @type {HTMLButtonElement} */ ($('seat-scroll-left')).disabled = atStart;
  /** @type {HTMLButtonElement} */ ($('seat-scroll-right')).disabled = atEnd;
}

/** @param {-1 | 1} direction */
export function scrollSeats(direction) {
  const map = $('seat-map');
  map.scrollBy({ left: direction * map.clientWidth * 0.8, behavior: 'smooth' });
}
