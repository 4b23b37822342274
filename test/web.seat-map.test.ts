import test from 'ava';
import { type Browser, type Page } from 'playwright-core';
import { launchChromium, pageAs as openPage } from './helpers/browser.js';
import { Stack, type TestMember } from './helpers/stack.js';
import { seedPerformance } from '../shared/testing/seed.js';

// The seat map as people see it, on a 390 px phone and a 1280 px desktop: every seat of a 30-seat
// row within reach, the allowance shown and enforced before any request, counters that follow the
// live seat events.
const VIEWPORTS = [
  { width: 390, height: 844 },
  { width: 1280, height: 900 },
];

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

/** A logged-in page that also records its hold requests. */
async function pageAs(member: TestMember, viewport: { width: number; height: number }) {
  const opened = await openPage(browser, member, viewport);
  const holdPosts: string[] = [];
  opened.page.on('request', (r) => {
    if (r.method() === 'POST' && /\/holds$/.test(new URL(r.url()).pathname)) holdPosts.push(r.url());
  });
  return { ...opened, holdPosts };
}

async function text(page: Page, testId: string): Promise<string> {
  return ((await page.getByTestId(testId).textContent()) ?? '').trim();
}

/** Buys `seatIds` for `member` through the API (hold, then an approved card). */
async function buy(member: TestMember, performanceId: number, seatIds: number[]): Promise<void> {
  await stack.admit(member.token, performanceId);
  const hold = await stack.http('POST', `/api/performances/${performanceId}/holds`, {
    token: member.token,
    body: { seatIds },
  });
  const held = await stack.settle(member.token, Number(hold.body['requestId']));
  const holdId = (held['hold'] as { id: number }).id;
  const confirm = await stack.http('POST', `/api/holds/${holdId}/confirm`, {
    token: member.token,
    body: { payment: { method: 'card', token: 'approve-test' } },
  });
  const done = await stack.settle(member.token, Number(confirm.body['requestId']));
  if (done['status'] !== 'succeeded') throw new Error(`purchase failed: ${JSON.stringify(done)}`);
}

/**
 * Brings a seat into the seat map's visible part the way a person would: the page scrolls up and
 * down, the map only by its arrows (the visible cue); then the seat is clicked where it shows.
 */
