import test from 'ava';
import { type Browser } from 'playwright-core';
import { launchChromium, pageAs as openPage } from './helpers/browser.js';
import { Stack, type TestMember } from './helpers/stack.js';
import { seedPerformance } from '../shared/testing/seed.js';

// Best available in the web client: the member names a count, a block and "together"; the server
// picks the seats, and the page shows them on the map and names them as the map does.

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

/** A logged-in page that also records the bodies of its hold requests. */
async function pageAs(member: TestMember, viewport: { width: number; height: number }) {
  const opened = await openPage(browser, member, viewport);
  const holdBodies: unknown[] = [];
  opened.page.on('request', (r) => {
    if (r.method() === 'POST' && /\/holds$/.test(new URL(r.url()).pathname))
      holdBodies.push(r.postDataJSON());
  });
  return { ...opened, holdBodies };
}

test.serial(
  'when an admitted member asks at 1280 px for the best 2 seats together in a block, then the two seats it got are named and marked on the map',
  async (t) => {
    // Block 101: 25 rows of 30 seats; block 102: one row of 30 (not the block shown first).
    const { performanceId, seatIds } = await seedPerformance(stack.ctx.catalogue, 780, {
      name: `Best available ${stack.config.keyPrefix}`,
      layout: 'stadium',
    });
    const [member] = await stack.members(1);
    const { page, context, errors, holdBodies } = await pageAs(member!, { width: 1280, height: 900 });
    await page.goto(`${stack.url}/#/performances/${performanceId}`);
    await page.getByTestId('seat-row').first().locator('button.seat').first().waitFor();
    await page.getByTestId('allowance').filter({ hasText: 'You can still hold 4 of 4' }).waitFor();

    // The count offers 1 to the allowance; the blocks are the performance's.
    t.deepEqual(await page.getByTestId('best-count').locator('option').allTextContents(), [
      '1',
      '2',
      '3',
      '4',
    ]);
    t.deepEqual(await page.getByTestId('best-zone').locator('option').allTextContents(), [
      'Any block',
      'Block 101',
      'Block 102',
    ]);
    t.true(await page.getByTestId('best-together').isChecked(), '"together" is on by default');
    const zone102 = await page
      .getByTestId('best-zone')
      .locator('option', { hasText: 'Block 102' })
      .getAttribute('value');

    await page.getByTestId('best-count').selectOption('2');
    await page.getByTestId('best-zone').selectOption({ label: 'Block 102' });
    await page.getByTestId('best-submit').click();
    await page.getByTestId('hold-panel').waitFor();
    t.deepEqual(holdBodies, [{ best: { count: 2, zoneId: Number(zone102), together: true } }]);

    // The map turned to block 102 and marks the two seats held by this member.
    await page.getByTestId('zone-seats').filter({ hasText: 'Block 102' }).waitFor();
    const mine = page.locator('[data-testid="seat-map"] button.seat.mine');
    await t.notThrowsAsync(() => mine.nth(1).waitFor());
    t.is(await mine.count(), 2);
    const ids = (await mine.evaluateAll((bs) => bs.map((b) => Number(b.getAttribute('data-seat-id'))))).sort(
      (a, b) => a - b,
    );
    t.true(
      ids.every((id) => seatIds.indexOf(id) >= 750),
      'both seats are in block 102',
    );
    t.is(ids[1]! - ids[0]!, 1, 'the seats are next to each other');
    const numbers = await mine.allTextContents();
    for (const id of ids)
      t.regex((await page.getByTestId(`seat-${id}`).getAttribute('aria-label')) ?? '', /held by you/);

    // Named as the map names seats: in the summary, the notice and the hold's list.
    const named = `Block 102, row A, seats ${numbers[0]}–${numbers[1]}`;
    t.is(
      ((await page.getByTestId('selection-summary').textContent()) ?? '').trim(),
      `Held for you: ${named}. Pay for or release them before picking others.`,
    );
    t.regex((await page.getByTestId('notice').textContent()) ?? '', new RegExp(`^${named}: held for you`));
    t.deepEqual(
      (await page.getByTestId('hold-seat').locator('span:first-child').allTextContents()).map((s) =>
        s.replace(/ \(.*\)$/, ''),
      ),
      numbers.map((n) => `Block 102, row A, seat ${n}`),
    );
    await page.getByTestId('allowance').filter({ hasText: 'You can still hold 2 of 4' }).waitFor();
    t.true(await page.getByTestId('best-submit').isDisabled(), 'no second request while a hold lasts');
    await page.screenshot({ path: '/tmp/web-best-1280.png', fullPage: true });
    t.deepEqual(errors, []);
    await context.close();
  },
);

