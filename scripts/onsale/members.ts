import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpClient } from '../lib/http-client.js';
import { LINE_WAIT_MAX_SECONDS } from '../../shared/waiting-room/pace.js';
import type { Recorder } from './recorder.js';
import type { Answers } from './checks.js';

/** What the sale looks like to the members' script: shared flags and the seat map's zones. */
export type Sale = {
  performanceId: number;
  zones: { id: number; name: string }[];
  /** Seat ids every hot member wants (the front rows of the first zone). */
  hotSeats: Set<number>;
  hotShare: number;
  /** Share of members who ask for best available instead of naming seats. */
  bestShare: number;
  /** Fixed cadence of status polls; 0: the server's pace (nextPollSeconds, long-polls at 0). */
  pollMs: number;
  deadline: number;
  /** How long an admitted member waits for a held seat to come back. */
  patienceMs: number;
  /** Set by the monitor: no seat is available now / every seat is sold. */
  noneAvailable: boolean;
  soldOut: boolean;
};

export type Counters = {
  arrived: number;
  joined: number;
  inLine: number;
  admitted: number;
  holding: number;
  bought: number;
  seatsBought: number;
  declined: number;
  released: number;
  letExpire: number;
  gaveUp: number;
  leftSoldOut: number;
  timedOut: number;
  lostPlace: number;
  admissions: number[];
  /** Final answers to hold requests, by kind (seats named, best available). */
  holdOutcomes: Record<HoldKind, HoldOutcomes>;
};

export type HoldKind = 'seats' | 'best';
/** A kind of hold request's answers: granted, rejected by reason, never seen final. */
export type HoldOutcomes = { succeeded: number; rejected: Record<string, number>; unanswered: number };

type Reply = { status: number; body: Record<string, unknown> };
type Seat = { id: number; zone: string; status: string };

const FINAL = new Set(['succeeded', 'rejected']);
/** Statuses each endpoint may answer without it being an error. */
const EXPECTED: Record<string, number[]> = {
  join: [200],
  status: [200],
  wait: [200],
  leave: [204],
  seats: [200],
  hold: [200, 202],
  request: [200],
  confirm: [200, 202, 402],
  release: [200, 202],
};

/**
 * One simulated member: arrives, joins the line, follows its position, gets admitted, reads its
 * zone of the seat map, races for seats (hot members for the same front-row seats), then confirms
 * (the gateway declines a share), releases, or walks away and lets the hold expire. Every loop ends
 * at the sale's deadline.
 */
export class Members {
  readonly counters: Counters = {
    arrived: 0,
    joined: 0,
    inLine: 0,
    admitted: 0,
    holding: 0,
    bought: 0,
    seatsBought: 0,
    declined: 0,
    released: 0,
    letExpire: 0,
    gaveUp: 0,
    leftSoldOut: 0,
    timedOut: 0,
    lostPlace: 0,
    admissions: [],
    holdOutcomes: {
      seats: { succeeded: 0, rejected: {}, unanswered: 0 },
      best: { succeeded: 0, rejected: {}, unanswered: 0 },
    },
  };
  /** Member indexes in the order their join was answered (the arrival order the room saw). */
  readonly arrivals: number[] = [];
  readonly answers: Answers = { finals: new Map(), unresolved: 0, tickets: [], positionRises: 0 };

  constructor(
    private readonly http: HttpClient,
    private readonly rec: Recorder,
    private readonly sale: Sale,
    /** The long-polls' own connections. */
    private readonly longPolls: HttpClient = http,
  ) {}

  private async call(
    endpoint: string,
    base: string,
    method: string,
    path: string,
    token: string,
    opts: { body?: unknown; headers?: Record<string, string> } = {},
    http: HttpClient = this.http,
  ): Promise<Reply> {
    const t = performance.now();
    let status = 0;
    let text = '';
    try {
      ({ status, body: text } = await http.send(method, `${base}${path}`, { token, ...opts }));
    } catch {
      status = 0;
    }
    const ms = performance.now() - t;
    this.rec.record(endpoint, t, ms, status, !(EXPECTED[endpoint] ?? [200]).includes(status));
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    return { status, body };
  }

