// @ts-check
// The waiting room of one performance: joining the line, following the server's pace until admitted,
// and showing the place in line, the wait and, before the sale opens, a countdown to the opening.
import { api, ApiError, retryDelay, serverNow, sleep } from './api.js';
import { $, formatCountdown, formatDuration, formatTime, reportError } from './ui.js';

/** @typedef {import('./types.js').WaitingStatus} WaitingStatus */

/** How long a long-poll asks the server to hold the answer (the contract's maximum). */
const LONG_POLL_SECONDS = 30;
/** Two requests start at least this far apart, so that a long-poll answered at once cannot spin. */
const MIN_GAP_MS = 1000;
/** An answer without a pace (never from this server) is asked again after this long. */
const FALLBACK_POLL_SECONDS = 5;
/** The longest pause between two tries while the server cannot be reached. */
const MAX_BACKOFF_MS = 30_000;

/** @type {number | null} the performance whose line this page stands in (for the Leave button) */
let current = null;

/**
 * Joins the line (idempotent, so a refresh keeps the ticket) and follows the server's pace until the
 * member is admitted or the sale is sold out. `nextPollSeconds: 0` means near the front: the page asks
 * again at once with `waitSeconds`, and the server answers the moment the member is admitted.
 * Otherwise the page sleeps `nextPollSeconds` and asks again. Aborted with `signal` (page left).
 * @param {number} performanceId
 * @param {AbortSignal} signal
 * @returns {Promise<WaitingStatus>} an `admitted` or `sold-out` status
 */
export async function waitInLine(performanceId, signal) {
  const path = `/api/performances/${performanceId}/waiting`;
  const opening = openingCountdown();
  current = performanceId;
  try {
    let askedAt = Date.now();
    /** @type {WaitingStatus} */
    let status = await api('POST', path, undefined, { signal });
    let failures = 0;
    while (status.status === 'waiting') {
      renderWaiting(status);
      opening.show(status.opensAt);
      const longPoll = status.nextPollSeconds === 0;
      await sleep(longPoll ? Math.max(0, askedAt + MIN_GAP_MS - Date.now()) : paceMs(status), signal);
      for (;;) {
        askedAt = Date.now();
        try {
          status = await api('GET', longPoll ? `${path}?waitSeconds=${LONG_POLL_SECONDS}` : path, undefined, {
            signal,
          });
          failures = 0;
          break;
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          if (err.code === 'not-in-line') {
            // The place was lost (left in another tab, or the line was reset): join again.
            status = await api('POST', path, undefined, { signal });
            break;
          }
          if (!err.transient) throw err;
          $('waiting-status').textContent = 'Connection trouble; still trying…';
          await sleep(backoffMs(err, failures++), signal);
        }
      }
    }
    return status;
  } finally {
    opening.stop();
    if (current === performanceId) current = null;
  }
}

/** @param {WaitingStatus} status */
function paceMs(status) {
  const s = Number(status.nextPollSeconds);
  return (Number.isFinite(s) && s > 0 ? Math.min(s, 60) : FALLBACK_POLL_SECONDS) * 1000;
}

/**
 * Doubles with each failure in a row (with jitter, so a crowd does not come back at once), never
 * sooner than the server's Retry-After.
 * @param {ApiError} err
 * @param {number} failures before this one
 */
function backoffMs(err, failures) {
  const grown = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** failures) * (0.75 + Math.random() / 2);
  return Math.max(retryDelay(err), grown);
}

/** @param {Pick<import('./performance.js').Navigator, 'go'>} nav */
export async function leaveLine(nav) {
  if (current === null) return;
  try {
    await api('DELETE', `/api/performances/${current}/waiting`);
    nav.go('#/performances', { notice: 'You left the line.' });
  } catch (err) {
    reportError(err);
  }
}

// ---------------------------------------------------------------- what the member sees

/**
 * Writes only what changed, so the polite live region is not re-announced for an unchanged answer.
 * @param {string} id
 * @param {string} text
 */
function setText(id, text) {
  const node = $(id);
  if (node.textContent !== text) node.textContent = text;
}

/** @param {WaitingStatus} s */
function renderWaiting(s) {
  $('waiting-room').hidden = false;
  $('seat-area').hidden = true;
  const known = typeof s.position === 'number' && s.position > 0;
  setText('waiting-position', known ? s.position.toLocaleString() : '—');
  setText(
    'waiting-ahead',
    known ? aheadOf(s.position) : s.drawAt ? `Places are drawn at ${formatTime(s.drawAt)}` : '',
  );
  setText('waiting-eta', s.etaSeconds > 0 ? formatDuration(s.etaSeconds) : 'any moment');
  setText('waiting-ticket', `#${s.ticket}`);
  const checked = `Updated ${new Date().toLocaleTimeString()}.`;
  $('waiting-status').textContent =
    s.nextPollSeconds === 0
      ? `${checked} You are near the front: this page moves on the moment it is your turn.`
      : `${checked} Next update in about ${formatDuration(paceMs(s) / 1000)}.`;
}

/** @param {number} position 1 for the next member to be admitted */
function aheadOf(position) {
  const n = position - 1;
  if (n <= 0) return 'You are next';
  return `${n.toLocaleString()} ${n === 1 ? 'person' : 'people'} ahead of you`;
}

/**
 * Before the sale opens: its opening time and a countdown ticking locally each second (no request).
 */
function openingCountdown() {
  /** @type {ReturnType<typeof setInterval> | null} */
  let timer = null;
  let opensAt = NaN;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  const tick = () => {
    const left = opensAt - serverNow();
    if (left > 0) return setText('waiting-countdown', `Opens in ${formatCountdown(left)}`);
    // The next answer (at the server's pace) admits the member in turn; nobody rushes in at once.
    setText('waiting-countdown', 'Opening now…');
    stop();
  };
  return {
    /** @param {string | undefined} iso the status's `opensAt`, present until the sale opens */
    show(iso) {
      const at = iso ? Date.parse(iso) : NaN;
      $('waiting-opening').hidden = Number.isNaN(at);
      if (Number.isNaN(at)) return stop();
      if (at !== opensAt) {
        opensAt = at;
        const time = $('waiting-opens-at');
        time.setAttribute('datetime', new Date(at).toISOString());
        time.textContent = formatTime(iso ?? '');
      }
      tick();
      if (!timer && opensAt > serverNow()) timer = setInterval(tick, 1000);
    },
    stop,
  };
}
