// @ts-check
// DOM helpers, formats and the one message shown at a time.
import { ApiError } from './api.js';

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
export function $(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node;
}

/**
 * @param {string} id
 * @returns {HTMLInputElement}
 */
export function input(id) {
  return /** @type {HTMLInputElement} */ ($(id));
}

/**
 * @param {string} id
 * @returns {HTMLButtonElement}
 */
export function button(id) {
  return /** @type {HTMLButtonElement} */ ($(id));
}

/**
 * An element with attributes (`text` is its text, `on…` a listener) and children.
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'className') node.className = String(v);
    else if (k === 'text') node.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function')
      node.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
const shortDateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
/** @type {Map<string, Intl.NumberFormat>} */
const priceFormats = new Map();

/**
 * A price with its currency (₩150,000, €12.50).
 * @param {number} n
 * @param {string} [currency]
 */
export function formatPrice(n, currency = 'KRW') {
  let f = priceFormats.get(currency);
  if (!f) {
    f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    priceFormats.set(currency, f);
  }
  return f.format(n);
}

/** @param {string} iso */
export function formatDate(iso) {
  return dateFormat.format(new Date(iso));
}

/** @param {string} iso */
export function formatShortDate(iso) {
  return shortDateFormat.format(new Date(iso));
}

/** @param {number} seconds */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });

/**
 * A time of day (14:30), with its day when that is not today (14:30 on Tue, 13 Jan).
 * @param {string} iso
 */
export function formatTime(iso) {
  const d = new Date(iso);
  const time = timeFormat.format(d);
  return d.toDateString() === new Date().toDateString() ? time : `${time} on ${dayFormat.format(d)}`;
}

/**
 * A countdown: 4:05, 1:04:05, 2 d 1:04:05.
 * @param {number} ms
 */
export function formatCountdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const days = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  const clock = days || h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
  return days ? `${days} d ${clock}` : clock;
}

/** @param {number} ms */
export function formatClock(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

/**
 * @param {HTMLButtonElement} b
 * @param {boolean} busy
 */
export function setBusy(b, busy) {
  b.disabled = busy;
  b.setAttribute('aria-busy', String(busy));
}

// ---------------------------------------------------------------- one message at a time

/** An error replaces any notice and the other way round: the person reads the current one only. */
/** @param {string} text */
export function showError(text) {
  $('notice').hidden = true;
  $('message-text').textContent = text;
  $('message').hidden = false;
}

/** @param {string} text */
export function showNotice(text) {
  if (!text) return void ($('notice').hidden = true);
  $('message').hidden = true;
  $('notice').textContent = text;
  $('notice').hidden = false;
}

export function clearError() {
  $('message').hidden = true;
  $('message-text').textContent = '';
}

export function clearMessages() {
  clearError();
  $('notice').hidden = true;
}

/** @param {unknown} err */
export function reportError(err) {
  if (err instanceof ApiError) {
    if (!err.sessionEnded) showError(err.userMessage);
  } else if (!(err instanceof Error && err.name === 'AbortError')) {
    console.error(err);
    showError('Something went wrong in this page. Reload it and try again.');
  }
}