async function reachAndClick(page: Page, seatId: number): Promise<void> {
  const seat = page.getByTestId(`seat-${seatId}`);
  const map = page.getByTestId('seat-map');
  for (let i = 0; i < 20; i++) {
    const [s, m] = [await seat.boundingBox(), await map.boundingBox()];
    if (!s || !m) throw new Error('seat or map not drawn');
    if (s.x >= m.x - 0.5 && s.x + s.width <= m.x + m.width + 0.5) {
      await page.evaluate((y) => window.scrollTo(0, window.scrollY + y - 300), s.y);
      const box = (await seat.boundingBox())!;
      await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
      return;
    }
    const cue = page.getByTestId(s.x < m.x ? 'seat-scroll-left' : 'seat-scroll-right');
    if (!(await cue.isVisible())) throw new Error(`seat ${seatId} is out of view and no cue says so`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await cue.click({ noWaitAfter: true });
    await page.waitForTimeout(400); // the smooth scroll of one arrow click
  }
  throw new Error(`seat ${seatId} could not be reached`);
}

for (const viewport of VIEWPORTS) {
  test.serial(
    `when a member uses the seat map at ${viewport.width} px, then every seat of a 30-seat row can be reached and selected, the allowance is shown and enforced before the request, and the counters move live`,
    async (t) => {
      // Block 101: 25 rows of 30 seats; block 102: one row of 30.
      const { performanceId, seatIds } = await seedPerformance(stack.ctx.catalogue, 780, {
        name: `Seat map ${viewport.width} ${stack.config.keyPrefix}`,
        layout: 'stadium',
      });
      const [member, other] = await stack.members(2);
      // The member already bought 2 seats (the last two of block 101's last row): 2 of 4 are left.
      await buy(member!, performanceId, [seatIds[748]!, seatIds[749]!]);

      const { page, context, errors, holdPosts } = await pageAs(member!, viewport);
      await page.goto(`${stack.url}/#/performances/${performanceId}`);
      const rowA = page.getByTestId('seat-row').first();
      await rowA.locator('button.seat').first().waitFor();
      t.is(await rowA.getAttribute('aria-label'), 'Block 101, row A');
      t.is(await rowA.locator('button.seat').count(), 30);
      t.is(
        await rowA.locator('button.seat').nth(29).textContent(),
        '30',
        'seats are labelled by their number',
      );
      await page.getByTestId('allowance').filter({ hasText: 'You can still hold 2 of 4' }).waitFor();
      t.is(await text(page, 'performance-detail-availability'), '778 of 780 seats available');
      const overflows = await page.getByTestId('seat-map').evaluate((m) => m.scrollWidth > m.clientWidth + 1);
      t.is(
        await page.getByTestId('seat-scroll-cue').isVisible(),
        overflows,
        'the cue shows exactly when the rows overflow',
      );
      if (viewport.width >= 1280) t.false(overflows, 'a desktop shows a whole 30-seat row');
      t.true(
        await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
        'the page itself never scrolls sideways',
      );

      // Every seat of row A: reached, selected, unselected.
      for (let i = 0; i < 30; i++) {
        const id = seatIds[i]!;
        await reachAndClick(page, id);
        t.is(
          await page.getByTestId(`seat-${id}`).getAttribute('aria-pressed'),
          'true',
          `seat ${i + 1} selected`,
        );
        await reachAndClick(page, id);
        t.is(await page.getByTestId(`seat-${id}`).getAttribute('aria-pressed'), 'false');
      }
      await page.screenshot({ path: `/tmp/seat-map-${viewport.width}.png`, fullPage: true });

      // Seats 5 and 6 of row C, then a third: the page refuses it and asks nothing of the server.
      for (const i of [64, 65, 66]) await reachAndClick(page, seatIds[i]!);
      t.is(await text(page, 'selection-summary'), 'Block 101, row C, seats 5–6');
      t.is(await page.getByTestId(`seat-${seatIds[66]}`).getAttribute('aria-pressed'), 'false');
      t.regex(await text(page, 'message-text'), /You can still hold 2 of 4/);
      t.is(await text(page, 'hold-button'), 'Hold 2 seats');
      t.deepEqual(holdPosts, [], 'no hold was requested');

      // Another member holds a seat of this block and one of the other block: both counters move.
      const left101 = page.locator('[data-testid="zone-option"]').nth(0).getByTestId('zone-left');
      const left102 = page.locator('[data-testid="zone-option"]').nth(1).getByTestId('zone-left');
      t.is(await left101.textContent(), '748 left');
      t.is(await left102.textContent(), '30 left');
      await stack.admit(other!.token, performanceId);
      const held = await stack.http('POST', `/api/performances/${performanceId}/holds`, {
        token: other!.token,
        body: { seatIds: [seatIds[100]!, seatIds[760]!] },
      });
      t.is((await stack.settle(other!.token, Number(held.body['requestId'])))['status'], 'succeeded');
      await page
        .getByTestId('performance-detail-availability')
        .filter({ hasText: '776 of 780 seats available' })
        .waitFor();
      await left101.filter({ hasText: '747 left' }).waitFor();
      await left102.filter({ hasText: '29 left' }).waitFor();
      t.is(await page.getByTestId(`seat-${seatIds[100]}`).getAttribute('data-status'), 'held');

      // The hold goes through with the two seats; the allowance is then used up.
      await page.getByTestId('hold-button').click();
      await page.getByTestId('hold-panel').waitFor();
      await page.getByTestId('allowance').filter({ hasText: 'You have all 4 seats' }).waitFor();
      t.is(holdPosts.length, 1);
      t.deepEqual(errors, []);
      await context.close();
    },
  );
}

test.serial(
  'when a member picks a zone while the live seat events are still connecting, then that zone stays drawn and moves live',
  async (t) => {
    // Block 101: 25 rows of 30 seats; block 102: one row of 30 (seats 750–779).
    const { performanceId, seatIds } = await seedPerformance(stack.ctx.catalogue, 780, {
      name: `Early pick ${stack.config.keyPrefix}`,
      layout: 'stadium',
    });
    const [member, other] = await stack.members(2);
    const { page, context, errors } = await pageAs(member!, { width: 390, height: 844 });
    // The event stream connects late (a busy server): the zones are on screen before it.
    let connected = false;
    await context.route('**/seats/events*', async (route) => {
      await new Promise((r) => setTimeout(r, 2_000));
      connected = true;
      await route.continue();
    });
    await page.goto(`${stack.url}/#/performances/${performanceId}`);
    await page.getByTestId('zone-option').nth(1).click();
    t.false(connected, 'the zone was picked before the events connected');
    await page.getByTestId('zone-seats').filter({ hasText: 'Block 102' }).waitFor();
    // The stream connects after the pick: the page must not switch to its default zone then.
    await page.waitForFunction(() => document.querySelector('[data-testid="zone-seats"] h3') !== null);
    while (!connected) await page.waitForTimeout(100);
    await page.waitForTimeout(1_000);
    t.is(await page.locator('[data-testid="zone-seats"] h3').textContent(), 'Block 102');
    t.is(
      await page
        .locator('[data-testid="zone-option"][aria-pressed="true"]')
        .locator('.zone-name')
        .textContent(),
      'Block 102',
    );
    // And the picked zone follows the live events.
    await stack.admit(other!.token, performanceId);
    const held = await stack.http('POST', `/api/performances/${performanceId}/holds`, {
      token: other!.token,
      body: { seatIds: [seatIds[760]!] },
    });
    t.is((await stack.settle(other!.token, Number(held.body['requestId'])))['status'], 'succeeded');
    await page.locator(`[data-testid="seat-${seatIds[760]}"][data-status="held"]`).waitFor();
    t.deepEqual(errors, []);
    await context.close();
  },
);