test.serial(
  'when an admitted member on a 390 px phone asks for the best 3 seats together, then the form sits above the map in reach and the seats it got are marked',
  async (t) => {
    const { performanceId } = await seedPerformance(stack.ctx.catalogue, 780, {
      name: `Best available on a phone ${stack.config.keyPrefix}`,
      layout: 'stadium',
    });
    const [member] = await stack.members(1);
    const { page, context, errors, holdBodies } = await pageAs(member!, { width: 390, height: 844 });
    await page.goto(`${stack.url}/#/performances/${performanceId}`);
    await page.getByTestId('seat-row').first().locator('button.seat').first().waitFor();
    await page.getByTestId('allowance').filter({ hasText: 'You can still hold 4 of 4' }).waitFor();

    // The form is shown above the map, fully on screen without scrolling, not under the fixed
    // selection bar, and the page does not scroll sideways.
    const box = async (testId: string) => (await page.getByTestId(testId).boundingBox())!;
    const form = await box('best-panel');
    const map = await box('seat-map');
    const bar = await box('selection-panel');
    t.true(form.y + form.height <= map.y, `the form is above the map: ${JSON.stringify({ form, map })}`);
    t.true(form.x >= 0 && form.x + form.width <= 390, `the form fits the width: ${JSON.stringify(form)}`);
    t.true(
      form.y + form.height <= bar.y,
      `the selection bar covers no part of it: ${JSON.stringify({ form, bar })}`,
    );
    for (const id of ['best-count', 'best-zone', 'best-grade', 'best-together', 'best-submit']) {
      // The checkbox is tapped by its label.
      const b =
        id === 'best-together'
          ? (await page.locator('label[for="best-together"]').boundingBox())!
          : await box(id);
      t.true(
        b.width >= 16 && b.height >= 16 && b.x + b.width <= 390,
        `${id} is in reach: ${JSON.stringify(b)}`,
      );
      // What a tap at its centre reaches is the control itself (or its label).
      const hit = await page.evaluate(
        ([x, y]) => document.elementFromPoint(x!, y!)?.closest('select, input, button, label')?.id ?? '',
        [b.x + b.width / 2, b.y + b.height / 2],
      );
      t.true(hit === id || hit === '', `a tap on ${id} reaches it, not ${hit}`);
    }
    t.true((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390);
    await page.screenshot({ path: '/tmp/web-best-390.png' });

    await page.getByTestId('best-count').selectOption('3');
    await page.getByTestId('best-zone').selectOption({ label: 'Block 101' });
    await page.getByTestId('best-submit').click();
    await page.getByTestId('hold-panel').waitFor();
    t.is(holdBodies.length, 1);
    t.like(holdBodies[0], { best: { count: 3, together: true } });
    const mine = page.locator('[data-testid="seat-map"] button.seat.mine');
    await t.notThrowsAsync(() => mine.nth(2).waitFor());
    t.is(await mine.count(), 3);
    const ids = (await mine.evaluateAll((bs) => bs.map((b) => Number(b.getAttribute('data-seat-id'))))).sort(
      (a, b) => a - b,
    );
    t.deepEqual(ids, [ids[0]!, ids[0]! + 1, ids[0]! + 2], 'three seats side by side');
    const numbers = await mine.allTextContents();
    t.is(
      ((await page.getByTestId('selection-summary').textContent()) ?? '').trim(),
      `Held for you: Block 101, row A, seats ${numbers[0]}–${numbers[2]}. Pay for or release them before picking others.`,
    );
    await page.screenshot({ path: '/tmp/web-best-390-held.png', fullPage: true });
    t.deepEqual(errors, []);
    await context.close();
  },
);
