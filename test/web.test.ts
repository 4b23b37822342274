import test from 'ava';
import { randomBytes } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { Stack } from './helpers/stack.js';
import { Hold, Ticket } from '../shared/db/models/index.js';

// A real browser against the real stack: the web client at `/` from sign-up to ticket.
const UI_TIMEOUT = 15_000;
const PASSWORD = 'correct-horse-battery';

let stack: Stack;
let browser: Browser;

test.before(async () => {
  stack = await Stack.start({ workers: 1 });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});
test.after.always(async () => {
  await browser?.close();
  await stack?.close();
});

type Watched = { page: Page; context: BrowserContext; foreign: string[]; errors: string[] };

/** A fresh browser profile that records every request leaving for another host and every page error. */
async function openPage(): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
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

test('when a person waits in line, holds a seat and pays, then another member sees the seat go held then sold live and the person gets a ticket', async (t) => {
  const { performanceId, seatIds } = await stack.performance(120, 2);
  const seatId = seatIds[0]!;

  // The watcher: another member, logged in through the page, admitted first, watching the seat map.
  const watcherEmail = uniqueEmail();
  t.is(
    (await stack.http('POST', '/api/members', { body: { email: watcherEmail, password: PASSWORD } })).status,
    201,
  );
  const watcher = await openPage();
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
  t.is(await watcher.page.locator('[data-testid^="zone-"]').count(), 2, 'seats are grouped by zone');
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
  t.is(
    await text(page, 'hold-seats'),
    (await seat(page, seatId).getAttribute('data-code')) + ' (VIP)150,000',
  );
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
  t.is(((await row.getByTestId('ticket-price').textContent()) ?? '').trim(), '150,000');
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
});
