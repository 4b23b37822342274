// @ts-check
// "Best available: N seats in [block / grade]": the server picks the seats at the request's turn
// (README "Best available"); the page asks within the member's allowance and, once held, shows the
// seats it got on the map and names them as the map does.
import { currentPage } from './page.js';
import { requestHold } from './hold.js';
import { $, el } from './ui.js';

/**
 * @typedef {import('./page.js').Page} Page
 */

/** @param {string} id */
function select(id) {
  return /** @type {HTMLSelectElement} */ ($(id));
}

/**
 * The block and grade choices of this performance ("Any" first).
 * @param {Page} p
 */
export function renderBestForm(p) {
  select('best-zone').replaceChildren(
    el('option', { value: '', text: 'Any block' }),
    ...p.perf.zones.map((z) => el('option', { value: z.id, text: z.name })),
  );
  select('best-grade').replaceChildren(
    el('option', { value: '', text: 'Any grade' }),
    ...p.perf.grades.map((g) => el('option', { value: g.id, text: g.name })),
  );
  /** @type {HTMLInputElement} */ ($('best-together')).checked = true;
}

/** @param {SubmitEvent} event */
export async function requestBest(event) {
  event.preventDefault();
  const p = currentPage();
  if (!p) return;
  const count = Number(select('best-count').value);
  if (!Number.isInteger(count) || count < 1) return;
  /** @type {{ count: number, zoneId?: number, gradeId?: number, together?: true }} */
  const best = { count };
  const zone = select('best-zone').value;
  const grade = select('best-grade').value;
  if (zone) best.zoneId = Number(zone);
  if (grade) best.gradeId = Number(grade);
  if (/** @type {HTMLInputElement} */ ($('best-together')).checked) best.together = true;
  p.touch();
  await requestHold(p, { best });
}