  private over(): boolean {
    return Date.now() >= this.sale.deadline;
  }

  /** A request's final answer: from the POST itself (Prefer: wait) or by long-polling, bounded. */
  private async final(base: string, token: string, r: Reply): Promise<Record<string, unknown> | undefined> {
    if (r.status === 200 && FINAL.has(String(r.body['status']))) return this.remember(r.body, 'prefer');
    if (r.status !== 202) return undefined;
    const id = Number(r.body['requestId']);
    for (let i = 0; i < 12 && !this.over(); i++) {
      const s = await this.call('request', base, 'GET', `/api/requests/${id}?waitSeconds=10`, token);
      if (s.status === 200 && FINAL.has(String(s.body['status']))) return this.remember(s.body, 'long-poll');
      if (s.status !== 200) await sleep(500);
    }
    this.answers.unresolved++;
    return undefined;
  }

  private remember(body: Record<string, unknown>, via: string): Record<string, unknown> {
    this.answers.finals.set(Number(body['requestId']), {
      via,
      status: String(body['status']),
      ...(body['reason'] ? { reason: String(body['reason']) } : {}),
    });
    return body;
  }

  async run(i: number, base: string, token: string, arriveAt: number): Promise<void> {
    const c = this.counters;
    const wait = arriveAt - Date.now();
    if (wait > 0) await sleep(wait);
    c.arrived++;
    if (this.sale.soldOut || this.over()) return void c.leftSoldOut++;
    const room = `/api/performances/${this.sale.performanceId}/waiting`;
    let st: Reply | undefined;
    for (let attempt = 0; attempt < 5 && !this.over(); attempt++) {
      st = await this.call('join', base, 'POST', room, token);
      if (st.status === 200) break;
      await sleep(1000);
    }
    if (st?.status !== 200) return void c.timedOut++;
    c.joined++;
    this.arrivals.push(i);
    // In a shuffle-at-open pre-queue the ticket comes with the draw (0 until then).
    let ticketKnown = Number(st.body['ticket']) > 0;
    if (ticketKnown) this.answers.tickets.push(Number(st.body['ticket']));
    let last = Infinity;
    let inLine = false;
    // Follow the position until admitted; leave when the sale is sold out or over.
    for (;;) {
      const status = String(st.body['status']);
      if (!ticketKnown && Number(st.body['ticket']) > 0) {
        ticketKnown = true;
        this.answers.tickets.push(Number(st.body['ticket']));
      }
      if (status === 'admitted') break;
      if (status === 'sold-out' || this.sale.soldOut || this.over()) {
        if (inLine) c.inLine--;
        if (status !== 'sold-out') await this.call('leave', base, 'DELETE', room, token);
        return void (this.over() ? c.timedOut++ : c.leftSoldOut++);
      }
      if (!inLine) c.inLine++;
      inLine = true;
      const position = Number(st.body['position']);
      if (position > last) this.answers.positionRises++;
      last = position;
      let next: Reply;
      const pace = Number(st.body['nextPollSeconds']);
      if (!this.sale.pollMs && pace === 0) {
        // At the front: a long-poll, answered the moment the member is admitted.
        next = await this.call(
          'wait',
          base,
          'GET',
          `${room}?waitSeconds=${LINE_WAIT_MAX_SECONDS}`,
          token,
          {},
          this.longPolls,
        );
      } else {
        const ms = this.sale.pollMs ? this.sale.pollMs * (0.8 + Math.random() * 0.4) : pace * 1000;
        await sleep(Math.max(0, Math.min(ms, this.sale.deadline - Date.now())));
        next = await this.call('status', base, 'GET', room, token);
      }
      if (next.status === 200) st = next;
      else if (next.status === 404) {
        // Out of the room: admitted, then idle past ADMISSION_IDLE_SECONDS before it heard of it.
        c.inLine--;
        return void c.lostPlace++;
      } else await sleep(1000); // refused (429, 503) or unreachable: again in a second
    }
    if (inLine) c.inLine--;
    c.admitted++;
    c.admissions.push(Date.now());
    const kept = await this.shop(i, base, token);
    if (!kept) await this.call('leave', base, 'DELETE', room, token);
  }

