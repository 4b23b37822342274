import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchChromium } from './helpers/browser.js';
import { ROOT } from './helpers/stack.js';
import { saleFigures, type Summary } from '../scripts/onsale/report.js';

// The sale report as a reader sees it: a small sale run by the simulator, its report.html drawn in
// Chromium. No two labels of a chart overlap, and the tiles' arithmetic can be redone.

function load(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/load.ts', ...args], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

type Box = { x: number; y: number; width: number; height: number; text: string };

test('when a small sale’s report is drawn in Chromium, then no two labels overlap, every chart has one unit and the tiles add up', async (t) => {
  const out = await mkdtemp(path.join(tmpdir(), 'onsale-report-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  const run = await load(
    `onsale --members 200 --seats 60 --capacity 30 --poll 1 --ramp 3 --hold-ttl 4 --duration 40 --out ${out}`.split(
      ' ',
    ),
  );
  t.is(run.code, 0, run.stdout.slice(-2000) + run.stderr.slice(-2000));
  const summary = JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8')) as Summary;

  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  await page.goto(`file://${path.join(out, 'report.html')}`);

  // Every text of every chart (ticks, titles, phase marks) and every legend key, per figure.
  const figures: Box[][] = await page.$$eval('figure', (figs) =>
    figs.map((f) =>
      [...f.querySelectorAll('svg text, .legend .key')].map((e) => {
        const r = e.getBoundingClientRect();
        return { x: r.x, y: r.y, width: r.width, height: r.height, text: e.textContent ?? '' };
      }),
    ),
  );
  t.true(figures.length >= 8);
  const overlaps: string[] = [];
  for (const boxes of figures)
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i]!, boxes[j]!];
        if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height)
          overlaps.push(`"${a.text}" and "${b.text}"`);
      }
  t.deepEqual(overlaps, [], 'no two labels of a chart intersect');
  await page.screenshot({ path: '/tmp/sale-report.png', fullPage: true });

  // One unit per chart: each y axis carries one name.
  const units = await page.$$eval('svg', (svgs) =>
    svgs.map((s) => s.querySelectorAll('text[transform]').length),
  );
  t.true(units.every((n) => n === 1));

  // The tiles: their figures, and that a reader can redo the sums from them.
  const tile = (name: string) => page.locator(`[data-tile="${name}"]`);
  const data = async (name: string, key: string) => Number(await tile(name).getAttribute(`data-${key}`));
  t.is(await data('seats sold', 'sold'), summary.sale.sold);
  t.is(await data('seats sold', 'seats'), summary.performance.seats);
  const f = saleFigures(summary);
  const timeTile = summary.sale.soldOut ? 'time to sell out' : 'selling time (not sold out)';
  const from = await data(timeTile, 'from');
  const to = await data(timeTile, 'to');
  const seconds = await data(timeTile, 'seconds');
  t.is(from, summary.sale.timeline.find((p) => p.sold > 0)!.t, 'from the first seat sold');
  if (summary.sale.soldOut) t.is(to, summary.sale.timeToSellOutSeconds!, 'to the last seat sold');
  t.true(Math.abs(seconds - (to - from)) < 1e-9, 'the time is the difference of the two');
  const rate = await data('seats sold per second', 'rate');
  t.true(Math.abs(rate - summary.sale.sold / seconds) <= 0.05, `${rate} = ${summary.sale.sold} ÷ ${seconds}`);
  t.is(f.sellingSeconds, seconds);
  const shown = Number(((await tile('seats sold per second').locator('b').textContent()) ?? '').trim());
  t.is(shown, rate, 'the tile shows the figure it is computed from');

  // Words, not code names; the settings as a table, not JSON.
  const body = await page.locator('body').innerText();
  t.notRegex(body, /letExpire|gaveUp|leftSoldOut|lostPlace|holdTtlSeconds|\{"/);
  t.regex(body, /Settings of this run/);
  if (summary.sale.soldOut && (summary.sale.timeline.at(-1)?.line ?? 0) > 0)
    t.regex(body, /still waiting when the last seat sold/);
});
