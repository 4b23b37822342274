// The ticketing web client: plain ES module, no build step, talks only to this server's /api.
// Flow: log in -> performances -> waiting room -> live seat map -> hold -> payment -> tickets.

const MAX_SEATS = 4; // MAX_SEATS_PER_MEMBER's default; the server has the final word
const WAITING_POLL_MS = 2000;
const KEEP_ADMISSION_MS = 20_000;
const SESSION_KEY = 'ticketing.session';

const $ = (id) => document.getElementById(id);
const numberFormat = new Intl.NumberFormat();
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

// ---------------------------------------------------------------- session

let session = readSession();
let clockSkewMs = 0; // server clock minus ours, so countdowns match the server's expiry
let afterLogin = '#/performances';

function readSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    if (s && typeof s.token === 'string' && s.expiresAt > Date.now()) return s;
  } catch {
    /* a damaged entry is no session */
  }
  sessionStorage.removeItem(SESSION_KEY);
  return null;
}

function saveSession(s) {
  session = s;
  if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION_KEY);
  renderNav();
}

function renderNav() {
  const nav = document.querySelector('[data-testid="nav"]');
  nav.hidden = !session;
  document.querySelector('[data-testid="whoami"]').textContent = session ? session.email : '';
}

// ---------------------------------------------------------------- HTTP

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || 'unknown';
    this.title = problem.title || '';
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.retryAfter = Number(problem.retryAfter) || 0;
    this.sessionEnded = false;
  }
  /** What the person reads: the problem's detail, plus which fields were wrong. */
  get userMessage() {
    if (!this.errors.length) return this.message;
    const fields = this.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    return `${this.message} (${fields})`;
  }
  get transient() {
    return this.status === 0 || this.status === 429 || this.status === 503;
  }
}

async function api(method, path, body, { signal, auth = true } = {}) {
  const headers = { accept: 'application/json, application/problem+json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth && session) headers.authorization = `Bearer ${session.token}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, {
      title: 'Network error',
      detail: 'The server could not be reached. Check your connection.',
    });
  }
  const date = Date.parse(res.headers.get('date') ?? '');
  if (!Number.isNaN(date)) {
    // Date has whole seconds: only a clearly wrong local clock is corrected.
    const skew = date + 500 - Date.now();
    clockSkewMs = Math.abs(skew) > 2000 ? skew : 0;
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.ok) return data;
  const problem = data && typeof data === 'object' ? data : {};
  const err = new ApiError(res.status, { ...problem, retryAfter: res.headers.get('retry-after') });
  if (res.status === 401 && auth) {
    err.sessionEnded = true; // the login view tells the person; nobody else should
    endSession('Your session has ended. Please log in again.');
  }
  throw err;
}

function endSession(reason) {
  if (!session) return; // parallel requests all fail: the first one tells
  saveSession(null);
  afterLogin = location.hash && location.hash !== '#/login' ? location.hash : afterLogin;
  flash = { error: reason };
  if (location.hash === '#/login') render();
  else location.hash = '#/login';
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

function retryDelay(err) {
  return err.retryAfter > 0 ? err.retryAfter * 1000 : 2000;
}

/** Polls a queued request until it is final; `onProgress` sees each intermediate answer. */
async function pollRequest(requestId, signal, onProgress) {
  for (;;) {
    const started = Date.now();
    let r;
    try {
      r = await api('GET', `/api/requests/${requestId}?waitSeconds=5`, undefined, { signal });
    } catch (err) {
      if (!(err instanceof ApiError) || !err.transient) throw err;
      await sleep(retryDelay(err), signal);
      continue;
    }
    if (r.status === 'succeeded' || r.status === 'rejected') return r;
    onProgress(r);
    // The server holds the answer up to 5 s; a quick answer (a lagging read) should not spin.
    if (Date.now() - started < 300) await sleep(300, signal);
  }
}

// ---------------------------------------------------------------- messages

let flash = null;

function showError(text) {
  $('message-text').textContent = text;
  $('message').hidden = false;
}
function clearError() {
  $('message').hidden = true;
  $('message-text').textContent = '';
}
function showNotice(text) {
  $('notice').textContent = text;
  $('notice').hidden = !text;
}
function clearMessages() {
  clearError();
  showNotice('');
}
function reportError(err) {
  if (err instanceof ApiError) {
    if (!err.sessionEnded) showError(err.userMessage);
  } else if (err?.name !== 'AbortError') {
    console.error(err);
    showError('Something went wrong in this page. Reload it and try again.');
  }
}

// ---------------------------------------------------------------- DOM helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'className') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function formatPrice(n) {
  return numberFormat.format(n);
}