  private countOutcome(kind: HoldKind, f: Record<string, unknown> | undefined): void {
    const o = this.counters.holdOutcomes[kind];
    if (!f) o.unanswered++;
    else if (f['status'] === 'succeeded') o.succeeded++;
    else {
      const reason = String(f['reason'] ?? 'unknown');
      o.rejected[reason] = (o.rejected[reason] ?? 0) + 1;
    }
  }

  /**
   * Best available, up to three tries: N seats together in a random zone (or any), then fewer or
   * apart when there are none together, without reading the seat map.
   */
  private async askBest(
    i: number,
    base: string,
    token: string,
  ): Promise<{ id: number; seatIds: number[] } | undefined> {
    const sale = this.sale;
    let count = [1, 2, 2, 2, 3, 4][Math.floor(Math.random() * 6)]!;
    let together = count > 1;
    let zone: { id: number } | undefined =
      Math.random() < 0.5 ? sale.zones[Math.floor(Math.random() * sale.zones.length)] : undefined;
    const patientUntil = Date.now() + sale.patienceMs;
    for (let attempt = 0; attempt < 3 && !this.over() && !sale.soldOut;) {
      if (sale.noneAvailable) {
        if (Date.now() > patientUntil) return undefined;
        await sleep(1000);
        continue;
      }
      const best = { count, ...(zone ? { zoneId: zone.id } : {}), ...(together ? { together: true } : {}) };
      const r = await this.call(
        'hold',
        base,
        'POST',
        `/api/performances/${sale.performanceId}/holds`,
        token,
        { body: { best }, headers: { prefer: 'wait=10', 'idempotency-key': `sim-best-${i}-${attempt}` } },
      );
      attempt++;
      const f = await this.final(base, token, r);
      this.countOutcome('best', f);
      if (f?.['status'] === 'succeeded') {
        const h = f['hold'] as { id: number; seatIds: number[] };
        return { id: h.id, seatIds: h.seatIds };
      }
      const reason = f?.['reason'];
      if (reason === 'no-seats-together') together = false;
      else if (reason === 'seat-unavailable') {
        // Not that many left where asked: anywhere, and fewer.
        zone = undefined;
        count = Math.max(1, count - 1);
      } else if (f) return undefined;
    }
    return undefined;
  }

