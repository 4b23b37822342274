// @ts-check
// The ticketing web client: ES modules, no build step, talks only to this server's /api.
// Flow: performances (anyone) -> join the line (log in here) -> waiting room -> seat map by zone
// (live) -> hold -> payment -> tickets.
import { api, currentSession, saveSession, tokenRole, whenSessionEnds } from './modules/api.js';
import { showPerformances, showTickets } from './modules/lists.js';
import { leaveLine } from './modules/line.js';
import {
  holdSelected,
  joinLine,
  payForHold,
  releaseHold,
  requestBest,
  showPerformance,
  wireSeatMap,
} from './modules/performance.js';
import {
  $,
  clearError,
  clearMessages,
  input,
  reportError,
  setBusy,
  showError,
  showNotice,
} from './modules/ui.js';

const VIEWS = ['login', 'performances', 'performance', 'tickets'];
let viewController = new AbortController();
let afterLogin = '#/performances';
/** @type {{ notice?: string, error?: string } | null} */
let flash = null;

/** @type {import('./modules/performance.js').Navigator} */
const nav = {
  go,
  logIn(returnTo) {
    afterLogin = returnTo;
    go('#/login', { notice: 'Log in or create an account to join the line.' });
  },
};

function renderNav() {
  const session = currentSession();
  $('whoami').textContent = session ? session.email : '';
  $('nav-tickets').hidden = !session;
  $('logout').hidden = !session;
  $('nav-login').hidden = !!session;
  // Sale controls are for operators: the link shows for an ADMIN session only.
  $('admin-link').hidden = !session || tokenRole(session.token) !== 'ADMIN';
}

/** @param {string} name */
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
  renderNav();
  const hash = location.hash || '#/performances';
  try {
    let m;
    if (hash === '#/login') {
      if (currentSession()) return go(afterLogin);
      showView('login');
    } else if (hash === '#/tickets') {
      if (!currentSession()) return nav.logIn(hash);
      showView('tickets');
      await showTickets(signal);
    } else if ((m = /^#\/performances\/(\d+)$/.exec(hash))) {
      showView('performance');
      await showPerformance(Number(m[1]), signal, nav);
    } else if (hash === '#/performances') {
      showView('performances');
      await showPerformances(signal);
    } else location.replace('#/performances');
  } catch (err) {
    if (!signal.aborted) reportError(err);
  }
}

/**
 * @param {string} hash
 * @param {{ notice?: string, error?: string }} [message]
 */
function go(hash, message) {
  if (message) flash = message;
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** @param {SubmitEvent} event */
async function submitLogin(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const email = input('login-email').value.trim();
  const password = input('login-password').value;
  if (!email || !password) return showError('Enter your email and password.');
  const b = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));
  setBusy(b, true);
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
    setBusy(b, false);
  }
}

/** @param {SubmitEvent} event */
async function submitSignup(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const email = input('signup-email').value.trim();
  const password = input('signup-password').value;
  if (!email) return showError('Enter an email address.');
  if (password.length < 8 || password.length > 72)
    return showError('The password must have 8 to 72 characters.');
  const b = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));
  setBusy(b, true);
  try {
    await api('POST', '/api/members', { email, password }, { auth: false });
    form.reset();
    showNotice('Your account is ready. Log in to continue.');
    input('login-email').value = email;
    input('login-password').focus();
  } catch (err) {
    reportError(err);
  } finally {
    setBusy(b, false);
  }
}

function start() {
  whenSessionEnds((reason) => {
    afterLogin = location.hash && location.hash !== '#/login' ? location.hash : afterLogin;
    go('#/login', { error: reason });
  });
  $('login-form').addEventListener('submit', (e) => void submitLogin(/** @type {SubmitEvent} */ (e)));
  $('signup-form').addEventListener('submit', (e) => void submitSignup(/** @type {SubmitEvent} */ (e)));
  $('logout').addEventListener('click', () => {
    saveSession(null);
    go('#/performances', { notice: 'You are logged out.' });
  });
  $('message-dismiss').addEventListener('click', clearError);
  $('join-line').addEventListener('click', () => joinLine(nav));
  $('leave-line').addEventListener('click', () => void leaveLine(nav));
  $('hold-button').addEventListener('click', () => void holdSelected());
  $('payment-form').addEventListener('submit', (e) => void payForHold(/** @type {SubmitEvent} */ (e)));
  $('release-button').addEventListener('click', () => void releaseHold());
  $('best-form').addEventListener('submit', (e) => void requestBest(/** @type {SubmitEvent} */ (e)));
  wireSeatMap();
  window.addEventListener('hashchange', () => void render());
  render();
}

start();
