// @ts-check
// The operator's page: create a performance from a layout, drive its sale controls
// (PATCH /api/performances/:id) and watch its live state (GET /api/admin/performances/:id).
// The session is the web client's (modules/api.js): an admin logged in on either page is on both.
import { api, ApiError, currentSession, saveSession, tokenRole, whenSessionEnds } from './modules/api.js';
import { $, clearMessages, input, showError, showNotice } from './modules/ui.js';

const LIVE_MS = 2000;
/** The queue board's cookie lasts 15 minutes: renewed well before. */
const BOARD_RENEW_MS = 10 * 60_000;

/**
 * @typedef {{ salesOpenAt: string | null, admissionCapacity: number, admissionPaused: boolean, holdsPaused: boolean }} Controls
 * @typedef {{ id: number, name: string, at: string, line: { waiting: number, admitted: number },
 *   holds: Record<string, number>, seats: Record<string, number>,
 *   queue: { waiting: number, oldestWaitingSeconds: number, paused: boolean },
 *   lastMinute: { admissions: number, commits: number, sales: number },
 *   controls: Controls, admissionOpen: boolean }} LiveState
 * @typedef {{ name: string, price: number }} Grade
 * @typedef {{ name: string, seats: { code: string, grade: string }[] }} Zone
 */

const numbers = new Intl.NumberFormat();

// ---------------------------------------------------------------- messages

/** The request's fields, as the form names them. */
/** @type {Record<string, string>} */
const FIELDS = {
  name: 'Name',
  place: 'Place',
  showtime: 'Showtime',
  salesOpenAt: 'Sales open at',
  admissionCapacity: 'Members picking seats at once',
  admissionsPerMinute: 'Admissions per minute',
  grades: 'Grades',
  zones: 'Zones',
};

/**
 * "Showtime is missing" from `body.showtime: Invalid input: expected string, received undefined`.
 * @param {{ path: string, message: string }} e
 */
function describeField(e) {
  const parts = e.path.replace(/^body\.?/, '').split('.');
  const field = FIELDS[parts[0] ?? ''] ?? (parts[0] || 'The request');
  const where = parts.length > 1 && /^\d+$/.test(parts[1] ?? '') ? `, line ${Number(parts[1]) + 1},` : '';
  const m = e.message;
  const what = /received undefined|required/i.test(m)
    ? 'is missing'
    : /expected number/i.test(m)
      ? 'must be a number'
      : /expected string/i.test(m)
        ? 'must be text'
        : `: ${m.charAt(0).toLowerCase()}${m.slice(1)}`;
  return `${field}${where} ${what}`.replace(/ :/, ':');
}