  /** Reads the map and races for seats, up to three tries. True if the member bought (and left by buying). */
  private async shop(i: number, base: string, token: string): Promise<boolean> {
    const c = this.counters;
    const sale = this.sale;
    const best = Math.random() < sale.bestShare;
    const hot = !best && Math.random() < sale.hotShare;
    let hold: { id: number; seatIds: number[] } | undefined = best
      ? await this.askBest(i, base, token)
      : undefined;
    // While every unsold seat is held, wait (bounded) for one to come back. The map read stays on
    // screen (a real client keeps it live from the event stream): a seat lost in a race is marked
    // taken and another chosen from it; the map is read again only when it shows nothing free.
    // At most 6 reads and 3 hold attempts.
    const patientUntil = Date.now() + sale.patienceMs;
    let tries = 0;
    let reads = 0;
    let items: Seat[] = [];
    let zone = hot ? sale.zones[0]! : sale.zones[Math.floor(Math.random() * sale.zones.length)]!;
    while (!best && reads < 6 && tries < 3 && !hold && !this.over() && !sale.soldOut) {
      if (sale.noneAvailable) {
        if (Date.now() > patientUntil) break;
        await sleep(1000);
        continue;
      }
      let free = items.filter((s) => s.zone === zone.name && s.status === 'available');
      if (!free.length) {
        if (reads) zone = sale.zones[Math.floor(Math.random() * sale.zones.length)]!;
        reads++;
        const map = await this.call(
          'seats',
          base,
          'GET',
          `/api/performances/${sale.performanceId}/seats?zone=${zone.id}`,
          token,
        );
        if (map.status !== 200) continue;
        // A build without the zone filter answers the whole map: keep the zone's seats, or choose
        // another zone from it without reading it again.
        items = (map.body['items'] ?? []) as Seat[];
        free = items.filter((s) => s.zone === zone.name && s.status === 'available');
        if (!free.length) {
          const other =
            items.find((s) => s.status === 'available' && Math.random() < 0.05) ??
            items.find((s) => s.status === 'available');
          const z = sale.zones.find((x) => x.name === other?.zone);
          if (z) zone = z;
          free = other ? items.filter((s) => s.zone === other.zone && s.status === 'available') : [];
        }
        if (!free.length) continue;
      }
      const attempt = tries++;
      let want: number[];
      if (hot && attempt === 0) {
        const hotFree = free.filter((s) => sale.hotSeats.has(s.id));
        const from = hotFree.length ? hotFree : free;
        want = shuffle(from)
          .slice(0, 1 + Math.floor(Math.random() * 2))
          .map((s) => s.id);
      } else {
        const n = [1, 2, 2, 2, 3, 4][Math.floor(Math.random() * 6)]!;
        const start = Math.floor(Math.random() * free.length);
        want = free.slice(start, start + n).map((s) => s.id);
      }
      const r = await this.call(
        'hold',
        base,
        'POST',
        `/api/performances/${sale.performanceId}/holds`,
        token,
        {
          body: { seatIds: want },
          headers: { prefer: 'wait=10', 'idempotency-key': `sim-${i}-${attempt}` },
        },
      );
      const f = await this.final(base, token, r);
      this.countOutcome('seats', f);
      if (f?.['status'] === 'succeeded') {
        const h = f['hold'] as { id: number };
        hold = { id: h.id, seatIds: want };
      } else if (f && f['reason'] !== 'seat-unavailable') break;
      // Lost the race (or no answer): those seats are someone else's now.
      for (const s of items) if (want.includes(s.id)) s.status = 'held';
    }
    if (!hold) {
      c.gaveUp++;
      return false;
    }
    c.holding++;
    const fate = Math.random();
    // The payment form, or a change of mind.
    await sleep(300 + Math.random() * 1200);
    try {
      if (fate < 0.7) {
        for (let tries = 0; tries < 2 && !this.over(); tries++) {
          const r = await this.call('confirm', base, 'POST', `/api/holds/${hold.id}/confirm`, token, {
            body: { payment: { method: 'card', token: `tok_sim_${i}_${tries}` } },
            headers: { prefer: 'wait=10', 'idempotency-key': `sim-confirm-${i}-${tries}` },
          });
          if (r.status === 402) {
            c.declined++;
            continue;
          }
          const f = await this.final(base, token, r);
          if (f?.['status'] === 'succeeded') {
            c.bought++;
            c.seatsBought += hold.seatIds.length;
            return true;
          }
          break;
        }
        c.letExpire++;
        return false;
      }
      if (fate < 0.8) {
        const r = await this.call('release', base, 'DELETE', `/api/holds/${hold.id}`, token, {
          headers: { prefer: 'wait=10' },
        });
        if ((await this.final(base, token, r))?.['status'] === 'succeeded') c.released++;
        return false;
      }
      c.letExpire++;
      return false;
    } finally {
      c.holding--;
    }
  }
}

function shuffle<T>(a: T[]): T[] {
  const out = [...a];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
