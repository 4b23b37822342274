// @ts-check
// The performance list (public) and the member's tickets.
import { api, serverNow } from './api.js';
import { $, el, formatDate, formatPrice, formatShortDate } from './ui.js';

/** @typedef {import('./types.js').PerformanceSummary} PerformanceSummary */

/** @param {AbortSignal} signal */
export async function showPerformances(signal) {
  const list = $('performance-list');
  list.setAttribute('aria-busy', 'true');
  /** @type {{ items: PerformanceSummary[] }} */
  const { items } = await api('GET', '/api/performances', undefined, { signal, auth: false });
  list.replaceChildren(
    ...items.map((p) =>
      el(
        'li',
        { className: 'card performance', 'data-testid': 'performance-item', 'data-performance-id': p.id },
        el('h2', { text: p.name }),
        el('p', { className: 'meta', text: `${p.place} · ${formatDate(p.showtime)}` }),
        el('p', {
          className: p.soldOut ? 'availability sold-out' : 'availability',
          'data-testid': 'performance-availability',
          text: p.soldOut
            ? 'Sold out'
            : `${p.availableCount.toLocaleString()} of ${p.seatCount.toLocaleString()} seats available`,
        }),
        el('a', {
          className: 'button primary',
          href: `#/performances/${p.id}`,
          'data-testid': 'performance-open',
          'aria-label': `See ${p.name}`,
          text: p.soldOut ? 'See details' : 'Get tickets',
        }),
      ),
    ),
  );
  list.removeAttribute('aria-busy');
  $('performances-empty').hidden = items.length > 0;
}

/** @param {AbortSignal} signal */
export async function showTickets(signal) {
  /** @type {[{ items: import('./types.js').Ticket[] }, { items: import('./types.js').Hold[] }, { items: PerformanceSummary[] }]} */
  const [{ items }, holds, performances] = await Promise.all([
    api('GET', '/api/me/tickets', undefined, { signal }),
    api('GET', '/api/me/holds', undefined, { signal }),
    api('GET', '/api/performances', undefined, { signal, auth: false }).catch(() => ({ items: [] })),
  ]);
  const byId = new Map(performances.items.map((p) => [p.id, p]));
  /** @param {number} id */
  const nameOf = (id) => byId.get(id)?.name ?? `Performance #${id}`;
  // A card per ticket: readable on a phone without scrolling sideways.
  $('ticket-list').replaceChildren(
    ...items.map((t) => {
      const p = byId.get(t.performanceId);
      return el(
        'li',
        { className: 'card ticket', 'data-testid': 'ticket-row' },
        el('h2', { 'data-testid': 'ticket-performance', text: nameOf(t.performanceId) }),
        p
          ? el('p', {
              className: 'meta',
              'data-testid': 'ticket-when',
              text: `${p.place} · ${formatShortDate(p.showtime)}`,
            })
          : null,
        el(
          'p',
          { className: 'ticket-seat-line' },
          t.zone ? el('span', { 'data-testid': 'ticket-zone', text: `${t.zone} · ` }) : null,
          'Seat ',
          el('strong', { 'data-testid': 'ticket-seat', text: t.seatCode }),
        ),
        el(
          'p',
          { className: 'ticket-foot' },
          el('span', { 'data-testid': 'ticket-price', text: formatPrice(t.price, p?.currency) }),
          el('code', { 'data-testid': 'ticket-serial', text: t.serial }),
        ),
      );
    }),
  );
  $('ticket-list').hidden = items.length === 0;
  $('tickets-empty').hidden = items.length > 0;
  // Seats still held (the person left the seat map before paying): a way back to pay for them.
  const now = serverNow();
  const live = holds.items.filter((h) => h.status === 'held' && Date.parse(h.expiresAt) > now);
  $('pending-list').replaceChildren(
    ...live.map((h) =>
      el(
        'li',
        { 'data-testid': 'pending-hold' },
        `${h.seatIds.length} seat${h.seatIds.length === 1 ? '' : 's'} for ${nameOf(h.performanceId)}, held until ${new Date(
          Date.parse(h.expiresAt) - (now - Date.now()),
        ).toLocaleTimeString()}. `,
        el('a', { href: `#/performances/${h.performanceId}`, text: 'Continue to payment' }),
      ),
    ),
  );
  $('pending-holds').hidden = live.length === 0;
}