function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function formatClock(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

function setBusy(button, busy) {
  button.disabled = busy;
  button.setAttribute('aria-busy', String(busy));
}

// ---------------------------------------------------------------- routing

const VIEWS = ['login', 'performances', 'performance', 'tickets'];
let viewController = new AbortController();

function showView(name) {
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== name;
}

async function render() {
  viewController.abort(new DOMException('left the view', 'AbortError'));
  viewController = new AbortController();
  const { signal } = viewController;
  clearMessages();
  if (flash) {
    if (flash.error) showError(flash.error);
    if (flash.notice) showNotice(flash.notice);
    flash = null;
  }
  const hash = location.hash || '#/performances';
  if (!session && hash !== '#/login') {
    afterLogin = hash;
    location.replace('#/login');
    return;
  }
  try {
    let m;
    if (hash === '#/login') await showLogin();
    else if (hash === '#/tickets') await showTickets(signal);
    else if ((m = /^#\/performances\/(\d+)$/.exec(hash))) await showPerformance(Number(m[1]), signal);
    else if (hash === '#/performances') await showPerformances(signal);
    else location.replace('#/performances');
  } catch (err) {
    if (!signal.aborted) reportError(err);
  }
}

function go(hash, message) {
  if (message) flash = message;
  if (location.hash === hash) render();
  else location.hash = hash;
}

// ---------------------------------------------------------------- log in / sign up

async function showLogin() {
  if (session) return go(afterLogin);
  showView('login');
}

async function submitLogin(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const email = form.email.value.trim();
  const password = form.password.value;
  if (!email || !password) return showError('Enter your email and password.');
  const button = form.querySelector('button[type="submit"]');
  setBusy(button, true);
  try {
    const r = await api('POST', '/api/login', { email, password }, { auth: false });
    saveSession({
      token: r.accessToken,
      memberId: r.memberId,
      email,
      expiresAt: Date.now() + r.expiresIn * 1000,
    });
    form.reset();
    const target = afterLogin;
    afterLogin = '#/performances';
    go(target);
  } catch (err) {
    reportError(err);
  } finally {
    setBusy(button, false);
  }
}

async function submitSignup(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const email = form.email.value.trim();
  const password = form.password.value;
  if (!email) return showError('Enter an email address.');
  if (password.length < 8 || password.length > 72)
    return showError('The password must have 8 to 72 characters.');
  const button = form.querySelector('button[type="submit"]');
  setBusy(button, true);
  try {
    await api('POST', '/api/members', { email, password }, { auth: false });
    form.reset();
    clearError();
    showNotice('Your account is ready. Log in to continue.');
    $('login-email').value = email;
    $('login-password').focus();
  } catch (err) {
    reportError(err);
  } finally {
    setBusy(button, false);
  }
}

// ---------------------------------------------------------------- performances

async function showPerformances(signal) {
  showView('performances');
  const list = $('performance-list');
  list.setAttribute('aria-busy', 'true');
  const { items } = await api('GET', '/api/performances', undefined, { signal, auth: false });
  list.replaceChildren(
    ...items.map((p) =>
      el(
        'li',
        { className: 'card performance', 'data-testid': 'performance-item', 'data-performance-id': p.id },
        el('h2', { text: p.name }),
        el('p', { className: 'meta', text: `${p.place} · ${dateFormat.format(new Date(p.showtime))}` }),
        el('p', {
          className: p.availableCount ? 'availability' : 'availability sold-out',
          'data-testid': 'performance-availability',
          text: p.availableCount ? `${p.availableCount} of ${p.seatCount} seats available` : 'Sold out',
        }),
        el('a', {
          className: 'button primary',
          href: `#/performances/${p.id}`,
          'data-testid': 'performance-open',
          'aria-label': `Choose seats for ${p.name}`,
          text: 'Choose seats',
        }),
      ),
    ),
  );
  list.removeAttribute('aria-busy');
  $('performances-empty').hidden = items.length > 0;
}

// ---------------------------------------------------------------- tickets

async function showTickets(signal) {
  showView('tickets');
  const [{ items }, holds, performances] = await Promise.all([
    api('GET', '/api/me/tickets', undefined, { signal }),
    api('GET', '/api/me/holds', undefined, { signal }),
    api('GET', '/api/performances', undefined, { signal, auth: false }).catch(() => ({ items: [] })),
  ]);
  const names = new Map(performances.items.map((p) => [p.id, p.name]));
  const nameOf = (id) => names.get(id) ?? `Performance #${id}`;
  $('tickets-body').replaceChildren(
    ...items.map((t) =>
      el(
        'tr',
        { 'data-testid': 'ticket-row' },
        el('td', { 'data-testid': 'ticket-performance', text: nameOf(t.performanceId) }),
        el('td', { 'data-testid': 'ticket-seat', text: t.seatCode }),
        el('td', { className: 'num', 'data-testid': 'ticket-price', text: formatPrice(t.price) }),
        el('td', {}, el('code', { 'data-testid': 'ticket-serial', text: t.serial })),
      ),
    ),
  );
  $('tickets-table').hidden = items.length === 0;
  $('tickets-empty').hidden = items.length > 0;
  // Seats still held (the person left the seat map before paying): a way back to pay for them.
  const now = Date.now() + clockSkewMs;
  const live = holds.items.filter((h) => h.status === 'held' && Date.parse(h.expiresAt) > now);
  $('pending-list').replaceChildren(
    ...live.map((h) =>
      el(
        'li',
        { 'data-testid': 'pending-hold' },
        `${h.seatIds.length} seat${h.seatIds.length === 1 ? '' : 's'} for ${nameOf(h.performanceId)}, held until ${new Date(
          Date.parse(h.expiresAt) - clockSkewMs,
        ).toLocaleTimeString()}. `,
        el('a', { href: `#/performances/${h.performanceId}`, text: 'Continue to payment' }),
      ),
    ),
  );
  $('pending-holds').hidden = live.length === 0;
}

// ---------------------------------------------------------------- one performance

/** State of the performance page; replaced on every visit. */
let page = null;

async function showPerformance(id, signal) {
  page = {
    id,
    signal,
    seats: new Map(), // id -> seat
    buttons: new Map(), // id -> button
    selected: new Set(),
    hold: null,
    busy: false, // a hold/confirm/release request is in flight
    admitted: false,
    lastTouch: 0,
    touchEveryMs: KEEP_ADMISSION_MS,
    events: null,
    loading: true, // seat events wait in `buffered` until the snapshot is in
    buffered: [],
    grades: [],
  };
  showView('performance');
  $('waiting-room').hidden = true;
  $('seat-area').hidden = true;
  $('hold-panel').hidden = true;
  $('request-status').hidden = true;
  $('seat-map').replaceChildren();
  $('performance-name').textContent = 'Loading…';
  $('performance-meta').textContent = '';

  const perf = await api('GET', `/api/performances/${id}`, undefined, { signal, auth: false });
  $('performance-name').textContent = perf.name;
  $('performance-meta').textContent = `${perf.place} · ${dateFormat.format(new Date(perf.showtime))}`;
  page.grades = perf.grades;
  document.title = `${perf.name} · Ticketing`;
  const p = page;
  signal.addEventListener('abort', () => {
    document.title = 'Ticketing';
    p.events?.close();
    stopCountdown();
  });

  await waitForAdmission(p);
  // Subscribe first, then read the snapshot: every change after the snapshot arrives as an event.
  await openSeatEvents(p);
  await loadSeats(p);
  await restoreHold(p);
}

/** Joins the line (idempotent, so a refresh keeps the place) and polls every 2 s until admitted. */
async function waitForAdmission(p) {
  p.admitted = false;
  updateSelection(p);
  let status = await api('POST', `/api/performances/${p.id}/waiting`, undefined, { signal: p.signal });
  while (status.status !== 'admitted') {
    renderWaiting(status);
    await sleep(WAITING_POLL_MS, p.signal);
    try {
      status = await api('GET', `/api/performances/${p.id}/waiting`, undefined, { signal: p.signal });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.code === 'not-in-line') {
        status = await api('POST', `/api/performances/${p.id}/waiting`, undefined, { signal: p.signal });
      } else if (err.transient) {
        $('waiting-status').textContent = 'Connection trouble; still trying…';
        await sleep(retryDelay(err), p.signal);
      } else throw err;
    }
  }
  $('waiting-room').hidden = true;
  $('seat-area').hidden = false;
  p.admitted = true;
  p.lastTouch = Date.now();
  // admittedUntil tells how long the server waits for activity before giving the slot away.
  const idleMs = Date.parse(status.admittedUntil ?? '') - (Date.now() + clockSkewMs);
  if (idleMs > 0) p.touchEveryMs = Math.max(1000, Math.min(KEEP_ADMISSION_MS, idleMs / 3));
  updateSelection(p);
}

function renderWaiting(status) {
  $('waiting-room').hidden = false;
  $('seat-area').hidden = true;
  $('waiting-position').textContent = String(status.position);
  $('waiting-eta').textContent = status.etaSeconds > 0 ? formatDuration(status.etaSeconds) : 'any moment';
  $('waiting-ticket').textContent = `#${status.ticket}`;
  $('waiting-status').textContent = `Last checked ${new Date().toLocaleTimeString()}.`;
}

async function leaveLine() {
  if (!page) return;
  try {
    await api('DELETE', `/api/performances/${page.id}/waiting`);
    go('#/performances', { notice: 'You left the line.' });
  } catch (err) {
    reportError(err);
  }
}

/** Admission lapsed (idle too long): back to the line, keeping the seat map and any hold. */
async function regainAdmission(p) {
  showNotice('Your turn at the seat map ran out after a period of inactivity, so you are back in line.');
  try {
    await waitForAdmission(p);
    showNotice('');
    await loadSeats(p);
  } catch (err) {
    if (!p.signal.aborted) reportError(err);
  }
}

/** Counts as activity, so a person who is busy on the seat map keeps the admission. */
async function keepAdmission(p) {
  if (!p.admitted || Date.now() - p.lastTouch < p.touchEveryMs) return;
  p.lastTouch = Date.now();
  try {
    const s = await api('GET', `/api/performances/${p.id}/waiting`, undefined, { signal: p.signal });
    if (s.status !== 'admitted') await regainAdmission(p);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not-in-line') await regainAdmission(p);
  }
}

// ---------------------------------------------------------------- live seat map

/** Resolves once the stream is open (or has failed to open: the seat map works without it). */
function openSeatEvents(p, lastEventId, attempt = 0) {
  if (p.signal.aborted) return Promise.resolve();
  const live = $('live-status');
  let url = `/api/performances/${p.id}/seats/events?access_token=${encodeURIComponent(session.token)}`;
  if (lastEventId) url += `&lastEventId=${encodeURIComponent(lastEventId)}`;
  const es = new EventSource(url);
  p.events = es;
  let last = lastEventId;
  const setLive = (state, text) => {
    live.dataset.state = state;
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
    if (p.admitted && !p.signal.aborted) loadSeats(p).catch(() => undefined);
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
        if (!last && p.admitted && !p.signal.aborted) return loadSeats(p);
      })
      .catch(() => undefined);
  });
  return new Promise((resolve) => {
    es.addEventListener('open', resolve, { once: true });
    es.addEventListener('error', resolve, { once: true });
    setTimeout(resolve, 5000);
  });
}

