import test from 'ava';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium, pageAs } from './helpers/browser.js';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import type { WaitingStatus } from '../shared/waiting-room/waiting-room.js';

// The web client's waiting room in a real browser: it follows the server's pace (a long-poll near the
// front, a sleep further back), shows the place in line, and before the opening a local countdown.
const UI_TIMEOUT = 15_000;

let stack: Stack;
let browser: Browser;

test.before(async () => {
  // A quick ticker, so the room measures its admission rate soon after the turnover below.
  stack = await Stack.start({ workers: 1, env: { ADMISSION_TICK_MS: '200' } });
  browser = await launchChromium();
});
test.after.always(async () => {
  await browser?.close();
  await stack?.close();
});

type LineRequest = { at: number; method: string; waitSeconds: string | null };

/**
 * A page logged in as `member` (its session put where the client keeps it, as a login would), open
 * at the performance, recording every request to that performance's waiting room and every page error.
 */
async function openAs(member: TestMember, performanceId: number) {
  const { page, context, errors } = await pageAs(browser, member, { width: 1280, height: 900 }, UI_TIMEOUT);
  const line: LineRequest[] = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname === `/api/performances/${performanceId}/waiting`)
      line.push({ at: Date.now(), method: r.method(), waitSeconds: url.searchParams.get('waitSeconds') });
  });
  await page.goto(`${stack.url}/#/performances/${performanceId}`);
  return { page, context, errors, line };
}

async function text(page: Page, testId: string): Promise<string> {
  return ((await page.getByTestId(testId).textContent()) ?? '').trim();
}

const leave = (m: TestMember, id: number) =>
  stack.http('DELETE', `/api/performances/${id}/waiting`, { token: m.token });

/** 1:02:03 or 4:05 → seconds. */
function seconds(clock: string): number {
  return clock.split(':').reduce((sum, part) => sum * 60 + Number(part), 0);
}

