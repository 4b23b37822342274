import test from 'ava';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { Stack, eventually } from './helpers/stack.js';
import { Performance } from '../shared/db/models/index.js';

// The operator's page (admin.html) in a real browser against the real stack. Screenshots go to
// $ADMIN_SCREENSHOTS (default: a folder in the system's temp dir), for people to look at.
let stack: Stack;
let browser: Browser;
test.before(async () => {
  stack = await Stack.start({ workers: 1, env: { ADMISSION_TICK_MS: '200' } });
  browser = await launchChromium();
});
test.after.always(async () => {
  await browser?.close();
  await stack?.close();
});

test('when an operator creates a performance on the admin page and drives its controls, then the sale follows and the page shows it live', async (t) => {
  const shots = process.env['ADMIN_SCREENSHOTS'] ?? path.join(tmpdir(), 'ticketing-admin-page');
  await mkdir(shots, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const origin = new URL(stack.url).origin;
  const foreign: string[] = [];
  const errors: string[] = [];
  context.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.origin !== origin) foreign.push(r.url());
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${stack.url}/`);
    await page.getByTestId('view-performances').waitFor();
    t.true(await page.getByTestId('admin-link').isHidden(), 'no "Sale controls" link for a visitor');
    await page.goto(`${stack.url}/admin.html`);
    await page.getByTestId('admin-email').fill(stack.config.adminEmail);
    await page.getByTestId('admin-password').fill(stack.config.adminPassword);
    await page.getByTestId('admin-login-submit').click();
    await page.getByTestId('admin-view').waitFor();

    // Missing fields are named in words, before anything is sent.
    await page.getByTestId('create-submit').click();
    t.is(await page.getByTestId('admin-message').innerText(), 'Enter a name, a place, a showtime.');

    const name = `Admin page ${stack.config.keyPrefix}`;
    await page.getByTestId('create-name').fill(name);
    await page.getByTestId('create-place').fill('Olympic Hall');
    await page.getByTestId('create-showtime').fill('2031-06-01T20:00');
    await page.getByTestId('create-opens').fill('2031-05-01T10:00:00');
    await page.getByTestId('create-capacity').fill('2');
    await page.getByTestId('create-submit').click();
    await page.getByTestId('admin-notice').getByText('with 100 seats').waitFor();
    for (const field of ['create-name', 'create-place', 'create-showtime', 'create-opens', 'create-capacity'])
      t.is(await page.getByTestId(field).inputValue(), '', `${field} is cleared after the create`);
    const created = await Performance.findOne({ where: { name } });
    t.truthy(created, 'the performance is in MySQL');
    const id = created!.id;
    t.is(created!.admissionCapacity, 2);
    t.truthy(created!.salesOpenAt, 'with its opening time');

    // Members join before the opening: the page shows them in line, nobody admitted.
    const members = await stack.members(3);
    for (const m of members) await stack.http('POST', `/api/performances/${id}/waiting`, { token: m.token });
    const stats = page.getByTestId('live-stats');
    await stats.getByText('In line3').waitFor();
    t.regex(await stats.innerText(), /Picking seats\s*0/);
    t.regex(await page.getByTestId('live-badges').innerText(), /Opens/);
    await page.screenshot({ path: path.join(shots, '1-created-before-opening.png'), fullPage: true });

    await page.getByTestId('control-open-now').click();
    await stats.getByText('Picking seats2').waitFor();
    await page.getByTestId('control-holds-paused').check();
    await page.getByTestId('live-badges').getByText('Holds paused').waitFor();
    const [seat] = await stack.ctx.catalogue.seats(id).then((s) => s.items);
    const hold = await stack.http('POST', `/api/performances/${id}/holds`, {
      token: members[0]!.token,
      body: { seatIds: [seat!.id] },
    });
    t.is(hold.status, 202);
    await stats.getByText('Seat requests waiting1').waitFor();
    await page.getByTestId('control-capacity').fill('3');
    await page.getByTestId('control-capacity-set').click();
    await stats.getByText('Picking seats3').waitFor();
    t.is(await page.getByTestId('admin-notice').innerText(), 'Up to 3 members may now pick seats at once.');
    await page.screenshot({ path: path.join(shots, '2-open-holds-paused.png'), fullPage: true });

    await page.getByTestId('control-holds-paused').uncheck();
    const done = await stack.settle(members[0]!.token, Number(hold.body['requestId']));
    t.is(done['status'], 'succeeded', 'the queued hold applies once holds resume');
    await eventually(async () => (await stats.innerText()).match(/Awaiting payment\s*1/));
    await page.screenshot({ path: path.join(shots, '3-resumed.png'), fullPage: true });

    // A layout from a JSON file: its fields fill the form, its grades and zones make the seats.
    const layout = {
      name: `From file ${stack.config.keyPrefix}`,
      place: 'Small Hall',
      showtime: '2031-07-01T19:30:00.000Z',
      grades: [{ name: 'A', price: 40 }],
      zones: [{ name: 'Stalls', seats: ['S-1', 'S-2', 'S-3'].map((code) => ({ code, grade: 'A' })) }],
    };
    await page.getByTestId('create-file').setInputFiles({
      name: 'layout.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(layout)),
    });
    await page.getByTestId('create-summary').getByText('1 zones, 3 seats').waitFor();
    t.is(await page.getByTestId('create-name').inputValue(), layout.name);
    await page.getByTestId('create-submit').click();
    await page.getByTestId('admin-notice').getByText('with 3 seats').waitFor();
    const fromFile = await Performance.findOne({ where: { name: layout.name } });
    t.is(fromFile?.showtime.toISOString(), layout.showtime);
    await page.getByTestId('live-at').getByText(layout.name).waitFor();

    // The queue board opens with the admin's session: no second login, the board is drawn.
    const boardAnswers: number[] = [];
    context.on('response', (r) => {
      if (new URL(r.url()).pathname.startsWith('/admin/queues')) boardAnswers.push(r.status());
    });
    const [board] = await Promise.all([
      context.waitForEvent('page'),
      page.getByTestId('queue-board-link').click(),
    ]);
    await board.waitForLoadState();
    await board.getByText(`${layout.name} (#${fromFile!.id})`).first().waitFor();
    t.false(boardAnswers.includes(401), 'the board never asked for credentials');
    await board.screenshot({ path: path.join(shots, '4-queue-board.png') });
    const cookie = (await context.cookies()).find((c) => c.name === 'queue_board');
    t.like(cookie, { path: '/admin', httpOnly: true, sameSite: 'Strict' });

    // The main page, with the same (admin) session, shows the link to the sale controls.
    await page.goto(`${stack.url}/`);
    await page.getByTestId('admin-link').waitFor();
    t.log(`screenshots in ${shots}`);
    t.deepEqual(foreign, [], 'no request to another host');
    t.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
