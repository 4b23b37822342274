// @ts-check
// The session and every call to this server's /api (no other host is ever contacted).

const SESSION_KEY = 'ticketing.session';

/** @typedef {import('./types.js').Session} Session */

/** @type {Session | null} */
let session = readSession();
/** Server clock minus ours, so countdowns match the server's expiry. */
let clockSkewMs = 0;
/** @type {(reason: string) => void} */
let onSessionEnded = () => undefined;

/** @returns {Session | null} */
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

/** @returns {Session | null} */
export function currentSession() {
  return session;
}

/** @param {Session | null} s */
export function saveSession(s) {
  session = s;
  if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION_KEY);
}

/** @param {(reason: string) => void} fn called once when the server says the session is over */
export function whenSessionEnds(fn) {
  onSessionEnded = fn;
}

/**
 * The role a token carries (`USER`, `ADMIN`), read without checking it: the page only decides what to
 * show by it; the server checks every request.
 * @param {string} token
 * @returns {string | null}
 */
export function tokenRole(token) {
  try {
    const part = token.split('.')[1] ?? '';
    const json = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/')));
    return typeof json.role === 'string' ? json.role : null;
  } catch {
    return null;
  }
}

/** Now, by the server's clock. */
export function serverNow() {
  return Date.now() + clockSkewMs;
}

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {{ detail?: string, title?: string, code?: string, errors?: unknown, retryAfter?: string | null }} problem
   */
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || 'unknown';
    /** @type {{ path: string, message: string }[]} */
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.retryAfter = Number(problem.retryAfter) || 0;
    this.sessionEnded = false;
  }
  /** What the person reads: the problem's detail, plus which fields were wrong. */
  get userMessage() {
    if (!this.errors.length) return this.message;
    return `${this.message} (${this.errors.map((e) => `${e.path}: ${e.message}`).join('; ')})`;
  }
  get transient() {
    return this.status === 0 || this.status === 429 || this.status === 503;
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {{ signal?: AbortSignal, auth?: boolean }} [opts]
 * @returns {Promise<any>} the parsed JSON answer
 */
export async function api(method, path, body, { signal, auth = true } = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json, application/problem+json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth && session) headers['authorization'] = `Bearer ${session.token}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal ?? null,
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
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.ok) return data;
  const problem = data && typeof data === 'object' ? data : {};
  const err = new ApiError(res.status, { ...problem, retryAfter: res.headers.get('retry-after') });
  if (res.status === 401 && auth && session) {
    err.sessionEnded = true; // the login view tells the person; nobody else should
    saveSession(null);
    onSessionEnded('Your session has ended. Please log in again.');
  }
  throw err;
}

/**
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
export function sleep(ms, signal) {
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

/** @param {ApiError} err */
export function retryDelay(err) {
  return err.retryAfter > 0 ? err.retryAfter * 1000 : 2000;
}

/**
 * Polls a queued request until it is final; `onProgress` sees each intermediate answer.
 * @param {number} requestId
 * @param {AbortSignal} signal
 * @param {(r: import('./types.js').SeatRequest) => void} onProgress
 * @returns {Promise<import('./types.js').SeatRequest>}
 */
export async function pollRequest(requestId, signal, onProgress) {
  for (;;) {
    const started = Date.now();
    /** @type {import('./types.js').SeatRequest} */
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
