import type { EndpointStats, SecondStats } from './recorder.js';
import type { Invariant, SaleSecond } from './checks.js';
import type { HoldKind, HoldOutcomes } from './members.js';
import type { BestReplay } from '../../shared/testing/best-replay.js';

/** What the simulator samples of the sale every second. */
export type SaleSample = {
  t: number;
  sold: number;
  held: number;
  available: number;
  queueDepth: number;
  queueLagMs: number;
  line: number;
  admitted: number;
  requestsPerSecond: number;
};

export type Summary = {
  command: string;
  startedAt: string;
  seconds: number;
  options: Record<string, unknown>;
  service: Record<string, unknown>;
  performance: { id: number; seats: number; zones: number; hotSeats: number; contendedSeats: number };
  members: Record<string, number>;
  /** Final answers to the members' hold requests, by kind: seats named, best available. */
  holds?: Record<HoldKind, HoldOutcomes>;
  /** Best-available requests replayed at their turn (shared/testing/best-replay.ts). */
  best?: BestReplay;
  endpoints: Record<string, EndpointStats>;
  phases: {
    name: string;
    startSeconds: number;
    endSeconds: number;
    requests: number;
    errors: number;
    endpoints: Record<string, number>;
  }[];
  sale: {
    soldOut: boolean;
    timeToSellOutSeconds: number | null;
    sold: number;
    held: number;
    available: number;
    seatsSoldPerSecond: number;
    peakSeatsSoldPerSecond: number;
    maxQueueDepth: number;
    maxQueueLagMs: number;
    maxLine: number;
    timeline: SaleSample[];
    perSecond: (SaleSecond & { admissions: number })[];
  };
  endpointTimeline: Record<string, SecondStats[]>;
  /** Admission order against arrival order, seats by arrival decile, and the outside check. */
  fairness?: {
    kendallTau: number;
    largestDisplacement: number;
    seatsShareByArrivalDecile: number[];
    logEntries: number;
    verified: boolean;
    verify: string[];
    /** shuffle-at-open: Kendall's tau among the pre-queue's admitted members (≈ 0: drawn) … */
    preQueue?: { members: number; kendallTau: number };
    /** … and among those who arrived after the opening (1: arrival order). */
    afterPreQueue?: { members: number; kendallTau: number };
  };
  invariants: Invariant[];
  ok: boolean;
};

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
];

type Series = { name: string; points: [number, number][]; color?: string; dashed?: boolean };
type Mark = { at: number; label: string };

/** Words for the simulator's names; a name not listed is spelled out from its camelCase. */
const WORDS: Record<string, string> = {
  // phases
  setup: 'setting up',
  ramp: 'members arriving',
  sale: 'sale',
  drain: 'last requests',
  checks: 'checking',
  // endpoints
  join: 'join the line',
  status: 'line status',
  wait: 'line status, long-poll at the front',
  leave: 'leave the line',
  seats: 'seat map',
  hold: 'hold seats',
  request: 'request status',
  confirm: 'pay',
  release: 'release seats',
  // members
  total: 'members simulated',
  arrived: 'arrived',
  joined: 'joined the line',
  admitted: 'let in to pick seats',
  bought: 'bought tickets',
  seatsBought: 'seats bought',
  declined: 'card declined',
  released: 'released their hold',
  letExpire: 'let their hold expire',
  gaveUp: 'gave up waiting',
  leftSoldOut: 'left when it sold out',
  timedOut: 'still waiting when the run ended',
  lostPlace: 'lost their place (idle too long)',
  // settings
  command: 'command',
  members: 'members',
  hotShare: 'share of members after the same front seats',
  bestShare: 'share of members asking for best available',
  pollSeconds: 'seconds between status polls (0: the server’s pace and long-polls)',
  durationSeconds: 'longest run (s)',
  rampSeconds: 'arrivals spread over (s)',
  apis: 'API processes',
  workers: 'worker processes',
  out: 'output folder',
  url: 'service',
  capacity: 'members picking seats at once',
  holdTtlSeconds: 'hold lasts (s)',
  declineRate: 'share of cards declined',
};

