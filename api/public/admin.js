// @ts-check
// The operator's page: create a performance from a layout, drive its sale controls
// (PATCH /api/performances/:id) and watch its live state (GET /api/admin/performances/:id).

const SESSION_KEY = 'ticketing.admin-session';
const LIVE_MS = 2000;

/**
 * @typedef {{ token: string, email: string, expiresAt: number }} Session
 * @typedef {{ salesOpenAt: string | null, admissionCapacity: number, admissionPaused: boolean, holdsPaused: boolean }} Controls
 * @typedef {{ id: number, name: string, at: string, line: { waiting: number, admitted: number },
 *   holds: Record<string, number>, seats: Record<string, number>,
 *   queue: { waiting: number, oldestWaitingSeconds: number, paused: boolean },
 *   lastMinute: { admissions: number, commits: number, sales: number },
 *   controls: Controls, admissionOpen: boolean }} LiveState
 * @typedef {{ name: string, price: number }} Grade
 * @typedef {{ name: string, seats: { code: string, grade: string }[] }} Zone
 */

/**
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @returns {T}
 */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return /** @type {T} */ (el);
}
/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ ($(id));

const numbers = new Intl.NumberFormat();

// ---------------------------------------------------------------- session and HTTP

/** @returns {Session | null} */
function readSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    if (s && typeof s.token === 'string' && s.expiresAt > Date.now()) return s;
  } catch {
    /* a damaged entry is no session */
  }
  return null;
}
let session = readSession();

class ApiError extends Error {
  /**
   * @param {number} status
   * @param {{ detail?: string, title?: string, code?: string, errors?: { path: string, message: string }[] }} problem
   */
  constructor(status, problem) {
    const fields = (problem.errors ?? []).map((e) => `${e.path}: ${e.message}`).join('; ');
    super(`${problem.detail || problem.title || `HTTP ${status}`}${fields ? ` (${fields})` : ''}`);
    this.status = status;
    this.code = problem.code ?? 'unknown';
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json, application/problem+json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (session) headers['authorization'] = `Bearer ${session.token}`;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { detail: 'The server could not be reached.' });
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (res.ok) return data;
  if (res.status === 401) logOut('Your session has ended. Please log in again.');
  throw new ApiError(res.status, data ?? {});
}

// ---------------------------------------------------------------- messages

/** @param {string} text */
function showError(text) {
  const m = $('admin-message');
  m.textContent = text;
  m.hidden = false;
  $('admin-notice').hidden = true;
}
/** @param {string} text */
function showNotice(text) {
  const n = $('admin-notice');
  n.textContent = text;
  n.hidden = false;
  $('admin-message').hidden = true;
}

/**
 * Runs an action, telling the operator what failed.
 * @param {() => Promise<void>} action
 */
async function attempt(action) {
  try {
    await action();
  } catch (err) {
    showError(err instanceof Error ? err.message : String(err));
  }
}

// ---------------------------------------------------------------- login

function render() {
  $('admin-login-view').hidden = !!session;
  $('admin-view').hidden = !session;
  $('admin-logout').hidden = !session;
  $('admin-whoami').textContent = session ? session.email : '';
  if (session) void loadPerformances();
}

/** @param {string} [reason] */
function logOut(reason) {
  session = null;
  sessionStorage.removeItem(SESSION_KEY);
  stopLive();
  render();
  if (reason) showError(reason);
}

$('admin-login').addEventListener('submit', (e) => {
  e.preventDefault();
  void attempt(async () => {
    const email = input('admin-email').value.trim();
    const r = await api('POST', '/api/login', { email, password: input('admin-password').value });
    const role = JSON.parse(atob(r.accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).role;
    if (role !== 'ADMIN') throw new Error('This account is not an ADMIN.');
    session = { token: r.accessToken, email, expiresAt: Date.now() + r.expiresIn * 1000 };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    input('admin-password').value = '';
    $('admin-message').hidden = true;
    render();
  });
});
$('admin-logout').addEventListener('click', () => logOut());

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
      o.textContent = `#${p.id} ${p.name}`;
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
  if (selected === undefined) throw new Error('Pick a performance first.');
  /** @type {Controls} */
  const p = await api('PATCH', `/api/performances/${selected}`, patch);
  fillControls(p);
  showNotice(`Saved: ${Object.keys(patch).join(', ')}.`);
  await refreshLive();
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
  if (id === undefined || !session) return;
  /** @type {LiveState} */
  let s;
  try {
    s = await api('GET', `/api/admin/performances/${id}`);
  } catch (err) {
    showError(err instanceof Error ? err.message : String(err));
    return;
  }
  if (id !== selected) return;
  if (!formFilled) fillControls(s.controls);
  const c = s.controls;
  const opens = c.salesOpenAt ? new Date(c.salesOpenAt) : null;
  $('live-badges').replaceChildren(
    badge(
      s.admissionOpen
        ? 'Admission open'
        : c.admissionPaused
          ? 'Admission paused'
          : `Opens ${opens?.toLocaleString() ?? ''}`,
      s.admissionOpen,
    ),
    badge(c.holdsPaused ? 'Holds paused' : 'Holds flowing', !c.holdsPaused),
    badge(`Capacity ${numbers.format(c.admissionCapacity)}`, true),
  );
  const lag = s.queue.oldestWaitingSeconds;
  $('live-stats').replaceChildren(
    stat('In line', s.line.waiting),
    stat('Admitted', s.line.admitted, `of ${numbers.format(c.admissionCapacity)}`),
    stat('Queue depth', s.queue.waiting, s.queue.paused ? 'paused' : ''),
    stat('Oldest job waiting', lag < 60 ? `${lag.toFixed(1)} s` : `${Math.round(lag / 60)} min`),
    stat('Holds held', s.holds['held'] ?? 0),
    stat('Confirmed', s.holds['confirmed'] ?? 0),
    stat('Released', s.holds['released'] ?? 0),
    stat('Expired', s.holds['expired'] ?? 0),
    stat('Seats available', s.seats['available'] ?? 0),
    stat('Seats sold', s.seats['sold'] ?? 0),
    stat('Admissions / min', s.lastMinute.admissions),
    stat('Commits / min', s.lastMinute.commits),
    stat('Sales / min', s.lastMinute.sales),
  );
  $('live-at').textContent = `#${s.id} ${s.name} · ${new Date(s.at).toLocaleTimeString()}`;
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
    showNotice(`Created performance #${id} with ${numbers.format(seats)} seats.`);
    await loadPerformances(id);
  });
});

render();