async function loadSeats(p) {
  p.loading = true;
  p.buffered = [];
  const { items } = await api('GET', `/api/performances/${p.id}/seats`, undefined, { signal: p.signal });
  p.lastTouch = Date.now();
  p.seats = new Map(items.map((s) => [s.id, s]));
  p.buttons = new Map();
  const zones = new Map();
  for (const s of items) {
    if (!zones.has(s.zone)) zones.set(s.zone, []);
    zones.get(s.zone).push(s);
  }
  $('seat-map').replaceChildren(
    ...[...zones].map(([zone, seats]) => {
      const headingId = `zone-heading-${cssId(zone)}`;
      return el(
        'section',
        { className: 'zone', 'data-testid': `zone-${zone}`, 'aria-labelledby': headingId },
        el('h3', { id: headingId, text: `Zone ${zone}` }),
        ...groupByGrade(p, seats).map(([grade, gradeSeats]) =>
          el(
            'div',
            { className: 'grade-group' },
            el('p', { className: 'grade-label', text: `${grade} · ${formatPrice(gradeSeats[0].price)}` }),
            el(
              'div',
              { className: 'seat-grid', role: 'group', 'aria-label': `Zone ${zone}, ${grade} seats` },
              ...gradeSeats.map((s) => renderSeat(p, s, zone)),
            ),
          ),
        ),
      );
    }),
  );
  // Events that came in while the snapshot was read, in order: the last one per seat wins.
  p.loading = false;
  for (const change of p.buffered.splice(0)) applySeatStatus(p, change.seatId, change.status);
  for (const id of [...p.selected]) if (p.seats.get(id)?.status !== 'available') p.selected.delete(id);
  updateSelection(p);
}