/** A refusal's reason as a member reads it, with the reason's name. */
const REASONS: Record<string, string> = {
  'seat-unavailable': 'seat taken or none left',
  'no-seats-together': 'none side by side',
  'limit-exceeded': 'over the member’s limit',
};
function reasonWords(reason: string): string {
  return REASONS[reason] ? `${REASONS[reason]} (${reason})` : reason;
}

export function words(name: string): string {
  return WORDS[name] ?? name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v)!;
}

/** A generous width for text of `size` px, so labels placed apart by it never touch. */
function textWidth(text: string, size: number): number {
  return text.length * size * 0.62 + 4;
}

/** A sample further than this from the previous one starts a new line: no line is drawn across a gap. */
const GAP_SECONDS = 2.5;

function segments(points: [number, number][]): [number, number][][] {
  const out: [number, number][][] = [];
  let run: [number, number][] = [];
  for (const p of [...points].sort((a, b) => a[0] - b[0])) {
    const last = run[run.length - 1];
    if (last && p[0] - last[0] > GAP_SECONDS) {
      out.push(run);
      run = [];
    }
    run.push(p);
  }
  if (run.length) out.push(run);
  return out;
}

/**
 * A line chart of one quantity as inline SVG: axes with ticks, one line per series (broken where
 * samples are missing), the phases' labels in rows of their own above the plot so none overlaps
 * another, and the legend below in HTML (it wraps, so it overlaps nothing either).
 */
function chart(
  title: string,
  unit: string,
  series: Series[],
  xMax: number,
  marks: Mark[],
  note = '',
): string {
  const W = 880;
  const L = 64;
  const R = 24;
  const B = 36;
  const size = 10;
  // Phase labels: each in the first row where it clears the labels before it.
  const rows: number[] = [];
  const placed = [...marks]
    .sort((a, b) => a.at - b.at)
    .map((m) => {
      const w = textWidth(m.label, size);
      const at = L + (m.at / Math.max(1, xMax)) * (W - L - R);
      const left = Math.min(at + 3, W - R - w);
      let row = rows.findIndex((end) => end <= left);
      if (row < 0) row = rows.push(0) - 1;
      rows[row] = left + w + 6;
      return { ...m, left, row };
    });
  const T = 34 + rows.length * 14;
  const H = T + 200 + B;
  const yMax = niceMax(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p[1]))));
  const x = (v: number) => L + (v / Math.max(1, xMax)) * (W - L - R);
  const y = (v: number) => T + (1 - v / yMax) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<text x="${L}" y="18" class="title">${esc(title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${L - 6}" y="${y(v) + 4}" class="tick" text-anchor="end">${+v.toFixed(2)}</text>`,
    );
  }
  const step = niceMax(xMax / 8);
  for (let v = 0; v <= xMax; v += step)
    parts.push(`<text x="${x(v)}" y="${H - B + 16}" class="tick" text-anchor="middle">${v}</text>`);
  parts.push(
    `<text x="${(L + W - R) / 2}" y="${H - 3}" class="tick" text-anchor="middle">seconds since the start</text>`,
  );
  parts.push(
    `<text x="14" y="${T + (H - T - B) / 2}" class="tick" transform="rotate(-90 14 ${T + (H - T - B) / 2})" text-anchor="middle">${esc(unit)}</text>`,
  );
  for (const m of placed)
    parts.push(
      `<line x1="${x(m.at)}" x2="${x(m.at)}" y1="${T - 4}" y2="${H - B}" class="mark"/><text x="${m.left}" y="${30 + m.row * 14}" class="marktext">${esc(m.label)}</text>`,
    );
  parts.push(
    `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="axis"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" class="axis"/>`,
  );
  const legend: string[] = [];
  series.forEach((s, i) => {
    const color = s.color ?? COLORS[i % COLORS.length]!;
    const d = segments(s.points)
      .map((run) =>
        run.length === 1
          ? `M${x(run[0]![0]).toFixed(1)},${y(run[0]![1]).toFixed(1)}h0.1`
          : `M${run.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join('L')}`,
      )
      .join('');
    parts.push(
      `<path fill="none" stroke="${color}" stroke-width="1.6" stroke-linecap="round"${s.dashed ? ' stroke-dasharray="5 3"' : ''} d="${d}"/>`,
    );
    legend.push(`<span class="key"><i style="background:${color}"></i>${esc(s.name)}</span>`);
  });
  return `<figure><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg><figcaption>${legend.length > 1 ? `<div class="legend">${legend.join('')}</div>` : ''}${note ? `<p class="note">${esc(note)}</p>` : ''}</figcaption></figure>`;
}