/** @param {unknown} err */
function describeError(err) {
  if (err instanceof ApiError) {
    if (err.errors.length) return `Not saved. ${err.errors.map(describeField).join('; ')}.`;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs an action, telling the operator in words what failed.
 * @param {() => Promise<void>} action
 */
async function attempt(action) {
  try {
    await action();
  } catch (err) {
    if (!(err instanceof ApiError && err.sessionEnded)) showError(describeError(err));
  }
}

// ---------------------------------------------------------------- login

function render() {
  const session = currentSession();
  const admin = !!session && tokenRole(session.token) === 'ADMIN';
  $('admin-login-view').hidden = admin;
  $('admin-view').hidden = !admin;
  $('admin-logout').hidden = !admin;
  $('queue-board-link').hidden = !admin;
  $('admin-whoami').textContent = admin && session ? session.email : '';
  if (admin) {
    void loadPerformances().catch((err) => showError(describeError(err)));
    void openQueueBoardSession();
  }
}

/** @param {string} [reason] */
function logOut(reason) {
  saveSession(null);
  stopLive();
  render();
  if (reason) showError(reason);
}
whenSessionEnds((reason) => logOut(reason));

/** @type {ReturnType<typeof setTimeout> | undefined} */
let boardTimer;
/** Lets the queue board (/admin/queues) in with this session: a short-lived cookie for /admin only. */
async function openQueueBoardSession() {
  clearTimeout(boardTimer);
  try {
    await api('POST', '/api/admin/queue-board/session');
  } catch {
    /* the board then asks for its own login */
  }
  boardTimer = setTimeout(() => currentSession() && void openQueueBoardSession(), BOARD_RENEW_MS);
}

$('admin-login').addEventListener('submit', (e) => {
  e.preventDefault();
  void attempt(async () => {
    const email = input('admin-email').value.trim();
    const password = input('admin-password').value;
    if (!email || !password) throw new Error('Enter the email and password of an administrator account.');
    const r = await api('POST', '/api/login', { email, password }, { auth: false });
    if (tokenRole(r.accessToken) !== 'ADMIN')
      throw new Error('This account cannot manage sales: log in with an administrator account.');
    saveSession({
      token: r.accessToken,
      memberId: r.memberId,
      email,
      expiresAt: Date.now() + r.expiresIn * 1000,
    });
    input('admin-password').value = '';
    clearMessages();
    render();
  });
});
$('admin-logout').addEventListener('click', () => logOut());
// Opening the board renews its cookie first, so a link clicked after a long pause still works.
$('queue-board-link').addEventListener('click', (e) => {
  e.preventDefault();
  void openQueueBoardSession().then(() => window.open('/admin/queues', '_blank', 'noopener'));
});

// ---------------------------------------------------------------- performances and controls

/** @type {number | undefined} */
let selected;
const select = /** @type {HTMLSelectElement} */ ($('performance-select'));

/** @param {number} [choose] */
async function loadPerformances(choose) {
  /** @type {{ items: { id: number, name: string, showtime: string }[] }} */
  const { items } = await api('GET', '/api/performances');
  select.replaceChildren(
    ...items.map((p) => {
      const o = document.createElement('option');
      o.value = String(p.id);
      o.textContent = `${p.name} (#${p.id})`;
      return o;
    }),
  );
  const want = choose ?? selected ?? items.at(-1)?.id;
  if (want !== undefined) {
    select.value = String(want);
    choosePerformance(want);
  }
}

select.addEventListener('change', () => choosePerformance(Number(select.value)));

/** @param {number} id */
function choosePerformance(id) {
  if (selected !== id) formFilled = false;
  selected = id;
  startLive();
}

/**
 * An ISO time as the value of a datetime-local input, in this browser's time zone.
 * @param {string | null} iso
 */
function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** @param {Partial<Controls>} patch */
async function patchControls(patch) {
  if (selected === undefined) throw new Error('Choose a performance first.');
  /** @type {Controls} */
  const p = await api('PATCH', `/api/performances/${selected}`, patch);
  fillControls(p);
  showNotice(describePatch(patch));
  await refreshLive();
}

/**
 * What a saved change means for the sale, in words.
 * @param {Partial<Controls>} patch
 */
function describePatch(patch) {
  /** @type {string[]} */
  const said = [];
  if ('salesOpenAt' in patch)
    said.push(
      patch.salesOpenAt
        ? `Sales open at ${new Date(patch.salesOpenAt).toLocaleString()}.`
        : 'Sales are open now: members in line are let in.',
    );
  if (patch.admissionCapacity !== undefined)
    said.push(`Up to ${numbers.format(patch.admissionCapacity)} members may now pick seats at once.`);
  if (patch.admissionPaused !== undefined)
    said.push(patch.admissionPaused ? 'Admission paused: nobody new is let in.' : 'Admission resumed.');
  if (patch.holdsPaused !== undefined)
    said.push(
      patch.holdsPaused
        ? 'Holds paused: requests wait in the queue and nothing is applied.'
        : 'Holds resumed: queued requests are applied in order.',
    );
  return said.join(' ') || 'Saved.';
}

let formFilled = false;
/** @param {Controls} c */
function fillControls(c) {
  input('control-opens').value = toLocalInput(c.salesOpenAt);
  input('control-capacity').value = String(c.admissionCapacity);
  input('control-admission-paused').checked = c.admissionPaused;
  input('control-holds-paused').checked = c.holdsPaused;
  formFilled = true;
}

$('control-opens-set').addEventListener('click', () =>
  attempt(async () => {
    const v = input('control-opens').value;
    await patchControls({ salesOpenAt: v ? new Date(v).toISOString() : null });
  }),
);
$('control-open-now').addEventListener('click', () => attempt(() => patchControls({ salesOpenAt: null })));
$('control-capacity-set').addEventListener('click', () =>
  attempt(() => patchControls({ admissionCapacity: Number(input('control-capacity').value) })),
);
input('control-admission-paused').addEventListener('change', (e) =>
  attempt(() =>
    patchControls({ admissionPaused: /** @type {HTMLInputElement} */ (e.currentTarget).checked }),
  ),
);
input('control-holds-paused').addEventListener('change', (e) =>
  attempt(() => patchControls({ holdsPaused: /** @type {HTMLInputElement} */ (e.currentTarget).checked })),
);

// ---------------------------------------------------------------- live state

/** @type {ReturnType<typeof setInterval> | undefined} */
let liveTimer;
function startLive() {
  stopLive();
  void refreshLive();
  liveTimer = setInterval(() => void refreshLive(), LIVE_MS);
}
function stopLive() {
  if (liveTimer) clearInterval(liveTimer);
  liveTimer = undefined;
}

/**
 * @param {string} label
 * @param {string | number} value
 * @param {string} [detail]
 */
function stat(label, value, detail) {
  const div = document.createElement('div');
  const dt = document.createElement('dt');
  dt.textContent = label;
  const dd = document.createElement('dd');
  dd.textContent = typeof value === 'number' ? numbers.format(value) : value;
  if (detail) {
    const small = document.createElement('small');
    small.textContent = ` ${detail}`;
    dd.append(small);
  }
  div.append(dt, dd);
  return div;
}

/**
 * @param {string} text
 * @param {boolean} good
 */
function badge(text, good) {
  const b = document.createElement('span');
  b.className = good ? 'badge' : 'badge off';
  b.textContent = text;
  b.dataset['testid'] = 'live-badge';
  return b;
}

async function refreshLive() {
  const id = selected;
  if (id === undefined || !currentSession()) return;
  /** @type {LiveState} */
  let s;
  try {
    s = await api('GET', `/api/admin/performances/${id}`);
  } catch (err) {
    if (!(err instanceof ApiError && err.sessionEnded)) showError(describeError(err));
    return;
  }
  if (id !== selected) return;
  if (!formFilled) fillControls(s.controls);
  const c = s.controls;
  const opens = c.salesOpenAt ? new Date(c.salesOpenAt) : null;
  $('live-badges').replaceChildren(
    badge(
      s.admissionOpen
        ? 'Letting members in'
        : c.admissionPaused
          ? 'Admission paused'
          : `Opens ${opens?.toLocaleString() ?? ''}`,
      s.admissionOpen,
    ),
    badge(c.holdsPaused ? 'Holds paused' : 'Holds applied as they come', !c.holdsPaused),
    badge(`${numbers.format(c.admissionCapacity)} at once`, true),
  );
  const lag = s.queue.oldestWaitingSeconds;
  $('live-stats').replaceChildren(
    stat('In line', s.line.waiting),
    stat('Picking seats', s.line.admitted, `of ${numbers.format(c.admissionCapacity)} at once`),
    stat('Seat requests waiting', s.queue.waiting, s.queue.paused ? 'paused' : ''),
    stat('Oldest request waiting', lag < 60 ? `${lag.toFixed(1)} s` : `${Math.round(lag / 60)} min`),
    stat('Awaiting payment', s.holds['held'] ?? 0, 'holds'),
    stat('Paid', s.holds['confirmed'] ?? 0, 'holds'),
    stat('Released', s.holds['released'] ?? 0, 'holds'),
    stat('Expired', s.holds['expired'] ?? 0, 'holds'),
    stat('Seats available', s.seats['available'] ?? 0),
    stat('Seats sold', s.seats['sold'] ?? 0),
    stat('Let in, last minute', s.lastMinute.admissions),
    stat('Requests applied, last minute', s.lastMinute.commits),
    stat('Sales, last minute', s.lastMinute.sales),
  );
  $('live-at').textContent = `${s.name} (#${s.id}) · as of ${new Date(s.at).toLocaleTimeString()}`;
}

// ---------------------------------------------------------------- creating a performance

/** @type {{ grades: Grade[], zones: Zone[] } | null} */
let fileLayout = null;

/**
 * `R = 150` lines.
 * @param {string} text
 * @returns {Grade[]}
 */
function parseGrades(text) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line, i) => {
      const m = /^(.+?)\s*[=:]\s*(\d+(?:\.\d+)?)$/.exec(line);
      if (!m) throw new Error(`Grades, line ${i + 1}: write "name = price".`);
      return { name: /** @type {string} */ (m[1]), price: Number(m[2]) };
    });
}