/** Seats of a zone by grade, in the order the performance lists its grades. */
function groupByGrade(p, seats) {
  const groups = new Map(p.grades.map((g) => [g.name, []]));
  for (const s of seats) {
    if (!groups.has(s.grade)) groups.set(s.grade, []);
    groups.get(s.grade).push(s);
  }
  return [...groups].filter(([, list]) => list.length > 0);
}

function renderSeat(p, s, zone) {
  const b = el('button', {
    type: 'button',
    className: 'seat',
    'data-testid': `seat-${s.id}`,
    'data-seat-id': s.id,
    'data-code': s.code,
    'data-grade': s.grade,
    text: shortCode(s.code, zone),
    onclick: () => toggleSeat(p, s.id),
  });
  p.buttons.set(s.id, b);
  paintSeat(p, s.id);
  return b;
}

function cssId(s) {
  return s.replace(/[^A-Za-z0-9_-]/g, '_');
}

function shortCode(code, zone) {
  return code.startsWith(`${zone}-`) ? code.slice(zone.length + 1) : code;
}

function applySeatStatus(p, seatId, status) {
  const seat = p.seats.get(seatId);
  if (!seat || !['available', 'held', 'sold'].includes(status)) return;
  seat.status = status;
  if (status !== 'available' && p.selected.delete(seatId)) {
    showNotice(`Seat ${seat.code} was just taken by someone else and was removed from your selection.`);
    updateSelection(p);
  }
  paintSeat(p, seatId);
}