/**
 * Series of very different sizes on one axis flatten the small ones: they go to charts of their own,
 * each holding series whose peaks are within a factor of 10 of its largest.
 */
function byScale(series: Series[]): Series[][] {
  const peak = (s: Series) => Math.max(0, ...s.points.map((p) => p[1]));
  const groups: Series[][] = [];
  for (const s of [...series].sort((a, b) => peak(b) - peak(a))) {
    const g = groups[groups.length - 1];
    if (g && peak(s) * 10 >= peak(g[0]!)) g.push(s);
    else groups.push([s]);
  }
  return groups;
}

/** What the tiles say, with the figures they are computed from (the report test redoes the sums). */
export function saleFigures(s: Summary) {
  const firstSaleAt = s.sale.timeline.find((p) => p.sold > 0)?.t ?? null;
  const soldOutAt = s.sale.timeToSellOutSeconds;
  const endAt = soldOutAt ?? s.sale.timeline[s.sale.timeline.length - 1]?.t ?? s.seconds;
  const sellingSeconds = firstSaleAt === null ? null : Math.max(0, endAt - firstSaleAt);
  const rate = sellingSeconds ? s.sale.sold / sellingSeconds : null;
  return { firstSaleAt, soldOutAt, endAt, sellingSeconds, rate };
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/** The self-contained report: inline CSS and SVG, nothing loaded from anywhere. */
export function renderReport(s: Summary): string {
  const xMax = Math.ceil(s.seconds);
  const marks: Mark[] = s.phases.slice(1).map((p) => ({ at: p.startSeconds, label: words(p.name) }));
  if (s.sale.timeToSellOutSeconds !== null)
    marks.push({ at: s.sale.timeToSellOutSeconds, label: 'sold out' });
  const ep = Object.entries(s.endpointTimeline);
  const per = s.sale.perSecond;
  const tl = s.sale.timeline;
  const f = saleFigures(s);
  const lastLine = tl[tl.length - 1]?.line ?? 0;
  const lineNote =
    s.sale.soldOut && lastLine > 0
      ? `The line ends at ${lastLine} after the sell-out at ${s.sale.timeToSellOutSeconds} s: these members were still waiting when the last seat sold. Nobody is let in after a sell-out; each reads “sold out” at its next status poll and leaves (see “left when it sold out” under Members).`
      : '';
  const throughput = byScale(
    ep.map(([name, pts]) => ({
      name: words(name),
      points: pts.map((p) => [p.t, p.count] as [number, number]),
    })),
  );
  const reasons = [...new Set(per.flatMap((p) => Object.keys(p.refusedBy ?? {})))].sort();
  const charts = [
    ...throughput.map((group, i) =>
      chart(
        throughput.length > 1
          ? `Requests per second: ${i === 0 ? 'the busiest' : 'the others'} (${group.map((g) => g.name).join(', ')})`
          : 'Requests per second, by kind of request',
        'requests / s',
        group,
        xMax,
        marks,
      ),
    ),
    chart(
      'Response time, slowest 5 % (p95 per second, as the members saw it)',
      'ms',
      ep.map(([name, pts]) => ({
        name: words(name),
        points: pts.filter((p) => p.count).map((p) => [p.t, p.p95] as [number, number]),
      })),
      xMax,
      marks,
    ),
    chart(
      'Response time, median (p50 per second, as the members saw it)',
      'ms',
      ep.map(([name, pts]) => ({
        name: words(name),
        points: pts.filter((p) => p.count).map((p) => [p.t, p.p50] as [number, number]),
      })),
      xMax,
      marks,
    ),
    chart(
      'Members waiting in line',
      'members',
      [{ name: 'in line', points: tl.map((p) => [p.t, p.line]) }],
      xMax,
      marks,
      lineNote,
    ),
    chart(
      'Members picking seats (let in, not yet done)',
      'members',
      [{ name: 'picking seats', points: tl.map((p) => [p.t, p.admitted]) }],
      xMax,
      marks,
    ),
    chart(
      'Members let in per second',
      'members / s',
      [{ name: 'let in', points: per.map((p) => [p.t, p.admissions]) }],
      xMax,
      marks,
    ),
    chart(
      'Holds and payments per second',
      'per second',
      [
        { name: 'holds granted, seats named', points: per.map((p) => [p.t, p.holds - (p.holdsBest ?? 0)]) },
        { name: 'holds granted, best available', points: per.map((p) => [p.t, p.holdsBest ?? 0]) },
        { name: 'holds refused', points: per.map((p) => [p.t, p.rejections]) },
        { name: 'payments', points: per.map((p) => [p.t, p.confirms]) },
        { name: 'holds released', points: per.map((p) => [p.t, p.releases]) },
        { name: 'holds expired', points: per.map((p) => [p.t, p.expiries]) },
      ],
      xMax,
      marks,
    ),
    chart(
      'Hold requests refused per second, by reason',
      'per second',
      reasons.map((r) => ({ name: reasonWords(r), points: per.map((p) => [p.t, p.refusedBy?.[r] ?? 0]) })),
      xMax,
      marks,
    ),
    chart(
      'Seats',
      'seats',
      [
        { name: 'sold', points: tl.map((p) => [p.t, p.sold]), color: '#2ca02c' },
        { name: 'held', points: tl.map((p) => [p.t, p.held]), color: '#ff7f0e' },
        { name: 'available', points: tl.map((p) => [p.t, p.available]), color: '#1f77b4' },
      ],
      xMax,
      marks,
    ),
    chart(
      'Seat requests waiting in the queue',
      'requests',
      [{ name: 'waiting', points: tl.map((p) => [p.t, p.queueDepth]) }],
      xMax,
      marks,
    ),
    chart(
      'How long the oldest waiting request has waited',
      'ms',
      [{ name: 'oldest wait', points: tl.map((p) => [p.t, p.queueLagMs]) }],
      xMax,
      marks,
    ),
  ];
  const td = (v: unknown) => `<td>${esc(String(v))}</td>`;
  const endpoints = Object.entries(s.endpoints)
    .map(
      ([n, e]) =>
        `<tr><th>${esc(words(n))}</th>${[e.count, e.ratePerSecond, e.p50, e.p95, e.p99, e.max.toFixed(0), e.errors].map(td).join('')}<td>${esc(
          Object.entries(e.statuses)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', '),
        )}</td></tr>`,
    )
    .join('');
  const invariants = s.invariants
    .map(
      (i) =>
        `<tr class="${i.ok ? 'ok' : 'bad'}"><td>${i.ok ? '✔ held' : '✘ BROKEN'}</td><th>${esc(i.name)}</th><td>${esc(i.detail)}</td></tr>`,
    )
    .join('');
  const phases = s.phases
    .map(
      (p) =>
        `<tr><th>${esc(words(p.name))}</th>${[`${p.startSeconds}–${p.endSeconds} s`, p.requests, p.errors].map(td).join('')}</tr>`,
    )
    .join('');
  const settings = [
    ...Object.entries(s.options),
    ...Object.entries(s.service).map(([k, v]) => [`service ${k}`, v] as const),
  ]
    .filter(([k]) => k !== 'command')
    .map(
      ([k, v]) =>
        `<tr><th>${esc(k.startsWith('service ') ? `service: ${words(k.slice(8))}` : words(k))}</th>${td(typeof v === 'object' ? JSON.stringify(v) : v)}</tr>`,
    )
    .join('');
  const holdReasons = s.holds
    ? [...new Set(Object.values(s.holds).flatMap((h) => Object.keys(h.rejected)))].sort()
    : [];
  const holdKinds = s.holds
    ? (['seats', 'best'] as const)
        .map((kind) => {
          const h = s.holds![kind];
          const refused = Object.values(h.rejected).reduce((a, b) => a + b, 0);
          return `<tr data-kind="${kind}"><th>${kind === 'seats' ? 'seats named' : 'best available'}</th>${[
            h.succeeded + refused + h.unanswered,
            h.succeeded,
            refused,
            ...holdReasons.map((r) => h.rejected[r] ?? 0),
            h.unanswered,
          ]
            .map(td)
            .join('')}</tr>`;
        })
        .join('')
    : '';
  const b = s.best;
  const bestRows: [string, number, string][] = b
    ? [
        [
          'refused while seats of their zone and grade could serve them',
          b.refusedWhileAvailable,
          'must be 0: as many free seats fitting the request as it asked for (side by side in one row when together)',
        ],
        ['refused with the wrong reason', b.wrongReason, 'must be 0'],
        ['granted seats the picking, re-run at their turn, does not give', b.picksDiffer, 'must be 0'],
        [
          'refused rightly, not enough side by side',
          b.refusedWithSeatsLeft.notTogether,
          'some seat of their zone and grade was free, fewer than asked side by side',
        ],
        [
          'refused rightly, fewer free than asked',
          b.refusedWithSeatsLeft.fewerThanAsked,
          'some seat of their zone and grade was free',
        ],
        [
          'refused rightly, over the member’s limit',
          b.refusedWithSeatsLeft.overLimit,
          'the seats were there',
        ],
        [
          'grants that left an avoidable single empty seat',
          b.gapsLeft.avoidable,
          'must be 0: another run of the same row left none',
        ],
        [
          'grants that left a single empty seat every run of their row left',
          b.gapsLeft.forced,
          'allowed by the rule (“the same quality” is the same row)',
        ],
        [
          'single empty seats between taken ones after the sale',
          b.loneAtEnd.total,
          `${b.loneAtEnd.byBest} made by best available (target 0), ${b.loneAtEnd.byBestAvoidable} of them avoidable`,
        ],
      ]
    : [];
  const m = s.members;
  const tile = (label: string, value: string, how: string, data: Record<string, number | null> = {}) =>
    `<div class="kpi" data-tile="${esc(label)}"${Object.entries(data)
      .map(([k, v]) => ` data-${k}="${v ?? ''}"`)
      .join('')}>${esc(label)}<b>${esc(value)}</b><small>${esc(how)}</small></div>`;
  const tiles = [
    tile(
      'seats sold',
      `${s.sale.sold} of ${s.performance.seats}`,
      `${s.sale.held} held and ${s.sale.available} available at the end`,
      {
        sold: s.sale.sold,
        seats: s.performance.seats,
      },
    ),
    tile(
      s.sale.soldOut ? 'time to sell out' : 'selling time (not sold out)',
      f.sellingSeconds === null ? '—' : `${round1(f.sellingSeconds)} s`,
      f.firstSaleAt === null
        ? 'no seat was sold'
        : `from the first seat sold (${f.firstSaleAt} s) to ${s.sale.soldOut ? 'the last' : 'the end of the run'} (${f.endAt} s); setting up is not counted`,
      { from: f.firstSaleAt, to: f.endAt, seconds: f.sellingSeconds },
    ),
    tile(
      'seats sold per second',
      f.rate === null ? '—' : String(round1(f.rate)),
      f.rate === null
        ? ''
        : `${s.sale.sold} seats ÷ ${round1(f.sellingSeconds!)} s; the busiest second sold ${s.sale.peakSeatsSoldPerSecond}`,
      { rate: f.rate === null ? null : round1(f.rate) },
    ),
    tile(
      'members',
      String(m['total'] ?? 0),
      `${m['joined'] ?? 0} joined the line, ${m['admitted'] ?? 0} were let in, ${m['bought'] ?? 0} bought`,
    ),
    tile('longest line', String(s.sale.maxLine), 'members waiting at once, sampled every second'),
    tile(
      'most requests queued',
      String(s.sale.maxQueueDepth),
      `seat requests waiting at once; the oldest waited up to ${Math.round(s.sale.maxQueueLagMs)} ms`,
    ),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>On-sale simulation ${esc(s.startedAt)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:940px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
code{background:#f3f3f3;padding:1px 4px;border-radius:3px}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600;margin:12px 0}
.verdict.ok{background:#e6f4ea;color:#1e6b34}.verdict.bad{background:#fde7e7;color:#9b1c1c}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border-bottom:1px solid #e4e4e4;padding:4px 6px;text-align:left;vertical-align:top}
tr.ok td:first-child{color:#1e6b34;white-space:nowrap}tr.bad td:first-child{color:#b91c1c;font-weight:700;white-space:nowrap}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px}.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 12px}
.kpi b{display:block;font-size:20px}.kpi small{display:block;color:#666}
figure{margin:14px 0}svg{max-width:100%;height:auto}
svg .title{font-weight:600;font-size:14px}svg .tick{font-size:11px;fill:#555}svg .grid{stroke:#eee}
svg .axis{stroke:#999}svg .mark{stroke:#bbb;stroke-dasharray:3 3}svg .marktext{font-size:10px;fill:#777}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:#444;margin-left:64px}.key i{display:inline-block;width:12px;height:4px;margin-right:5px;vertical-align:middle}
.note{font-size:13px;color:#444;margin:4px 0 0 64px}
</style></head><body>
<h1>On-sale simulation</h1>
<div><code>${esc(s.command)}</code> · started ${esc(s.startedAt)} · ran ${s.seconds} s</div>
<div class="verdict ${s.ok ? 'ok' : 'bad'}">${s.ok ? 'Every invariant held.' : 'An invariant broke: see below.'}</div>
<div class="kpis">${tiles.join('\n')}</div>
<h2>Invariants</h2><table>${invariants}</table>
<h2>The sale over time</h2>
<p>Dashed vertical lines mark the phases of the run and the sell-out; a line stops where no sample was taken.</p>
${charts.join('\n')}
${
  s.holds
    ? `<h2>Hold requests by kind</h2>
<p>As the members saw the final answers: seats named on the map, or best available (the worker picks at the request’s turn). Refusals by reason.</p>
<table><tr><th>kind</th><th>asked</th><th>granted</th><th>refused</th>${holdReasons.map((r) => `<th>${esc(reasonWords(r))}</th>`).join('')}<th>not seen final</th></tr>${holdKinds}</table>`
    : ''
}${
    b && b.requests
      ? `<h2>Best available, replayed</h2>
<p>The sale replayed in queue order from MySQL; at each of the ${b.requests} best-available requests’ turn (${b.granted} granted, ${b.rejected} refused) the seats free then are counted and the picking is run again.</p>
<table>${bestRows.map(([name, n, how]) => `<tr data-best="${esc(name)}"><th>${esc(name)}</th>${td(n)}<td>${esc(how)}</td></tr>`).join('')}</table>`
      : ''
  }
<h2>Requests</h2>
<table><tr><th>request</th><th>count</th><th>per s</th><th>median ms</th><th>p95 ms</th><th>p99 ms</th><th>slowest ms</th><th>errors</th><th>answers (HTTP status: count)</th></tr>${endpoints}</table>
<h2>Phases</h2>
<table><tr><th>phase</th><th>time</th><th>requests</th><th>errors</th></tr>${phases}</table>
<h2>Members</h2>
<table>${Object.entries(m)
    .map(([k, v]) => `<tr><th>${esc(words(k))}</th>${td(v)}</tr>`)
    .join('')}</table>
<h2>Settings of this run</h2>
<table>${settings}</table>
<p>Performance #${s.performance.id}: ${s.performance.seats} seats in ${s.performance.zones} zones; ${s.performance.hotSeats} front seats that many members went for; ${s.performance.contendedSeats} seats asked for by two requests or more.</p>
</body></html>
`;
}
