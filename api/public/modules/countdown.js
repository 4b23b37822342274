// @ts-check
// The hold's countdown: one clock at a time, by the server's time.
import { serverNow } from './api.js';
import { $, formatClock } from './ui.js';

/** @type {ReturnType<typeof setInterval> | null} */
let timer = null;

/**
 * Shows the time left until `expiresAt` in #hold-countdown, every second.
 * @param {number} expiresAt epoch ms, server time
 * @param {{ onTick: () => void, onExpired: () => void }} on
 */
export function startCountdown(expiresAt, { onTick, onExpired }) {
  stopCountdown();
  const out = $('hold-countdown');
  const tick = () => {
    const left = expiresAt - serverNow();
    out.textContent = formatClock(left);
    out.parentElement?.classList.toggle('urgent', left < 60_000);
    if (left <= 0) {
      stopCountdown();
      onExpired();
    }
  };
  tick();
  timer = setInterval(() => {
    tick();
    onTick();
  }, 1000);
}

export function stopCountdown() {
  if (timer) clearInterval(timer);
  timer = null;
}