function paintSeat(p, seatId) {
  const seat = p.seats.get(seatId);
  const b = p.buttons.get(seatId);
  if (!seat || !b) return;
  const mine = !!p.hold && p.hold.seatIds.includes(seatId) && seat.status !== 'available';
  const selected = p.selected.has(seatId);
  b.dataset.status = seat.status;
  b.classList.toggle('mine', mine);
  b.classList.toggle('selected', selected);
  b.setAttribute('aria-pressed', String(selected));
  b.disabled = seat.status !== 'available';
  const state = mine ? 'held by you' : selected ? 'selected' : seat.status;
  const label = `${seat.code}, ${seat.grade}, ${formatPrice(seat.price)}, ${state}`;
  b.setAttribute('aria-label', label);
  b.title = label;
}

function toggleSeat(p, seatId) {
  const seat = p.seats.get(seatId);
  if (!seat || seat.status !== 'available') return;
  clearError();
  if (p.selected.has(seatId)) p.selected.delete(seatId);
  else if (p.selected.size >= MAX_SEATS) return showError(`You can pick up to ${MAX_SEATS} seats at a time.`);
  else p.selected.add(seatId);
  paintSeat(p, seatId);
  updateSelection(p);
  keepAdmission(p);
}

function updateSelection(p) {
  if (p !== page) return; // a request of a page already left
  const chosen = [...p.selected].map((id) => p.seats.get(id)).filter(Boolean);
  const total = chosen.reduce((sum, s) => sum + s.price, 0);
  $('selection-summary').textContent = chosen.length
    ? `${chosen.map((s) => s.code).join(', ')} · total ${formatPrice(total)}`
    : p.hold
      ? 'Pay for or release your held seats before picking others.'
      : `Pick up to ${MAX_SEATS} available seats.`;
  const button = $('hold-button');
  button.textContent = chosen.length
    ? `Hold ${chosen.length} seat${chosen.length > 1 ? 's' : ''}`
    : 'Hold seats';
  button.disabled = !chosen.length || p.busy || !!p.hold || !p.admitted;
  $('pay-button').disabled = p.busy || !p.hold;
  $('release-button').disabled = p.busy || !p.hold;
}