/**
 * `Floor: 40 x R` lines; seat codes are `Floor-1` … `Floor-40`.
 * @param {string} text
 * @returns {Zone[]}
 */
function parseZones(text) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line, i) => {
      const m = /^(.+?)\s*:\s*(\d+)\s*[x×*]\s*(.+)$/i.exec(line);
      if (!m) throw new Error(`Zones, line ${i + 1}: write "name: seats x grade".`);
      const name = /** @type {string} */ (m[1]);
      const grade = /** @type {string} */ (m[3]).trim();
      const seats = Array.from({ length: Number(m[2]) }, (_, n) => ({ code: `${name}-${n + 1}`, grade }));
      return { name, seats };
    });
}

/** @param {string} id */
const localIso = (id) => (input(id).value ? new Date(input(id).value).toISOString() : undefined);

input('create-file').addEventListener('change', () =>
  attempt(async () => {
    const file = input('create-file').files?.[0];
    if (!file) return;
    const json = JSON.parse(await file.text());
    if (!Array.isArray(json.grades) || !Array.isArray(json.zones))
      throw new Error(`${file.name} has no "grades" and "zones" lists.`);
    fileLayout = { grades: json.grades, zones: json.zones };
    if (json.name) input('create-name').value = json.name;
    if (json.place) input('create-place').value = json.place;
    if (json.showtime) input('create-showtime').value = toLocalInput(json.showtime).slice(0, 16);
    if (json.salesOpenAt) input('create-opens').value = toLocalInput(json.salesOpenAt);
    if (json.admissionCapacity) input('create-capacity').value = String(json.admissionCapacity);
    const seats = fileLayout.zones.reduce((n, z) => n + (Array.isArray(z.seats) ? z.seats.length : 0), 0);
    $('create-summary').textContent =
      `Layout from ${file.name}: ${fileLayout.zones.length} zones, ${seats} seats.`;
  }),
);
for (const id of ['create-grades', 'create-zones'])
  $(id).addEventListener('input', () => {
    fileLayout = null;
    input('create-file').value = '';
    $('create-summary').textContent = '';
  });

