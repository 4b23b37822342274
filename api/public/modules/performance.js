// @ts-check
// One performance: details (public), then the waiting room (line.js), and once admitted the live
// seat map (seat-map.js), the selection within the allowance (selection.js), hold and payment
// (hold.js) with its countdown (countdown.js). This module wires them and keeps the admission.
import { api, ApiError, currentSession, serverNow } from './api.js';
import { renderBestForm } from './best.js';
import { stopCountdown } from './countdown.js';
import { restoreHold } from './hold.js';
import { waitInLine } from './line.js';
import { setCurrentPage } from './page.js';
import {
  fitRows,
  loadZone,
  openSeatEvents,
  renderCounters,
  renderZonePicker,
  scrollSeats,
  updateScrollCue,
} from './seat-map.js';
import { refreshAllowance, toggleSeat, updateSelection } from './selection.js';
import { $, formatDate, reportError, showNotice } from './ui.js';

export { requestBest } from './best.js';
export { holdSelected, payForHold, releaseHold, requestHold } from './hold.js';

/**
 * @typedef {import('./page.js').Page} Page
 * @typedef {import('./page.js').Navigator} Navigator
 * @typedef {import('./types.js').WaitingStatus} WaitingStatus
 * @typedef {import('./types.js').PerformanceDetail} PerformanceDetail
 */

const KEEP_ADMISSION_MS = 20_000;

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
    seatZone: new Map(),
    buttons: new Map(),
    selected: new Set(),
    zoneId: null,
    hold: null,
    busy: false,
    admitted: false,
    owned: null,
    lastTouch: 0,
    touchEveryMs: KEEP_ADMISSION_MS,
    events: null,
    loading: true, // seat events wait in `buffered` until the zone's snapshot is in
    buffered: [],
    zoneLoads: 0,
    touch: () => void keepAdmission(p),
    regain: () => regainAdmission(p),
    toggle: (seatId) => toggleSeat(p, seatId),
    selectionChanged: () => updateSelection(p),
  };
  setCurrentPage(p);
  $('performance-name').textContent = perf.name;
  $('performance-meta').textContent = `${perf.place} · ${formatDate(perf.showtime)}`;
  renderCounters(p);
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
  renderBestForm(p);
  // Subscribe first, then read the snapshot: every change after the snapshot arrives as an event.
  await openSeatEvents(p);
  // A zone picked while the events were connecting is read again (its first read may predate
  // them); else the first zone with seats left.
  const first = perf.zones.find((z) => (z.availableCount ?? 1) > 0) ?? perf.zones[0];
  const zoneId = p.zoneId ?? first?.id;
  await Promise.all([zoneId !== undefined ? loadZone(p, zoneId) : undefined, refreshAllowance(p)]);
  await restoreHold(p);
}

/** @param {Navigator} nav */
export function joinLine(nav) {
  nav.logIn(location.hash);
}

/** The seat map's sideways scrolling: its arrows, its cue, and a new fit when the window changes. */
export function wireSeatMap() {
  $('seat-scroll-left').addEventListener('click', () => scrollSeats(-1));
  $('seat-scroll-right').addEventListener('click', () => scrollSeats(1));
  $('seat-map').addEventListener('scroll', updateScrollCue, { passive: true });
  window.addEventListener('resize', fitRows);
}

function showSoldOut() {
  $('waiting-room').hidden = true;
  $('seat-area').hidden = true;
  $('sold-out').hidden = false;
}

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
