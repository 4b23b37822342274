import test from 'ava';
import { randomBytes } from 'node:crypto';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { Stack } from './helpers/stack.js';
import { Hold, Ticket } from '../shared/db/models/index.js';
import { seedPerformance } from '../shared/testing/seed.js';

// A real browser against the real stack: the web client at `/` from sign-up to ticket.
const UI_TIMEOUT = 15_000;
const PASSWORD = 'correct-horse-battery';

let stack: Stack;
let browser: Browser;

test.before(async () => {
  stack = await Stack.start({ workers: 1 });
  browser = await launchChromium();
});
test.after.always(async () => {
  await browser?.close();
  await stack?.close();
});

type Watched = { page: Page; context: BrowserContext; foreign: string[]; errors: string[] };

/** A fresh browser profile that records every request leaving for another host and every page error. */
async function openPage(viewport = { width: 1280, height: 900 }): Promise<Watched> {
  const context = await browser.newContext({ viewport });
  const origin = new URL(stack.url).origin;
  const foreign: string[] = [];
  const errors: string[] = [];
  context.on('request', (r) => {
    const url = new URL(r.url());
    if (url.protocol !== 'data:' && url.origin !== origin) foreign.push(r.url());
  });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${stack.url}/`);
  return { page, context, foreign, errors };
}

function uniqueEmail(): string {
  return `web-${randomBytes(5).toString('hex')}@example.com`;
}

async function logIn(page: Page, email: string): Promise<void> {
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('view-performances').waitFor();
}

async function openPerformance(page: Page, performanceId: number): Promise<void> {
  await page
    .locator(`[data-testid="performance-item"][data-performance-id="${performanceId}"]`)
    .getByTestId('performance-open')
    .click();
}

function seat(page: Page, seatId: number, status?: string) {
  return page.locator(`[data-testid="seat-${seatId}"]${status ? `[data-status="${status}"]` : ''}`);
}

async function text(page: Page, testId: string): Promise<string> {
  return ((await page.getByTestId(testId).textContent()) ?? '').trim();
}

test.serial(
  'when a person waits in line, holds a seat and pays, then another member sees the seat go held then sold live and the person gets a ticket',
  async (t) => {
    const { performanceId, seatIds } = await stack.performance(120, 2);
    const seatId = seatIds[0]!;

    // The watcher: another member, logged in through the page, admitted first, watching the seat map.
    const watcherEmail = uniqueEmail();
    t.is(
      (await stack.http('POST', '/api/members', { body: { email: watcherEmail, password: PASSWORD } }))
        .status,
      201,
    );
    const watcher = await openPage();
    await watcher.page.getByTestId('view-performances').waitFor();
    await watcher.page.getByTestId('nav-login').click();
    await watcher.page.getByTestId('view-login').waitFor();
    await logIn(watcher.page, watcherEmail);
    let watcherSeatLoads = 0;
    watcher.page.on('request', (r) => {
      if (r.method() === 'GET' && new URL(r.url()).pathname === `/api/performances/${performanceId}/seats`)
        watcherSeatLoads++;
    });
    await openPerformance(watcher.page, performanceId);
    await seat(watcher.page, seatId, 'available').waitFor();
    await watcher.page.locator('[data-testid="live-status"][data-state="live"]').waitFor();
    t.is(await watcher.page.getByTestId('zone-option').count(), 2, 'seats are picked zone by zone');
    t.is(watcherSeatLoads, 1);
    let watcherNavigations = 0;
    watcher.page.on('framenavigated', (f) => {
      if (f === watcher.page.mainFrame()) watcherNavigations++;
    });

    // A second admitted member fills the last admission slot, so the person has to wait.
    const [blocker] = await stack.members(1);
    await stack.admit(blocker!.token, performanceId);

    // The person signs up and logs in in the page.
    const buyer = await openPage();
    const { page } = buyer;
    const email = uniqueEmail();
    await page.getByTestId('nav-login').click();
    await page.getByTestId('signup-email').fill(email);
    await page.getByTestId('signup-password').fill(PASSWORD);
    await page.getByTestId('signup-submit').click();
    await page.getByTestId('notice').filter({ hasText: 'account is ready' }).waitFor();
    t.is(
      await page.getByTestId('login-email').inputValue(),
      email,
      'the login form is filled with the new email',
    );
    await logIn(page, email);
    await openPerformance(page, performanceId);

    // Waiting room: position, ETA and ticket; a refresh keeps the same ticket.
    await page.getByTestId('waiting-room').waitFor();
    await page.getByTestId('waiting-position').filter({ hasText: /^1$/ }).waitFor();
    const ticket = await text(page, 'waiting-ticket');
    t.regex(ticket, /^#\d+$/);
    t.not(await text(page, 'waiting-eta'), '');
    t.is(await page.getByTestId('waiting-live').getAttribute('aria-live'), 'polite');
    await page.screenshot({ path: '/tmp/web-client-waiting.png', fullPage: true });
    await page.reload();
    await page.getByTestId('waiting-position').filter({ hasText: /^1$/ }).waitFor();
    t.is(await text(page, 'waiting-ticket'), ticket, 'a refresh keeps the place in line');
    t.true(await page.getByTestId('seat-area').isHidden());

    // The blocker leaves: the person is admitted and the seat map appears without any click.
    t.is(
      (await stack.http('DELETE', `/api/performances/${performanceId}/waiting`, { token: blocker!.token }))
        .status,
      204,
    );
    await seat(page, seatId, 'available').waitFor();
    t.true(await page.getByTestId('waiting-room').isHidden());
    await page.locator('[data-testid="live-status"][data-state="live"]').waitFor();

    // Hold one seat; the watcher sees it turn held through SSE.
    await seat(page, seatId).click();
    t.is(await seat(page, seatId).getAttribute('aria-pressed'), 'true');
    await page.getByTestId('hold-button').click();
    await page.getByTestId('hold-panel').waitFor();
    await page
      .getByTestId('hold-countdown')
      .filter({ hasText: /^\d+:\d{2}$/ })
      .waitFor();
    t.is(await text(page, 'hold-seats'), 'A, row A, seat 1 (VIP)₩150,000');
    await seat(page, seatId, 'held').waitFor();
    t.true(await seat(page, seatId).evaluate((b) => b.classList.contains('mine')));
    await seat(watcher.page, seatId, 'held').waitFor();
    t.false(
      await seat(watcher.page, seatId).evaluate((b) => b.classList.contains('mine')),
      'not the watcher’s hold',
    );
    const hold = await Hold.findOne({ where: { performanceId }, order: [['id', 'DESC']] });
    t.is(hold?.status, 'held');
    await page.screenshot({ path: '/tmp/web-client.png', fullPage: true });

    // A declined card: the gateway's reason is shown and the hold stays.
    await page.getByTestId('payment-token').fill('decline-4000');
    await page.getByTestId('pay-button').click();
    await page.getByTestId('message').waitFor();
    t.is(await text(page, 'message-text'), 'The card was declined.');
    t.true(await page.getByTestId('hold-panel').isVisible());
    t.is(await Ticket.count({ where: { seatId } }), 0);
    await page.screenshot({ path: '/tmp/web-client-declined.png', fullPage: true });

    // An approved card: the person lands on their tickets.
    await page.getByTestId('payment-token').fill('approve-ok');
    await page.getByTestId('pay-button').click();
    const row = page.getByTestId('ticket-row');
    await row.waitFor();
    t.is(await row.count(), 1);
    const serial = ((await row.getByTestId('ticket-serial').textContent()) ?? '').trim();
    t.not(serial, '');
    const issued = await Ticket.findOne({ where: { seatId } });
    t.is(serial, issued?.serial ?? '(no ticket row)', 'the serial the database issued');
    t.is(((await row.getByTestId('ticket-seat').textContent()) ?? '').trim(), 'A-1');
    t.is(((await row.getByTestId('ticket-price').textContent()) ?? '').trim(), '₩150,000');
    t.true(await page.getByTestId('message').isHidden(), 'the decline message is gone');
    await page.screenshot({ path: '/tmp/web-client-tickets.png', fullPage: true });

    // The watcher saw it all live: no reload, no second seat-map read.
    await seat(watcher.page, seatId, 'sold').waitFor();
    t.is(watcherNavigations, 0, 'the watcher page never reloaded');
    t.is(watcherSeatLoads, 1, 'seat changes came through server-sent events, not by re-reading the seat map');

    t.deepEqual(buyer.foreign, [], 'no request leaves the test server');
    t.deepEqual(watcher.foreign, [], 'no request leaves the test server');
    t.deepEqual([...buyer.errors, ...watcher.errors], [], 'no script errors');
    await buyer.context.close();
    await watcher.context.close();
  },
);

test.serial(
  'when a person on a 390 px phone browses without logging in, joins the line, picks a zone and seats, holds and pays, then the Hold button stays in view and the tickets are readable',
  async (t) => {
    const { performanceId } = await seedPerformance(stack.ctx.catalogue, 2250, {
      name: `Stadium ${stack.config.keyPrefix}`,
      layout: 'stadium',
    });
    const email = uniqueEmail();
    t.is((await stack.http('POST', '/api/members', { body: { email, password: PASSWORD } })).status, 201);
    const phone = await openPage({ width: 390, height: 844 });
    const { page } = phone;
    /** The page never scrolls sideways. */
    const pageWidth = () => page.evaluate(() => document.documentElement.scrollWidth);

    // Browse, logged out: the list and the performance with its availability.
    await page.getByTestId('view-performances').waitFor();
    t.true(await page.getByTestId('nav-login').isVisible());
    await openPerformance(page, performanceId);
    await page.getByTestId('join-panel').waitFor();
    t.regex(await text(page, 'performance-detail-availability'), /^2,250 of 2,250 seats available$/);
    t.true(await page.getByTestId('seat-area').isHidden());
    await page.screenshot({ path: '/tmp/phone-browse.png' });

    // Joining the line asks for a login, then comes back and joins.
    await page.getByTestId('join-line').click();
    await logInAndReturn(page, email);
    await page.getByTestId('zone-option').first().waitFor();
    t.is(await page.getByTestId('zone-option').count(), 3);

    // Pick the second block: its rows, their labels and the stage.
    await page.getByTestId('zone-option').nth(1).click();
    await page
      .locator('[data-testid="zone-option"][aria-pressed="true"]')
      .filter({ hasText: 'Block 102' })
      .waitFor();
    await page.getByTestId('zone-seats').filter({ hasText: 'Block 102' }).waitFor();
    t.true(await page.getByTestId('stage').isVisible());
    t.is(await page.getByTestId('seat-row').count(), 25);
    t.is(((await page.locator('.row-label').first().textContent()) ?? '').trim(), 'A');
    const picks = page.locator('[data-testid="zone-seats"] .seat-row').nth(2).locator('button.seat');
    await picks.nth(4).click();
    await picks.nth(5).click();
    t.is(await text(page, 'selection-summary'), 'Block 102, row C, seats 5–6');
    t.is(await text(page, 'selection-total'), '₩360,000');
    const hold = page.getByTestId('hold-button');
    const box = await hold.boundingBox();
    t.truthy(box);
    t.true(
      box!.y >= 0 && box!.y + box!.height <= 844,
      `the Hold button is on screen: ${JSON.stringify(box)}`,
    );
    t.is(await hold.textContent(), 'Hold 2 seats');
    t.true(await hold.isEnabled());
    t.true((await pageWidth()) <= 390, 'no sideways scrolling of the page');
    await page.screenshot({ path: '/tmp/phone-seats.png' });

    // Scrolled to the last row of the block, the button is still there.
    await page.getByTestId('seat-row').last().scrollIntoViewIfNeeded();
    const after = await hold.boundingBox();
    t.true(after!.y >= 0 && after!.y + after!.height <= 844, 'the Hold button stays in view while scrolling');

    await hold.click();
    await page.getByTestId('hold-panel').waitFor();
    t.is(await page.getByTestId('hold-seat').count(), 2);
    t.is(await text(page, 'hold-total'), '₩360,000');
    await page.screenshot({ path: '/tmp/phone-hold.png' });
    await page.getByTestId('payment-token').fill('approve-phone');
    await page.getByTestId('pay-button').click();
    await page.getByTestId('ticket-row').first().waitFor();
    t.is(await page.getByTestId('ticket-row').count(), 2);
    const first = page.getByTestId('ticket-row').first();
    t.is(await first.getByTestId('ticket-zone').textContent(), 'Block 102 · ');
    t.is(await first.getByTestId('ticket-seat').textContent(), 'C-5');
    t.regex((await first.getByTestId('ticket-when').textContent()) ?? '', /^City Stadium · .+\d/);
    t.true((await pageWidth()) <= 390, 'tickets are readable without scrolling sideways');
    t.true(await page.getByTestId('message').isHidden());
    await page.screenshot({ path: '/tmp/phone-tickets.png', fullPage: true });

    t.deepEqual(phone.foreign, [], 'no request leaves the test server');
    t.deepEqual(phone.errors, [], 'no script errors');
    await phone.context.close();
  },
);

/** The login view that the join button led to; after it, the page is back at the performance. */
async function logInAndReturn(page: Page, email: string): Promise<void> {
  await page.getByTestId('view-login').waitFor();
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('view-performance').waitFor();
}