$('create').addEventListener('submit', (e) => {
  e.preventDefault();
  void attempt(async () => {
    const layout = fileLayout ?? {
      grades: parseGrades(/** @type {HTMLTextAreaElement} */ ($('create-grades')).value),
      zones: parseZones(/** @type {HTMLTextAreaElement} */ ($('create-zones')).value),
    };
    /** @type {string[]} */
    const missing = [];
    if (!input('create-name').value.trim()) missing.push('a name');
    if (!input('create-place').value.trim()) missing.push('a place');
    if (!input('create-showtime').value) missing.push('a showtime');
    if (missing.length) throw new Error(`Enter ${missing.join(', ')}.`);
    const capacity = input('create-capacity').value;
    const body = {
      name: input('create-name').value.trim(),
      place: input('create-place').value.trim(),
      showtime: localIso('create-showtime'),
      ...(localIso('create-opens') ? { salesOpenAt: localIso('create-opens') } : {}),
      ...(capacity ? { admissionCapacity: Number(capacity) } : {}),
      ...layout,
    };
    /** @type {{ id: number }} */
    const { id } = await api('POST', '/api/performances', body);
    const seats = layout.zones.reduce((n, z) => n + z.seats.length, 0);
    // A cleared form: a second click cannot create the same performance twice.
    /** @type {HTMLFormElement} */ ($('create')).reset();
    fileLayout = null;
    $('create-summary').textContent = '';
    showNotice(
      `Created “${body.name}” (#${id}) with ${numbers.format(seats)} seats. Its sale is shown above.`,
    );
    await loadPerformances(id);
  });
});

render();