test.serial(
  'when a member waits second behind a full room, then it sees its place, the people ahead and the wait, holds a long-poll instead of polling, and gets the seat map within seconds of the member ahead leaving',
  async (t) => {
    const { performanceId, seatIds } = await stack.performance(20, 1);
    // Turnover: members pass through the one-place room, so the room measures a brisk rate and the
    // second in line is within the push window (ETA ≤ 30 s: the server says nextPollSeconds 0).
    for (const m of await stack.members(4)) {
      await stack.admit(m.token, performanceId);
      t.is((await leave(m, performanceId)).status, 204);
    }
    const [blocker, ahead, member] = await stack.members(3);
    await stack.admit(blocker!.token, performanceId);
    await eventually(async () => {
      const r = await stack.http<WaitingStatus>('POST', `/api/performances/${performanceId}/waiting`, {
        token: ahead!.token,
      });
      return r.body.position === 1 && r.body.etaSeconds <= 15;
    }, 5000);

    const { page, context, errors, line } = await openAs(member!, performanceId);
    await page.getByTestId('waiting-room').waitFor();
    await page.getByTestId('waiting-position').filter({ hasText: /^2$/ }).waitFor();
    t.is(await text(page, 'waiting-ahead'), '1 person ahead of you');
    t.regex(await text(page, 'waiting-eta'), /^\d+ s$/, 'the ETA from the measured rate');
    t.regex(await text(page, 'waiting-ticket'), /^#\d+$/);
    t.is(await page.getByTestId('waiting-live').getAttribute('aria-live'), 'polite');
    t.true(await page.getByTestId('waiting-opening').isHidden(), 'the sale is open: no countdown');
    t.true(await page.getByTestId('seat-area').isHidden());
    await page.screenshot({ path: '/tmp/web-line-waiting.png', fullPage: true });

    // Near the front the page asks once and the server holds the answer.
    await eventually(async () => line.some((r) => r.method === 'GET'), 5000);
    const waitingSince = Date.now();
    // The blocker leaves: the member ahead gets the place; this member is next, still held.
    t.is((await leave(blocker!, performanceId)).status, 204);
    await new Promise((r) => setTimeout(r, 4000));
    t.true(await page.getByTestId('waiting-room').isVisible());

    // The member ahead leaves: the held answer comes back at once and the seat map appears.
    const left = Date.now();
    t.is((await leave(ahead!, performanceId)).status, 204);
    await page.locator(`[data-testid="seat-${seatIds[0]}"][data-status="available"]`).waitFor();
    const shownAfterMs = Date.now() - left;
    t.true(
      shownAfterMs < 5000,
      `the seat map within seconds of the member ahead leaving: ${shownAfterMs} ms`,
    );
    t.true(await page.getByTestId('waiting-room').isHidden());

    const gets = line.filter((r) => r.method === 'GET' && r.at < left + shownAfterMs);
    t.true(gets.length >= 1);
    t.true(
      gets.every((r) => r.waitSeconds === '30'),
      `every read of the line was a long-poll: ${JSON.stringify(gets)}`,
    );
    t.true(
      gets.length <= 2,
      `${gets.length} reads over ${Date.now() - waitingSince} ms of waiting, not a poll every few seconds`,
    );
    t.deepEqual(errors, [], 'no script errors');
    await context.close();
  },
);

test.serial(
  'when a member joins before the sale opens, then the page shows the opening time and a countdown that ticks without asking the server',
  async (t) => {
    const { performanceId } = await stack.performance(10, 5);
    const opensAt = new Date(Date.now() + 2 * 3600_000);
    const patched = await stack.http('PATCH', `/api/performances/${performanceId}`, {
      token: await stack.admin(),
      body: { salesOpenAt: opensAt.toISOString() },
    });
    t.is(patched.status, 200);
    const [member] = await stack.members(1);

    const { page, context, errors, line } = await openAs(member!, performanceId);
    await page.getByTestId('waiting-opening').waitFor();
    await page.getByTestId('waiting-position').filter({ hasText: /^1$/ }).waitFor();
    t.is(await text(page, 'waiting-ahead'), 'You are next');
    t.regex(await text(page, 'waiting-eta'), /^2 h \d+ min$/, 'the wait counts the time until the opening');

    // The opening time, as this browser writes a time of day, with the instant in `datetime`.
    const time = page.getByTestId('waiting-opens-at');
    t.true(Math.abs(Date.parse((await time.getAttribute('datetime')) ?? '') - opensAt.getTime()) < 1000);
    const hhmm = await page.evaluate(
      (iso) =>
        new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' }).format(new Date(iso)),
      opensAt.toISOString(),
    );
    t.true((await text(page, 'waiting-opening')).startsWith(`Sales open at ${hhmm}`));

    // The countdown ticks each second, and no read of the line is made for it: the server's pace
    // (nextPollSeconds) before an opening two hours away is far longer than this test.
    const countdown = page.getByTestId('waiting-countdown');
    t.is(await countdown.getAttribute('role'), 'timer', 'a timer, not a live region read out every second');
    t.is(await page.locator('[aria-live="polite"] [data-testid="waiting-countdown"]').count(), 0);
    const first = await text(page, 'waiting-countdown');
    t.regex(first, /^Opens in \d+:\d{2}:\d{2}$/);
    const left = seconds(first.slice('Opens in '.length));
    t.true(
      Math.abs(left - (opensAt.getTime() - Date.now()) / 1000) < 10,
      `${first} for an opening in two hours`,
    );
    const readsBefore = line.length;
    await page.waitForTimeout(2500);
    const later = seconds((await text(page, 'waiting-countdown')).slice('Opens in '.length));
    t.true(left - later >= 2 && left - later <= 4, `the countdown went from ${left} to ${later}`);
    t.is(line.length, readsBefore, 'the countdown is local: no request for it');
    t.deepEqual(
      line.map((r) => r.method),
      ['POST'],
      'the page joined, and sleeps the pace before asking again',
    );
    await page.screenshot({ path: '/tmp/web-line-opening.png', fullPage: true });
    t.deepEqual(errors, [], 'no script errors');
    await context.close();
  },
);