function setRequestStatus(text) {
  const s = $('request-status');
  s.textContent = text;
  s.hidden = !text;
}

function describeProgress(r) {
  const what = { hold: 'hold', confirm: 'payment', release: 'release' }[r.kind] ?? 'request';
  if (r.status === 'processing') return `Your ${what} is being processed…`;
  return r.position
    ? `Your ${what} request is in the queue: position ${r.position}.`
    : `Your ${what} request is queued.`;
}

const REASONS = {
  'seat-unavailable': 'One of those seats was taken just before your request. Pick other seats.',
  'limit-exceeded': 'That would take you past the number of seats one person may have for this performance.',
  'hold-expired': 'Your hold expired before it could be completed.',
  'hold-not-found': 'That hold no longer exists.',
};

/** Runs one queued request (hold, confirm, release) to its end, showing its place in the queue. */
async function runRequest(p, start, kind) {
  p.busy = true;
  updateSelection(p);
  clearError();
  try {
    const accepted = await start();
    p.lastTouch = Date.now();
    sessionStorage.setItem(pendingKey(p), JSON.stringify({ requestId: accepted.requestId, kind }));
    setRequestStatus(describeProgress({ kind, status: 'queued', position: accepted.position }));
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

async function finishRequest(p, requestId) {
  const r = await pollRequest(requestId, p.signal, (progress) =>
    setRequestStatus(describeProgress(progress)),
  );
  sessionStorage.removeItem(pendingKey(p));
  setRequestStatus('');
  return r;
}

function pendingKey(p) {
  return `ticketing.pending.${session?.memberId}.${p.id}`;
}

async function holdSelected(p) {
  const seatIds = [...p.selected];
  if (!seatIds.length || p.busy) return;
  const r = await runRequest(
    p,
    () => api('POST', `/api/performances/${p.id}/holds`, { seatIds }, { signal: p.signal }),
    'hold',
  );
  if (r) afterHold(p, r);
}

function afterHold(p, r) {
  if (r.status === 'succeeded' && r.hold) {
    p.selected.clear();
    showHold(p, r.hold);
    showNotice('Your seats are held. Pay before the timer runs out.');
  } else {
    showError(REASONS[r.reason] ?? 'The hold was rejected.');
    // Live events normally say which seat went; a fresh snapshot makes sure.
    if (r.reason === 'seat-unavailable') loadSeats(p).catch((err) => p.signal.aborted || reportError(err));
  }
}

async function payForHold(event) {
  event.preventDefault();
  const p = page;
  if (!p?.hold || p.busy) return;
  const token = $('payment-token').value.trim();
  if (!token) {
    showError('Enter a card token.');
    return $('payment-token').focus();
  }
  const method = $('payment-method').value;
  const holdId = p.hold.id;
  const r = await runRequest(
    p,
    () => api('POST', `/api/holds/${holdId}/confirm`, { payment: { method, token } }, { signal: p.signal }),
    'confirm',
  );
  if (r) afterConfirm(p, r);
}

function afterConfirm(p, r) {
  if (r.status === 'succeeded') {
    const n = r.tickets?.length ?? 0;
    clearHold(p);
    go('#/tickets', { notice: `Payment complete: ${n} ticket${n === 1 ? '' : 's'} issued.` });
  } else {
    showError(`${REASONS[r.reason] ?? 'The payment could not be completed.'} Your payment was not charged.`);
    if (r.reason === 'hold-expired' || r.reason === 'hold-not-found') clearHold(p);
  }
}

async function releaseHold() {
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

function afterRelease(p, r) {
  if (r.status === 'succeeded' || r.reason === 'hold-expired' || r.reason === 'hold-not-found') {
    clearHold(p);
    showNotice('Your seats were released.');
  } else showError(REASONS[r.reason] ?? 'The seats could not be released.');
}

/** After a refresh: the member's live hold and any request still in flight come back. */
async function restoreHold(p) {
  const { items } = await api('GET', '/api/me/holds', undefined, { signal: p.signal });
  const live = items.filter(
    (h) =>
      h.performanceId === p.id && h.status === 'held' && Date.parse(h.expiresAt) > Date.now() + clockSkewMs,
  );
  if (live.length) showHold(p, live[live.length - 1]);
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

let countdown = null;

function showHold(p, hold) {
  p.hold = hold;
  const seats = hold.seatIds.map((id) => p.seats.get(id)).filter(Boolean);
  $('hold-seats').replaceChildren(
    ...seats.map((s) =>
      el(
        'li',
        { 'data-testid': 'hold-seat' },
        el('span', { text: `${s.code} (${s.grade})` }),
        el('span', { text: formatPrice(s.price) }),
      ),
    ),
  );
  $('hold-total').textContent = formatPrice(seats.reduce((sum, s) => sum + s.price, 0));
  $('hold-panel').hidden = false;
  for (const id of hold.seatIds) paintSeat(p, id);
  updateSelection(p);
  startCountdown(p, Date.parse(hold.expiresAt));
}

function clearHold(p) {
  const ids = p.hold?.seatIds ?? [];
  p.hold = null;
  stopCountdown();
  $('hold-panel').hidden = true;
  $('payment-token').value = '';
  for (const id of ids) paintSeat(p, id);
  updateSelection(p);
}

function startCountdown(p, expiresAt) {
  stopCountdown();
  const out = $('hold-countdown');
  const tick = () => {
    const left = expiresAt - (Date.now() + clockSkewMs);
    out.textContent = formatClock(left);
    out.parentElement.classList.toggle('urgent', left < 60_000);
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

// ---------------------------------------------------------------- wiring

function start() {
  renderNav();
  $('login-form').addEventListener('submit', submitLogin);
  $('signup-form').addEventListener('submit', submitSignup);
  $('logout').addEventListener('click', () => {
    saveSession(null);
    go('#/login', { notice: 'You are logged out.' });
  });
  $('message-dismiss').addEventListener('click', clearError);
  $('leave-line').addEventListener('click', leaveLine);
  $('hold-button').addEventListener('click', () => page && holdSelected(page));
  $('payment-form').addEventListener('submit', payForHold);
  $('release-button').addEventListener('click', releaseHold);
  window.addEventListener('hashchange', render);
  render();
}

start();
