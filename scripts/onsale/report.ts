import type { EndpointStats, SecondStats } from './recorder.js';
import type { Invariant, SaleSecond } from './checks.js';

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

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v)!;
}

/** A line chart as inline SVG: axes with ticks, one polyline per series, a legend, phase marks. */
function chart(
  title: string,
  unit: string,
  series: Series[],
  xMax: number,
  marks: { at: number; label: string }[],
): string {
  const W = 880;
  const H = 260;
  const L = 60;
  const R = 150;
  const T = 30;
  const B = 36;
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
    `<text x="${(L + W - R) / 2}" y="${H - 4}" class="tick" text-anchor="middle">seconds since the start</text>`,
  );
  parts.push(
    `<text x="12" y="${T + (H - T - B) / 2}" class="tick" transform="rotate(-90 12 ${T + (H - T - B) / 2})" text-anchor="middle">${esc(unit)}</text>`,
  );
  for (const m of marks)
    parts.push(
      `<line x1="${x(m.at)}" x2="${x(m.at)}" y1="${T}" y2="${H - B}" class="mark"/><text x="${x(m.at) + 3}" y="${T + 10}" class="marktext">${esc(m.label)}</text>`,
    );
  parts.push(
    `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="axis"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" class="axis"/>`,
  );
  series.forEach((s, i) => {
    const color = s.color ?? COLORS[i % COLORS.length]!;
    const pts = s.points.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${pts}"/>`,
    );
    parts.push(
      `<rect x="${W - R + 12}" y="${T + i * 18}" width="12" height="4" fill="${color}"/><text x="${W - R + 30}" y="${T + i * 18 + 6}" class="tick">${esc(s.name)}</text>`,
    );
  });
  return `<figure><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg></figure>`;
}

/** The self-contained report: inline CSS and SVG, nothing loaded from anywhere. */
export function renderReport(s: Summary): string {
  const xMax = Math.ceil(s.seconds);
  const marks = s.phases.slice(1).map((p) => ({ at: p.startSeconds, label: p.name }));
  if (s.sale.timeToSellOutSeconds !== null)
    marks.push({ at: s.sale.timeToSellOutSeconds, label: 'sold out' });
  const ep = Object.entries(s.endpointTimeline);
  const per = s.sale.perSecond;
  const tl = s.sale.timeline;
  const charts = [
    chart(
      'Throughput per endpoint',
      'requests / s',
      ep.map(([name, pts]) => ({ name, points: pts.map((p) => [p.t, p.count] as [number, number]) })),
      xMax,
      marks,
    ),
    chart(
      'Latency per endpoint (p95 per second, client side)',
      'ms',
      ep.map(([name, pts]) => ({
        name,
        points: pts.filter((p) => p.count).map((p) => [p.t, p.p95] as [number, number]),
      })),
      xMax,
      marks,
    ),
    chart(
      'Latency per endpoint (p50 per second, client side)',
      'ms',
      ep.map(([name, pts]) => ({
        name,
        points: pts.filter((p) => p.count).map((p) => [p.t, p.p50] as [number, number]),
      })),
      xMax,
      marks,
    ),
    chart(
      'Waiting line',
      'members',
      [{ name: 'in line', points: tl.map((p) => [p.t, p.line]) }],
      xMax,
      marks,
    ),
    chart(
      'Admissions',
      'members',
      [
        { name: 'admitted now', points: tl.map((p) => [p.t, p.admitted]) },
        { name: 'admissions / s', points: per.map((p) => [p.t, p.admissions]), dashed: true },
      ],
      xMax,
      marks,
    ),
    chart(
      'Holds, confirms, releases and expiries',
      'per second',
      [
        { name: 'holds granted', points: per.map((p) => [p.t, p.holds]) },
        { name: 'holds rejected', points: per.map((p) => [p.t, p.rejections]) },
        { name: 'confirms', points: per.map((p) => [p.t, p.confirms]) },
        { name: 'releases', points: per.map((p) => [p.t, p.releases]) },
        { name: 'expiries', points: per.map((p) => [p.t, p.expiries]) },
      ],
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
      'Hold queue depth and lag',
      'jobs / ms',
      [
        { name: 'depth (jobs)', points: tl.map((p) => [p.t, p.queueDepth]) },
        { name: 'oldest job (ms)', points: tl.map((p) => [p.t, p.queueLagMs]), dashed: true },
      ],
      xMax,
      marks,
    ),
  ];
  const td = (v: unknown) => `<td>${esc(String(v))}</td>`;
  const endpoints = Object.entries(s.endpoints)
    .map(
      ([n, e]) =>
        `<tr><th>${esc(n)}</th>${[e.count, e.ratePerSecond, e.p50, e.p95, e.p99, e.max.toFixed(0), e.errors].map(td).join('')}<td>${esc(
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
        `<tr><th>${esc(p.name)}</th>${[`${p.startSeconds}–${p.endSeconds} s`, p.requests, p.errors].map(td).join('')}</tr>`,
    )
    .join('');
  const m = s.members;
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
.kpis{display:flex;flex-wrap:wrap;gap:10px}.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}
.kpi b{display:block;font-size:20px}
figure{margin:10px 0}svg{max-width:100%;height:auto}
svg .title{font-weight:600;font-size:14px}svg .tick{font-size:11px;fill:#555}svg .grid{stroke:#eee}
svg .axis{stroke:#999}svg .mark{stroke:#bbb;stroke-dasharray:3 3}svg .marktext{font-size:10px;fill:#888}
</style></head><body>
<h1>On-sale simulation</h1>
<div><code>${esc(s.command)}</code> · started ${esc(s.startedAt)} · ${s.seconds} s</div>
<div class="verdict ${s.ok ? 'ok' : 'bad'}">${s.ok ? 'Every invariant held.' : 'An invariant broke: see below.'}</div>
<div class="kpis">
<div class="kpi">members<b>${m['total']}</b></div>
<div class="kpi">seats<b>${s.performance.seats}</b></div>
<div class="kpi">sold<b>${s.sale.sold}</b></div>
<div class="kpi">time to sell out<b>${s.sale.timeToSellOutSeconds === null ? '—' : `${s.sale.timeToSellOutSeconds} s`}</b></div>
<div class="kpi">seats sold / s<b>${s.sale.seatsSoldPerSecond}</b></div>
<div class="kpi">longest line<b>${s.sale.maxLine}</b></div>
<div class="kpi">queue depth max<b>${s.sale.maxQueueDepth}</b></div>
</div>
<h2>Invariants</h2><table>${invariants}</table>
<h2>The sale over time</h2>
${charts.join('\n')}
<h2>Endpoints</h2>
<table><tr><th>endpoint</th><th>requests</th><th>per s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th><th>statuses</th></tr>${endpoints}</table>
<h2>Phases</h2>
<table><tr><th>phase</th><th>time</th><th>requests</th><th>errors</th></tr>${phases}</table>
<h2>Members</h2>
<table>${Object.entries(m)
    .map(([k, v]) => `<tr><th>${esc(k)}</th>${td(v)}</tr>`)
    .join('')}</table>
<p>Service: ${esc(JSON.stringify(s.service))}. Performance ${s.performance.id}: ${s.performance.zones} zones, ${s.performance.hotSeats} hot seats, ${s.performance.contendedSeats} seats asked for by two requests or more.</p>
</body></html>
`;
}
